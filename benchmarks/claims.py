"""What one claim of 500 objects costs the database, with 1,000 or 200,000 objects pending, on
PostgreSQL and SQLite: the shared claim (a versioned core) and the exclusive one (an unversioned
core: the claim every core took before), side by side in interleaved rounds, and the plans.

    .venv/bin/python benchmarks/claims.py --db postgres --pending 1000,200000
    .venv/bin/python benchmarks/claims.py --db sqlite --pending 1000,200000
    .venv/bin/python benchmarks/claims.py --db postgres --before main   # also main's shared claim

The backlog: one change row per object (saves), or with ``--rows-per-object 3`` what a bulk import
leaves: each object has three rows (its own, a keyword link, a region), written as three runs of the
change log (all objects' first rows, then all second rows...), so a claim finds the other two rows
of each object it takes through the object_pk index. Each round claims 500 objects (with every pending row they have) and releases
them, so the backlog stays as large; the time is the claim's wall time from the client (round
trips included), median of the rounds, and the database's CPU per claim (PostgreSQL: its backend's,
from /proc, mean over the rounds; SQLite: this process's). SOLRSYNC_BENCH_DBNAME names the
PostgreSQL database.
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

FILL = {
    "postgresql": "INSERT INTO solrsync_change (pipeline, object_pk, doc_id, op, created, attempts) "
                  "SELECT 'layers', (g %% %(n)s + 1)::text, 'd' || (g %% %(n)s + 1), 'save', now(), 0 "
                  "FROM generate_series(0, %(rows)s - 1) g ORDER BY g",
    "sqlite": "WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < %(rows)s) "
              "INSERT INTO solrsync_change (pipeline, object_pk, doc_id, op, created, attempts) "
              "SELECT 'layers', CAST(i %% %(n)s + 1 AS TEXT), 'd' || (i %% %(n)s + 1), 'save', "
              "strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'), 0 FROM g",
}
PLAN = {"postgresql": "EXPLAIN (ANALYZE, BUFFERS) ", "sqlite": "EXPLAIN QUERY PLAN "}


def db_cpu(connection):
    """CPU seconds spent so far by the database: PostgreSQL's backend serving this connection
    (/proc, same machine); SQLite runs in this process (its CPU and ours: an upper bound)."""
    if connection.vendor != "postgresql":
        return time.process_time()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:  # nanoseconds on the CPU (the scheduler's count): /proc/PID/stat counts 10 ms ticks
        return int(open("/proc/%d/schedstat" % pid).read().split()[0]) / 1e9
    except OSError:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--pending", default="1000,200000", help="objects pending, comma-separated")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--rows-per-object", type=int, default=1)
    ap.add_argument("--before", metavar="REF", help="also the shared claim as REF's store.py (main) takes it")
    args = ap.parse_args()
    from save_path import setup
    setup(args.db, tempfile.mkdtemp(prefix="solrsync-claims-"), "http://127.0.0.1:9/solr/layers", "memory://")
    from django.db import connection
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.store import DjangoChangeLog
    log, vendor = DjangoChangeLog(), connection.vendor
    logs = {"shared": (log, False), "exclusive": (log, True)}
    if args.before:
        logs["shared, " + args.before] = (changelog_of(args.before)(), False)
    print("machine: %s, %s cores, Python %s; database: %s" % (
        platform.processor() or platform.machine(), os.cpu_count(), platform.python_version(), vendor))
    for n in [int(x) for x in args.pending.split(",")]:
        Change.objects.all().delete()
        with connection.cursor() as cur:
            cur.execute(FILL[vendor] % {"n": n, "rows": args.rows_per_object * n})
            cur.execute("ANALYZE" if vendor == "postgresql" else "ANALYZE solrsync_change")
        times, cpu = {kind: [] for kind in logs}, {kind: 0.0 for kind in logs}
        for r in range(args.rounds):
            kinds = list(logs)
            for kind in kinds[r % len(kinds):] + kinds[:r % len(kinds)]:
                c0, t0 = db_cpu(connection), time.perf_counter()
                got = logs[kind][0].claim("layers", args.batch, 60, exclusive=logs[kind][1])
                times[kind].append((time.perf_counter() - t0) * 1000)
                cpu[kind] += db_cpu(connection) - c0
                assert len({c.pk for c in got}) == min(args.batch, n), (kind, len(got))
                log.release(got)
        print("\n%d objects pending (%d change rows); claims of %d objects (%d rows), %d rounds:" % (
            n, Change.objects.count(), args.batch, len(got), args.rounds))
        for kind, values in times.items():
            print("  %-13s median %7.2f ms  (min %.2f, max %.2f); the database's CPU: %.2f ms per claim" % (
                kind, statistics.median(values), min(values), max(values), cpu[kind] * 1000 / args.rounds))
        with connection.cursor() as cur:  # the plan of the shared claim's pick
            sql = DjangoChangeLog._SHARED[vendor][1].format(t="solrsync_change")
            params = {"p": "layers", "limit": args.batch, "key": 1, "now": "2000-01-01"}
            if vendor == "postgresql":
                cur.execute("BEGIN")
                cur.execute(DjangoChangeLog._SHARED[vendor][0], {"seconds": 60})
            cur.execute(PLAN[vendor] + sql, params)
            print("  plan of the shared claim's pick:\n" + "\n".join(
                "    " + " ".join(str(c) for c in row) for row in cur.fetchall()))
            if vendor == "postgresql":
                cur.execute("ROLLBACK")


def changelog_of(ref):
    """``DjangoChangeLog`` as ``ref``'s contrib/django/store.py defines it, loaded beside this one's
    (its models and triggers modules are this tree's: the tables are the same)."""
    import subprocess
    import types
    source = subprocess.run(["git", "show", "%s:contrib/django/store.py" % ref], cwd=ROOT, check=True,
                            stdout=subprocess.PIPE, text=True).stdout
    module = types.ModuleType("solrsync.contrib.django.store_" + ref.replace("/", "_"))
    module.__package__ = "solrsync.contrib.django"
    exec(compile(source, "%s:contrib/django/store.py" % ref, "exec"), module.__dict__)
    return module.DjangoChangeLog


if __name__ == "__main__":
    main()
