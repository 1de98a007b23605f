"""What the graph's triggers add to a save of a multi-table-inheritance child (GeoNode's
``Layer(ResourceBase)``: the parent's table, the child's, taggit's and the m2m tables all carry
triggers for two sibling pipelines, zoo_layers and zoo_maps).

    .venv/bin/python benchmarks/save_shapes.py [--db sqlite|postgres] [--saves 2000] [--before main]

Side by side in interleaved rounds of 50: the same ``layer.save()`` (title changed: a write to
the parent's table and the child's) inside ``transaction.atomic()``, (a) without solrsync (its
triggers dropped, hooks off), (b) with the triggers and hooks; then the same for
``ResourceBase.objects.filter(pk=...).update(title=...)`` (the parent's table only). Medians; each
round opens with 10 untimed writes (a session's first calls of a new trigger compile and plan it).
On PostgreSQL also, from pg_stat_user_functions, the trigger functions' own time and the change
log's wake-up trigger calls per write (medians of the rounds): the database's side alone.
``--before REF``: also (c) with the triggers REF's code generates (a child process importing that
revision, code_of.py, prints them), installed in their own rounds in this same process.
On PostgreSQL the database is SOLRSYNC_BENCH_DBNAME (default solrsync_bench; save_path.setup),
dropped and created afresh.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")
WARM_UP = 10  # untimed writes opening each round (see round_of)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgres"])
    parser.add_argument("--saves", type=int, default=2000)
    parser.add_argument("--before", metavar="REF", help="also the triggers REF's code generates (main)")
    parser.add_argument("--print-sql", action="store_true", help=argparse.SUPPRESS)  # the child of --before
    args = parser.parse_args()
    if args.print_sql:
        return print_sql()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-shapes-")
    os.environ["SOLRSYNC_DEMO_ZOO"] = "1"
    os.environ["SOLRSYNC_PIPELINES"] = json.dumps({"zoo_layers": {"class": "zoo.pipelines.LayerPipeline"},
                                                   "zoo_maps": {"class": "zoo.pipelines.MapPipeline"}})
    with SolrEmulator() as emu:
        setup(args.db, var, emu.core_url("layers"))
        from django.db import connection, transaction
        from solrsync.contrib.django import triggers
        from solrsync.contrib.django.runtime import get_pipelines, get_settings
        from solrsync.contrib.django.signals import hooks_disabled
        from zoo.models import Layer, Map, Region, ResourceBase
        with hooks_disabled():
            layer = Layer.objects.create(title="Bench", store="osm")
            Map.objects.create(title="Sibling")
            layer.regions.add(Region.objects.create(code="DEU", name="Germany"))
            layer.keywords.add("roads", "osm")

        def save():
            layer.title = "t%d" % time.monotonic_ns()
            t0 = time.perf_counter()
            with transaction.atomic():
                layer.save()
            return time.perf_counter() - t0

        def update():
            t0 = time.perf_counter()
            with transaction.atomic():
                ResourceBase.objects.filter(pk=layer.pk).update(title="u%d" % time.monotonic_ns())
            return time.perf_counter() - t0

        modes = ["without", "with"]
        if args.before:
            import code_of
            import subprocess
            before_sql = json.loads(subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--print-sql"], check=True, stdout=subprocess.PIPE,
                env=code_of.environ(code_of.checkout(args.before))).stdout)
            modes.insert(1, "before (%s)" % args.before)
        times = {(what, mode): [] for what in ("save", "update") for mode in modes}
        in_db = {key: [] for key in times}  # PostgreSQL: (trigger functions' time, wake-up calls) per write
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET track_functions = 'all'")

        def db_totals():
            """PostgreSQL: the trigger functions' own time (ms) and the wake-up trigger's calls so far."""
            if connection.vendor != "postgresql":
                return None
            with connection.cursor() as cur:
                cur.execute("SELECT pg_stat_force_next_flush()")  # flushed at this statement's end
                cur.execute("SELECT COALESCE(SUM(self_time), 0), COALESCE(SUM(calls) FILTER (WHERE funcname = %s), 0) "
                            "FROM pg_stat_user_functions WHERE funcname LIKE 'solrsync%%'", [triggers.NOTIFY])
                return cur.fetchone()

        def round_of(key, fn):
            # untimed first: a session compiles a plpgsql function at its first call and plans its
            # statements afresh for their first 5 runs (custom plans), then keeps a generic plan --
            # each round's triggers are created anew; timed: 50 writes as a long-lived connection does them
            for _ in range(WARM_UP):
                fn()
            before = db_totals()
            for _ in range(50):
                times[key].append(fn())
            after = db_totals()
            if before is not None and key[1] != "without":
                in_db[key].append((float(after[0] - before[0]) / 50, (after[1] - before[1]) / 50))
        for _ in range(args.saves // 50):
            for (what, mode) in times:
                fn = save if what == "save" else update
                if mode == "with":
                    round_of((what, mode), fn)
                    continue
                triggers.uninstall("default")
                try:
                    if mode == "without":
                        with hooks_disabled():
                            round_of((what, mode), fn)
                    else:
                        with transaction.atomic(), connection.cursor() as cur:
                            for sql in before_sql:
                                cur.execute(sql)
                        round_of((what, mode), fn)
                finally:
                    triggers.install(get_pipelines(), "default", get_settings().CAPTURE)
        print("machine: %s, %s cores, Python %s; database: %s; CAPTURE: %s"
              % (platform.machine(), os.cpu_count(), platform.python_version(), args.db, get_settings().CAPTURE))
        for what in ("save", "update"):
            base = statistics.median(times[(what, "without")])
            print("  %-7s (%d each): without solrsync %.3f ms" % (what, len(times[(what, "with")]), base * 1000))
            for mode in modes[1:]:
                med = statistics.median(times[(what, mode)])
                print("    %-15s %.3f ms, added %+.3f ms (%+.0f%%)%s" % (
                    mode, med * 1000, (med - base) * 1000, 100 * (med - base) / base,
                    "; in the database: trigger functions %.1f us, %.0f wake-up trigger calls" % (
                        statistics.median(ms for ms, _ in in_db[(what, mode)]) * 1000,
                        statistics.median(w for _, w in in_db[(what, mode)])) if in_db[(what, mode)] else ""))


def print_sql():
    """The child of --before: this code's trigger SQL for the database the parent set up (its
    environment names it), as a JSON list on stdout."""
    sys.path.insert(0, DEMO)
    import django
    django.setup()
    from django.db import connection
    from solrsync.contrib.django import triggers
    from solrsync.contrib.django.runtime import get_pipelines, get_settings
    plans, _ = triggers.plan(get_pipelines(), "default", get_settings().CAPTURE)
    sql = [s for tp in plans for s in tp.create_sql()]
    if connection.vendor == "postgresql":
        sql += triggers.notify_sql()
    print(json.dumps(sql))


if __name__ == "__main__":
    main()
