"""``python manage.py demo``: load layers, run a huey consumer, edit through the ORM, and show
what Solr answers -- on the emulator, or on the real Solr core named by SOLRSYNC_SOLR_URL."""
import os
import signal
import subprocess
import sys
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from layers.generator import generate
from layers.models import Category, Keyword, Layer, Map, Region
from solrsync.config import mask
from solrsync.contrib.django import runtime
from solrsync.contrib.django.models import Change, Failure
from solrsync.contrib.django.signals import hooks_disabled
from solrsync.reindex import reindex
from solrsync.testing import free_port


class Command(BaseCommand):
    help = "Run the solrsync demo end to end."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=1200, help="layers to generate (default 1200)")

    def say(self, text=""):
        self.stdout.write(text)
        self.stdout.flush()

    def handle(self, count, **options):
        children = []
        try:
            self.run(count, children)
        finally:
            for proc in reversed(children):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)  # huey: finish the running task, then exit
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()

    def run(self, count, children):
        # -- Solr: a real core if SOLRSYNC_SOLR_URL names one, else the emulator
        if os.environ.get("SOLRSYNC_SOLR_URL"):
            self.say("Solr: real Solr at %s (SOLRSYNC_SOLR_URL)" % mask(os.environ["SOLRSYNC_SOLR_URL"]))
        else:
            port = free_port()
            children.append(subprocess.Popen([sys.executable, "-m", "solrsync.testing.emulator", "--port", str(port)],
                                             stdout=subprocess.DEVNULL))
            os.environ["SOLRSYNC_SOLR_URL"] = "http://127.0.0.1:%d/solr/layers" % port
            self.say("Solr: the solrsync emulator at %s (set SOLRSYNC_SOLR_URL to use a real Solr core)"
                     % os.environ["SOLRSYNC_SOLR_URL"])
        runtime.reset()
        syncer = runtime.get_syncer()
        sink = syncer.sink("layers")
        deadline = time.monotonic() + 20
        while True:
            try:
                sink.ping()
                break
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise CommandError("Solr core %s does not answer: %s" % (mask(sink.url), exc))
                time.sleep(0.2)

        # -- data: fresh layers, bulk-loaded, then indexed by the same code path as `solrsync reindex`
        huey = runtime.get_huey()
        huey.flush()
        with hooks_disabled():
            Layer.objects.all().delete()
            Map.objects.all().delete()
        Change.objects.all().delete()
        Failure.objects.all().delete()
        sink.delete_query("*:*", commit=True)
        self.load(count)
        self.say("Loaded %d layers (%d published) into the database." % (
            Layer.objects.count(), Layer.objects.filter(is_published=True).count()))
        with hooks_disabled():
            Map.objects.bulk_create([Map(title="Atlas of %s" % region.name, category=Category.objects.order_by("pk")
                                         .first()) for region in Region.objects.order_by("pk")[:5]])
        self.say("Loaded %d maps: the maps pipeline writes them into the same core." % Map.objects.count())
        result = reindex(syncer, "layers", prune=True)
        self.say("Reindex: " + result.summary())
        self.say("Reindex: " + reindex(syncer, "maps", prune=True).summary())

        # -- a consumer, as in production
        consumer = subprocess.Popen([sys.executable, "manage.py", "run_huey", "--workers", "2", "--max-delay", "0.5"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        children.append(consumer)
        self.say("Consumer started: python manage.py run_huey --workers 2 --max-delay 0.5 (pid %d)" % consumer.pid)
        time.sleep(1.0)
        if consumer.poll() is not None:
            raise CommandError("the consumer exited: %s" % consumer.stderr.read()[-500:])

        # -- edits through the ORM: each is a save, the hooks do the rest
        self.say("\nEditing through the ORM (commitWithin %d ms):" % syncer.settings.COMMIT_WITHIN_MS)
        layers = list(Layer.objects.filter(is_published=True).order_by("pk")[:6])
        fiji = Region.objects.get_or_create(code="FJI", defaults={"name": "Fiji"})[0]
        edits = []

        def timed(label, query, expect_present, fn):
            fn()
            edits.append((label, query, expect_present, time.monotonic()))

        a, b, c, d, e, f = layers
        a.title = "Glacier retreat monitoring of " + a.title
        timed("retitle %s" % a.name, "id:%s AND title:glacier" % a.uuid, True, a.save)
        timed("add keyword to %s" % b.name, "id:%s AND keywords:glaciers" % b.uuid, True, lambda: b.keywords.add(Keyword.objects.get_or_create(
            name="glaciers")[0]))

        def unpublish():
            c.is_published = False
            c.save()
        timed("unpublish %s" % c.name, "id:%s" % c.uuid, False, unpublish)
        timed("delete %s" % d.name, "id:%s" % d.uuid, False, d.delete)

        def several():
            with transaction.atomic():  # one transaction, one task
                for layer in (e, f):
                    layer.abstract += " Revised."
                    layer.save()
        timed("two saves in one transaction", "id:(%s OR %s) AND abstract:revised" % (e.uuid, f.uuid), True, several)
        new = Layer(name="reefs_fiji_new", title="Coral reef survey of Fiji (new)", abstract="Crosses the dateline",
                    bbox_x0=177.2, bbox_x1=-179.1, bbox_y0=-19.2, bbox_y1=-16.0, date=layers[0].date,
                    category=Category.objects.get(identifier="oceans"))

        def create():
            with transaction.atomic():
                new.save()
                new.regions.add(fiji)
        timed("create %s" % new.name, None, True, create)
        broken = Layer(name="broken_bbox", title="Harvested layer with a broken bbox", bbox_x0=10, bbox_x1=20,
                       bbox_y0=40, bbox_y1=123.0, date=layers[0].date)
        timed("create %s (latitude 123)" % broken.name, None, True, broken.save)
        atlas = Map.objects.order_by("title").first()

        def retitle_map():
            atlas.title += " revised"
            atlas.save()
        timed("retitle map %s (pipeline maps)" % atlas.title, 'id:"%s" AND title:revised' % atlas.pk, True, retitle_map)

        latencies = []
        for label, query, expect_present, t0 in edits:
            query = query or "id:%s" % (new.uuid if "reefs" in label else broken.uuid)
            seen = self.wait_visible(sink, query, expect_present, label)
            latencies.append(seen - t0)
            self.say("  %-48s visible after %.2fs" % (label, seen - t0))

        # -- what Solr answers
        self.say("\nText query  q=flood  (title/abstract/keywords):")
        res = sink.search("flood", rows=5, fl="id,title", sort="id asc")
        self.say("  %d hits; e.g. %s" % (res.hits, "; ".join(d["title"] for d in res.docs[:3])))
        nepal = "{!field f=bbox}Intersects(ENVELOPE(80.0, 88.2, 30.5, 26.3))"
        res = sink.search("*:*", fq=nepal, rows=3, fl="title", sort="id asc")
        self.say("Bbox query  Intersects Nepal ENVELOPE(80.0, 88.2, 30.5, 26.3): %d hits; e.g. %s"
                 % (res.hits, "; ".join(d["title"] for d in res.docs)))
        fiji_q = "{!field f=bbox}Intersects(ENVELOPE(179.5, -179.5, -16.5, -18.5))"
        res = sink.search("*:*", fq=fiji_q, rows=3, fl="title", sort="id asc")
        self.say("Bbox query  across the antimeridian near Fiji: %d hits; e.g. %s"
                 % (res.hits, "; ".join(d["title"] for d in res.docs)))
        res = sink.search("id:%s" % broken.uuid, fl="id,title,bbox")
        self.say("Broken bbox layer indexed without bbox: %s" % (res.docs and "bbox" not in res.docs[0]))

        sink.commit()
        published = Layer.objects.filter(is_published=True).count()
        in_solr = sink.count(fq=syncer.owned_filter("layers"))
        maps_in_solr = sink.count(fq=syncer.owned_filter("maps"))
        self.say("\nSummary")
        self.say("  database: %d layers, %d published" % (Layer.objects.count(), published))
        self.say("  solr:     %d documents  -> %s" % (in_solr, "in step" if in_solr == published else "DRIFT"))
        self.say("  maps:     %d in the database, %d documents in the same core" % (Map.objects.count(), maps_in_solr))
        self.say("  pending changes: %d, failures: %d, bbox warnings at reindex: %d"
                 % (Change.objects.count(), Failure.objects.count(), result.warnings))
        self.say("  edit -> visible: max %.2fs (commitWithin %.1fs)"
                 % (max(latencies), syncer.settings.COMMIT_WITHIN_MS / 1000.0))
        if in_solr != published or maps_in_solr != Map.objects.count():
            raise CommandError("Solr has %d layer and %d map documents, the database %d published layers and %d maps"
                               % (in_solr, maps_in_solr, published, Map.objects.count()))

    def wait_visible(self, sink, query, present, label, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = sink.count(query) > 0
            except Exception:
                found = None
            if found is present:
                return time.monotonic()
            time.sleep(0.05)
        raise CommandError("%s: not visible in Solr after %ds" % (label, timeout))

    def load(self, count):
        rows = generate(count)
        User = get_user_model()
        users = {}
        for r in rows:
            if r["owner"] not in users:
                users[r["owner"]] = User.objects.get_or_create(username=r["owner"])[0]
        cats = {c: Category.objects.get_or_create(identifier=c)[0] for c in {r["category"] for r in rows}}
        regions = {code: Region.objects.get_or_create(code=code, defaults={"name": name})[0]
                   for code, name in {r["region"] for r in rows}}
        words = {w: Keyword.objects.get_or_create(name=w)[0] for r in rows for w in r["keywords"]}
        with hooks_disabled(), transaction.atomic():
            layers = Layer.objects.bulk_create([Layer(
                name=r["name"], title=r["title"], abstract=r["abstract"], bbox_x0=r["bbox_x0"],
                bbox_x1=r["bbox_x1"], bbox_y0=r["bbox_y0"], bbox_y1=r["bbox_y1"], category=cats[r["category"]],
                owner=users[r["owner"]], date=r["date"], is_published=r["is_published"]) for r in rows])
            if layers[0].pk is None:
                layers = list(Layer.objects.order_by("pk"))
            KW, RG = Layer.keywords.through, Layer.regions.through
            KW.objects.bulk_create([KW(layer_id=l.pk, keyword_id=words[w].pk)
                                    for l, r in zip(layers, rows) for w in r["keywords"]])
            RG.objects.bulk_create([RG(layer_id=l.pk, region_id=regions[r["region"][0]].pk)
                                    for l, r in zip(layers, rows)])
