"""What the graph's triggers add to a save of a multi-table-inheritance child (GeoNode's
``Layer(ResourceBase)``: the parent's table, the child's, taggit's and the m2m tables all carry
triggers for two sibling pipelines, zoo_layers and zoo_maps).

    .venv/bin/python benchmarks/save_shapes.py [--db sqlite|postgres] [--saves 2000]

Side by side in interleaved rounds of 50: the same ``layer.save()`` (title changed: a write to
the parent's table and the child's) inside ``transaction.atomic()``, (a) without solrsync (its
triggers dropped, hooks off), (b) with the triggers and hooks; then the same for
``ResourceBase.objects.filter(pk=...).update(title=...)`` (the parent's table only). Medians.
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
    args = parser.parse_args()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-shapes-")
    os.environ["SOLRSYNC_DEMO_ZOO"] = "1"
    os.environ["SOLRSYNC_PIPELINES"] = json.dumps({"zoo_layers": {"class": "zoo.pipelines.LayerPipeline"},
                                                   "zoo_maps": {"class": "zoo.pipelines.MapPipeline"}})
    with SolrEmulator() as emu:
        setup(args.db, var, emu.core_url("layers"))
        from django.db import transaction
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

        times = {(what, mode): [] for what in ("save", "update") for mode in ("without", "with")}
        for _ in range(args.saves // 50):
            for (what, mode) in times:
                fn = save if what == "save" else update
                if mode == "with":
                    for _ in range(50):
                        times[(what, mode)].append(fn())
                    continue
                triggers.uninstall("default")
                try:
                    with hooks_disabled():
                        for _ in range(50):
                            times[(what, mode)].append(fn())
                finally:
                    triggers.install(get_pipelines(), "default", get_settings().CAPTURE)
        print("machine: %s, %s cores, Python %s; database: %s; CAPTURE: %s"
              % (platform.machine(), os.cpu_count(), platform.python_version(), args.db, get_settings().CAPTURE))
        for what in ("save", "update"):
            base = statistics.median(times[(what, "without")])
            med = statistics.median(times[(what, "with")])
            print("  %-7s (%d each): without solrsync %.3f ms, with %.3f ms, added %+.3f ms (%+.0f%%)" % (
                what, len(times[(what, "with")]), base * 1000, med * 1000, (med - base) * 1000,
                100 * (med - base) / base))


if __name__ == "__main__":
    main()
