"""Consumers on 1 host vs 2 hosts (network namespaces, solrsync.testing.hosts; root only), against the
Solr emulator: the drain rate of a backlog, and a rebuild through the queue.

    .venv/bin/python benchmarks/hosts.py                                  # 3 rounds, 2 workers per host
    .venv/bin/python benchmarks/hosts.py --rounds 5 --backlog 20000 --rebuild 50000 --workers 2
    .venv/bin/python benchmarks/hosts.py --claims --backlog 20000     # what one claim costs PostgreSQL
    .venv/bin/python benchmarks/hosts.py --rebuild 0 --before main    # the drain by main's consumers too

Each round, side by side and in a rotating order: 1 host x N workers, 1 host x 2N workers (as many
workers as two hosts, in one process) and 2 hosts x N workers, each on fresh services (its own
PostgreSQL, Redis and emulator). Backlog: N layers committed in one transaction by a writer on a
third host while the consumers wait (already started and answering), timed from the commit until
the change log is empty. Rebuild: `manage.py solrsync reindex layers --via-queue` on the third host,
timed by the command's wall clock. Where the time goes: the CPU seconds each part spent during the
timed window (/proc/PID/stat: the emulator; PostgreSQL's postmaster and backends; Redis; the
consumer processes; the writer or the rebuild command), per 1,000 documents.
"""
import argparse
import os
import platform
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from solrsync.testing import hosts as hostlib  # noqa: E402

PARTS = ("solr", "postgres", "redis", "consumers", "command")


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError):
                pass
    return out


def cpu(h, consumers, command=None):
    """CPU seconds so far, by part (PostgreSQL: the postmaster, its live children and the exited ones)."""
    pg = h.servers["postgres"].pid
    out = {"solr": hostlib.cpu_seconds(h.servers["solr"].pid), "redis": hostlib.cpu_seconds(h.servers["redis"].pid),
           "postgres": hostlib.cpu_seconds(pg) + sum(hostlib.cpu_seconds(c) or 0 for c in children_of(pg)),
           "consumers": sum(hostlib.cpu_seconds(p.pid) or 0 for p in consumers),
           "command": (hostlib.cpu_seconds(command.pid) or 0) if command is not None else 0}
    return out


def start_consumers(h, layout, workers, env):
    consumers = [h.consumer(host, n, env) for host, n in layout]
    # each consumer asks Solr for its cores' schema at start-up: then it is answering
    deadline = time.monotonic() + 60
    while h.solr("_emulator/stats")["stats"]["requests"] < len(consumers):
        if time.monotonic() > deadline:
            raise RuntimeError("consumers did not start: " + " ".join(h.log(p) for p in consumers))
        time.sleep(0.1)
    time.sleep(1.0)  # and listening on the queue
    return consumers


def layouts(workers):
    return {"1 host x %d" % workers: [("a", workers)], "1 host x %d" % (2 * workers): [("a", 2 * workers)],
            "2 hosts x %d" % workers: [("a", workers), ("b", workers)]}


def backlog_round(layout, workers, count, code=None):
    with hostlib.Hosts(["a", "b", "w"]) as h:
        assert h.manage(None, "migrate", "-v0")[0] == 0
        env = h.env()
        if code is not None:  # the consumers run that revision's code (code_of.py)
            from code_of import environ
            env = environ(code, env)
        consumers = start_consumers(h, layout, workers, env)
        before = cpu(h, consumers)
        writer = h.python("w", "import time; from solrsync.testing.hosts import write_layers\n"
                               "write_layers(%d, batch=%d); print('committed', time.time(), flush=True)"
                          % (count, count), log="writer")
        seen, written = False, None
        while True:  # from the commit (the consumers wake at it) until the change log is empty
            n = h.sql("SELECT count(*) FROM solrsync_change")[0][0]
            if n and not seen:
                seen, written = True, cpu(h, consumers)
            if not n and (seen or writer.poll() is not None):
                break
            time.sleep(0.02)
        ended = time.time()
        after = cpu(h, consumers)
        if writer.wait(600):
            raise RuntimeError(h.log(writer))
        committed = float(h.log(writer).split("committed")[1].split()[0])
        took = ended - committed
        written = written or after
        pushed = h.solr("_emulator/stats")["stats"]["docs_added"]
        for p in consumers:
            h.stop(p)
        spent = {k: after[k] - written[k] for k in PARTS}
        spent["command"] = 0.0
        spent["writer (postgres)"] = written["postgres"] - before["postgres"]
        return count / took, took, spent, pushed


def rebuild_round(layout, workers, count):
    with hostlib.Hosts(["a", "b", "w"]) as h:
        assert h.manage(None, "migrate", "-v0")[0] == 0
        loader = h.python("w", "from solrsync.testing.hosts import write_layers; write_layers(%d, capture=False)"
                          % count, log="loader")
        if loader.wait(900):
            raise RuntimeError(h.log(loader))
        consumers = start_consumers(h, layout, workers, h.env())
        before = cpu(h, consumers)
        started = time.monotonic()
        command = h.spawn("w", [sys.executable, "manage.py", "solrsync", "reindex", "layers", "--via-queue",
                                "--batch-size", "1000"], env=h.env(), cwd=hostlib.DEMO, log="rebuild")
        last = before
        while command.poll() is None:
            last = cpu(h, consumers, command)  # the command's own CPU, read while it still exists
            time.sleep(0.1)
        took = time.monotonic() - started
        if command.returncode:
            raise RuntimeError(h.log(command))
        after = cpu(h, consumers)
        after["command"] = last["command"]
        out = h.log(command, 4000)
        own = out.rsplit("docs/s)", 1)[0].rsplit("(", 1)[1].strip() if "docs/s)" in out else "?"
        summary = "the command's own rate %s docs/s; %s" % (own, out.split("ranges run by:")[1].strip()
                                                             if "ranges run by:" in out else "")
        for p in consumers:
            h.stop(p)
        indexed = h.solr("_emulator/stats")["stats"]["docs_added"]
        return indexed / took, took, {k: after[k] - before[k] for k in PARTS}, summary


CLAIM_COST = """
import time
from django.db import connection
from django.test.utils import CaptureQueriesContext
from solrsync.contrib.django.store import DjangoChangeLog
log = DjangoChangeLog()
for i in range(5):
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        got = log.claim("layers", %d, 120)
    claimed = time.perf_counter()
    log.done(got)
    print("  claim of %%d rows %%.0f ms (its SELECT ... FOR UPDATE %%.0f ms), done %%.0f ms" %% (
        len(got), (claimed - started) * 1000, 1000 * sum(float(q["time"]) for q in queries.captured_queries
                                                      if "FOR UPDATE" in q["sql"]),
        (time.perf_counter() - claimed) * 1000))
sql = next(q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"])
with connection.cursor() as cur:
    cur.execute("EXPLAIN ANALYZE " + sql)
    print("\\n".join("  " + row[0] for row in cur.fetchall()))
"""


def claim_cost(count, batch):
    """What one claim costs PostgreSQL with ``count`` layers pending (claims run one at a time, under
    the pipeline's advisory lock, on every host): five claims and their deletes, and the plan."""
    with hostlib.Hosts(["w"]) as h:
        assert h.manage(None, "migrate", "-v0")[0] == 0
        writer = h.python("w", "from solrsync.testing.hosts import write_layers; write_layers(%d, batch=%d)"
                          % (count, count), log="writer")
        if writer.wait(600):
            raise RuntimeError(h.log(writer))
        print("\nclaims of %d objects with %d layers pending (%d change rows)" % (
            batch, count, h.sql("SELECT count(*) FROM solrsync_change")[0][0]))
        probe = h.python(None, CLAIM_COST % batch, log="claims")
        probe.wait(300)
        print(h.log(probe, 8000).rstrip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="workers per host (default 2)")
    parser.add_argument("--backlog", type=int, default=20000, help="layers in the backlog (0: skip)")
    parser.add_argument("--rebuild", type=int, default=50000, help="layers to rebuild (0: skip)")
    parser.add_argument("--claims", action="store_true", help="only: what one claim costs PostgreSQL with --backlog "
                                                                "layers pending, and its plan")
    parser.add_argument("--before", metavar="REF", help="also the backlog drained by consumers running REF's code "
                                                         "(main), in the same rounds")
    args = parser.parse_args()
    code = None
    if args.before:
        sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
        from code_of import checkout
        code = checkout(args.before)
    reason = hostlib.missing()
    if reason:
        print("benchmarks/hosts.py: %s" % reason, file=sys.stderr)
        return 2
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print("machine: %d cores (%s), Python %s" % (os.cpu_count(), model, platform.python_version()))
    if args.claims:
        claim_cost(args.backlog, 500)
        return 0
    kinds = [(name, fn, n) for name, fn, n in (("backlog drain", backlog_round, args.backlog),
                                                ("rebuild --via-queue", rebuild_round, args.rebuild)) if n]
    for kind, fn, count in kinds:
        runs = {name: (layout, None) for name, layout in layouts(args.workers).items()}
        if args.before and fn is backlog_round:
            runs.update(("%s, %s" % (name, args.before), (layout, code)) for name, layout in layouts(args.workers).items())
        names = list(runs)
        rates, spent = {n: [] for n in names}, {n: [] for n in names}
        print("\n%s, %d layers, %d rounds" % (kind, count, args.rounds))
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                layout, there = runs[name]
                rate, took, cpu_spent, extra = fn(layout, args.workers, count, *([there] if there else []))
                rates[name].append(rate)
                spent[name].append(cpu_spent)
                print("  round %d  %-12s %8.0f docs/s  %6.1fs  cpu s: %s  %s" % (
                    r + 1, name, rate, took, " ".join("%s %.1f" % kv for kv in cpu_spent.items()),
                    extra if isinstance(extra, str) else "pushed %d" % extra), flush=True)
        base = statistics.median(rates[names[0]])
        print("  %-12s %10s %8s   CPU ms per 1,000 docs (median): %s" % ("layout", "docs/s", "ratio",
                                                                       "  ".join(PARTS)))
        for name in names:
            med = statistics.median(rates[name])
            per_k = {p: statistics.median(s[p] for s in spent[name]) * 1000.0 / count * 1000.0 for p in PARTS}
            print("  %-12s %10.0f %8.2f   %s" % (name, med, med / base, "  ".join("%6.0f" % per_k[p] for p in PARTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
