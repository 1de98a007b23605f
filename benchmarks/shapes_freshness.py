"""Per shape and write path (issue 19): how long from a write's commit until Solr equals what the
database builds now, field by field, with real consumers -- against commitWithin + 1 s.

    SOLRSYNC_BENCH_DBNAME=NAME .venv/bin/python benchmarks/shapes_freshness.py \
        [--db sqlite|postgres] [--queue redis://127.0.0.1:6379/N] [--rounds 3] [--consumers 1]

The test suite's model zoo (tests/zoo, SOLRSYNC_DEMO_ZOO=1: inheritance, proxies, a reverse
one-to-one path, generic relations, taggit, polymorphic, the GeoNode-shaped ResourceBase with
Layer/Map children), every zoo pipeline into a core of its own on the Solr emulator in this
process, captured by the triggers (``migrate`` installs them), drained by ``--consumers``
huey_consumer processes (-w 2, production coalescing). This process makes one write at a time, in
its own transaction; after the commit it builds every pipeline's documents from the database and
waits until each core's documents equal them (checked at each new searcher the emulator opens:
the time is that searcher's). ``--rounds`` writes per cell; the median and the worst are printed
beside the budget, COMMIT_WITHIN_MS + 1 s. A cell whose write changed no document is an error.
PostgreSQL: SOLRSYNC_BENCH_DBNAME names the database (dropped and made again); the Redis db given
is flushed first.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, machine, start_consumers, stop_consumers  # noqa: E402

sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


class Searchers:
    """Notes when each core opens a new searcher (the emulator's hook, on its own thread)."""

    def __init__(self):
        self.event, self.last = threading.Event(), None

    def __call__(self, core):
        self.last = time.monotonic()
        self.event.set()


def make_rows():
    """One small graph per shape; returns what the writes need."""
    from django.contrib.auth import get_user_model
    from taggit.models import Tag
    from zoo.models import (Article, Bar, Chapter, Comment, Layer, Map, Org, Photo, Post, Profile, Region,
                            Restaurant, TopicCategory)
    z = {}
    z["restaurant"] = Restaurant.objects.create(name="Curry 36", city="Berlin")
    z["bar"] = Bar.objects.create(name="Le Bar", city="Paris")
    z["user"] = get_user_model().objects.create(username="alice")
    z["org"] = Org.objects.create(name="Acme")
    Profile.objects.create(user=z["user"], org=z["org"])
    z["article"] = Article.objects.create(title="Roads", owner=z["user"])
    z["chapter"] = Chapter.objects.create(article=z["article"], heading="one")
    z["post"] = Post.objects.create(title="Hello")
    z["post"].tags.add("red")
    z["tag"] = Tag.objects.get(name="red")
    Comment.objects.create(content_object=z["post"], text="first")
    z["photo"] = Photo.objects.create(label="sunset", width=640)
    z["category"] = TopicCategory.objects.create(identifier="transportation")
    common = dict(owner=z["user"], category=z["category"], bbox_x0=13.08, bbox_x1=13.76, bbox_y0=52.33, bbox_y1=52.68)
    z["layer"] = Layer.objects.create(title="Roads of Berlin", store="osm", **common)
    z["layer"].regions.add(Region.objects.create(code="DEU", name="Germany"))
    z["layer"].keywords.add("roads")
    z["map"] = Map.objects.create(title="Atlas", zoom=3, **common)
    return z


def cells():
    """(shape, write path, write(z, i)): each write changes at least one document."""
    from zoo.models import Asset, Bar, Org, Place, Region, ResourceBase, Restaurant

    def save(obj, **values):
        for k, v in values.items():
            setattr(obj, k, v)
        obj.save()

    return [
        ("MTI child reading its parent (restaurants)", "save() of the child",
         lambda z, i: save(z["restaurant"], name="Curry %d" % i)),
        ("MTI child reading its parent (restaurants)", "update() on the parent",
         lambda z, i: Place.objects.filter(pk=z["restaurant"].pk).update(city="Berlin %d" % i)),
        ("MTI child reading its parent (restaurants)", "update() on the child",
         lambda z, i: Restaurant.objects.filter(pk=z["restaurant"].pk).update(name="Imbiss %d" % i)),
        ("parent reading a child (places)", "update() on the child",
         lambda z, i: Bar.objects.filter(pk=z["bar"].pk).update(happy_hour=i % 2 == 0)),
        ("reverse one-to-one path (articles)", "related rename: save()",
         lambda z, i: save(z["org"], name="Acme %d" % i)),
        ("reverse one-to-one path (articles)", "related rename: update()",
         lambda z, i: Org.objects.filter(pk=z["org"].pk).update(name="Org %d" % i)),
        ("reverse foreign key (articles)", "save() of the related row",
         lambda z, i: save(z["chapter"], heading="chapter %d" % i)),
        ("generic relation + taggit (posts)", "tag change: tags.add()",
         lambda z, i: z["post"].tags.add("tag%d" % i)),
        ("generic relation + taggit (posts)", "tag rename",
         lambda z, i: save(z["tag"], name="red %d" % i)),
        ("generic foreign key (comments)", "related rename: save()",
         lambda z, i: save(z["post"], title="Hello %d" % i)),
        ("polymorphic child (photos)", "update() on the parent",
         lambda z, i: Asset.objects.filter(pk=z["photo"].pk).update(label="sunset %d" % i)),
        ("GeoNode Layer(ResourceBase)", "save() of the child",
         lambda z, i: save(z["layer"], title="Roads %d" % i)),
        ("GeoNode Layer(ResourceBase)", "update() on the parent",
         lambda z, i: ResourceBase.objects.filter(pk=z["layer"].pk).update(abstract="abstract %d" % i)),
        ("GeoNode Layer(ResourceBase)", "m2m change: regions.add()",
         lambda z, i: z["layer"].regions.add(Region.objects.create(code="R%d" % i, name="Region %d" % i))),
        ("GeoNode Layer(ResourceBase)", "keyword change: keywords.add()",
         lambda z, i: z["layer"].keywords.add("keyword%d" % i)),
        ("GeoNode Layer + Map", "related rename: category",
         lambda z, i: save(z["category"], identifier="category%d" % i)),
        ("GeoNode Layer + Map", "related rename: owner",
         lambda z, i: save(z["user"], username="alice%d" % i)),
        ("GeoNode Map(ResourceBase)", "save() of the child",
         lambda z, i: save(z["map"], zoom=10 + i)),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--queue", default="redis://127.0.0.1:6379/3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--consumers", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for one write")
    args = ap.parse_args()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-shapes-fresh-")
    if args.queue.startswith("redis://"):
        import redis
        redis.Redis.from_url(args.queue).flushdb()
    os.environ["SOLRSYNC_DEMO_ZOO"] = "1"
    os.environ.setdefault("SOLRSYNC_QUEUE_SECRET", "bench-secret")
    searchers = Searchers()
    with SolrEmulator() as emu:
        from zoo.pipelines import PIPELINES
        cores = {name: "zoo_" + name for name in PIPELINES}
        conf = emu.cores["layers"].conf_dir
        for core in cores.values():
            emu.add_core(core, conf)
            emu.core(core).on_searcher = searchers
        os.environ["SOLRSYNC_PIPELINES"] = json.dumps({name: dict(options, core=cores[name])
                                                       for name, options in PIPELINES.items()})
        setup(args.db, var, emu.core_url("layers"), args.queue)
        import requests
        from conftest import normalized
        from django.db import connections, transaction
        from solrsync.contrib.django.runtime import get_settings, get_syncer
        http = requests.Session()

        def expected():
            out = {}
            for name in PIPELINES:
                source = get_syncer().sources[name]
                docs = (source.pipeline.document.build(row)[0] for rows in source.iter_chunks(1000) for row in rows)
                out[name] = {d["id"]: normalized(d) for d in docs}
            return out

        def in_solr():
            out = {}
            for name, core in cores.items():
                body = http.get(emu.core_url(core) + "/select", params={
                    "q": "solrsync_pipeline:%s" % name, "fl": "*", "rows": 100000, "wt": "json"}, timeout=30).json()
                out[name] = {d["id"]: normalized(d) for d in body["response"]["docs"]}
            return out

        def wait_in_step(want, since, timeout):
            """-> seconds from ``since`` to the first searcher showing ``want``, or None."""
            deadline = since + timeout
            while time.monotonic() < deadline:
                searchers.event.wait(max(0.0, deadline - time.monotonic()))
                searchers.event.clear()
                seen = searchers.last
                if in_solr() == want:
                    return seen - since if seen is not None and seen >= since else 0.0
            return None

        consumers = start_consumers(args.consumers, log_dir=var)
        results = []
        try:
            with transaction.atomic():
                z = make_rows()
            if wait_in_step(expected(), time.monotonic(), 60) is None:
                raise SystemExit("the zoo's first documents never reached Solr (consumer logs: %s)" % var)
            for shape, path, write in cells():
                times = []
                for i in range(args.rounds):
                    before = expected()
                    with transaction.atomic():
                        write(z, i)
                    committed = time.monotonic()
                    after = expected()
                    if after == before:
                        raise SystemExit("%s / %s: round %d changed no document" % (shape, path, i))
                    times.append(wait_in_step(after, committed, args.timeout))
                    if times[-1] is None:  # let it settle before the next write is timed
                        wait_in_step(after, time.monotonic(), 60)
                results.append((shape, path, times))
                print("  %-46s %-32s %s" % (shape, path, " ".join("-" if t is None else "%.2f" % t for t in times)),
                      file=sys.stderr, flush=True)
        finally:
            stop_consumers(consumers)
            connections.close_all()
        budget = get_settings().COMMIT_WITHIN_MS / 1000.0 + 1.0
        print("machine: %s; database: %s; queue: %s; %d huey_consumer -w 2; Solr: the emulator in this process, "
              "commitWithin %.1f s; %d writes per cell" % (machine(), args.db, args.queue.split(":")[0],
                                                           args.consumers, budget - 1.0, args.rounds))
        print()
        print("| shape | write path | median s | worst s | within %.1f s |" % budget)
        print("|---|---|---|---|---|")
        for shape, path, times in results:
            done = [t for t in times if t is not None]
            worst = "not in step after %.0f s" % args.timeout if len(done) < len(times) else "%.2f" % max(done)
            print("| %s | %s | %s | %s | %s |" % (
                shape, path, "%.2f" % statistics.median(done) if done else "-", worst,
                "yes" if len(done) == len(times) and max(done) <= budget else "NO"))


if __name__ == "__main__":
    main()
