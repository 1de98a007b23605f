"""What the graph's triggers add to a save of a multi-table-inheritance child (GeoNode's
``Layer(ResourceBase)``: the parent's table, the child's, taggit's and the m2m tables all carry
triggers for two sibling pipelines, zoo_layers and zoo_maps).

    .venv/bin/python benchmarks/save_shapes.py [--db sqlite|postgres] [--saves 2000] [--before main]

Side by side in interleaved rounds of 50: the same ``layer.save()`` (title changed: a write to
the parent's table and the child's) inside ``transaction.atomic()``, (a) without solrsync (its
triggers dropped, hooks off), (b) with the triggers and hooks; then the same for
``ResourceBase.objects.filter(pk=...).update(title=...)`` (the parent's table only). Medians.
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
        for _ in range(args.saves // 50):
            for (what, mode) in times:
                fn = save if what == "save" else update
                if mode == "with":
                    for _ in range(50):
                        times[(what, mode)].append(fn())
                    continue
                triggers.uninstall("default")
                try:
                    if mode == "without":
                        with hooks_disabled():
                            for _ in range(50):
                                times[(what, mode)].append(fn())
                    else:
                        with transaction.atomic(), connection.cursor() as cur:
                            for sql in before_sql:
                                cur.execute(sql)
                        for _ in range(50):
                            times[(what, mode)].append(fn())
                finally:
                    triggers.install(get_pipelines(), "default", get_settings().CAPTURE)
        print("machine: %s, %s cores, Python %s; database: %s; CAPTURE: %s"
              % (platform.machine(), os.cpu_count(), platform.python_version(), args.db, get_settings().CAPTURE))
        for what in ("save", "update"):
            base = statistics.median(times[(what, "without")])
            print("  %-7s (%d each): without solrsync %.3f ms" % (what, len(times[(what, "with")]), base * 1000))
            for mode in modes[1:]:
                med = statistics.median(times[(what, mode)])
                print("    %-15s %.3f ms, added %+.3f ms (%+.0f%%)" % (
                    mode, med * 1000, (med - base) * 1000, 100 * (med - base) / base))


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
