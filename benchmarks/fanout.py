"""A keyword shared by 100,000 layers is renamed: how long recording takes, and how long until
Solr shows the new name on every one of them.

    .venv/bin/python benchmarks/fanout.py [--db sqlite|postgres] [--layers 100000] [--capture triggers|signals] [--wal]
    .venv/bin/python benchmarks/fanout.py --layers 20000 --drain-rounds 10    # metrics on / off
    .venv/bin/python benchmarks/fanout.py --db postgres --rounds 2 --before main   # main's consumer too

With ``--drain-rounds N`` it measures the backlog drain instead, in this process: after one
untimed drain, N rounds, each recording a change for every layer (one statement) and draining
them all with ``Syncer.drain``, alternately with the Prometheus counters on and off (the sinks'
``metrics`` set to None); it prints the medians side by side.

Loads N layers linked to one keyword quietly (hooks_disabled), indexes them with a reindex,
starts one consumer process (huey_consumer -w 2, SQLite queue) against the Solr emulator in its own
process (or the real core SOLR names), then renames the keyword with ``keyword.save()`` in a transaction. "record" is that
save's time including its commit (the triggers' -- or on the signal path the pre-recorded
INSERT ... SELECT's -- one statement for N layers); "visible" runs from the commit until all N
documents show the new name (looked for every 0.1 s: the time is when the last layer's shows, then
all of them are counted -- not timed, since the emulator answers that count by scanning every
document, a second or two at 100,000, where Solr reads an index -- and must all be there, else the
look goes on); it is set beside a reindex of the same N layers (timed before, committed at its end). During both a thread saves 200 other layers at --save-rate (each save in a
transaction): their p50/p99 idle, during the reindex and during the fan-out. SOLRSYNC_BENCH_DBNAME names the
PostgreSQL database. With ``--rounds N``, N rounds of a reindex then the rename (to a new name
each time); with ``--before REF`` each round also renames with a consumer running REF's code
(``code_of.py``), the order alternating: visible / reindex of the same round, side by side.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--layers", type=int, default=100000)
    ap.add_argument("--capture", choices=["triggers", "signals"], default="triggers")
    ap.add_argument("--save-rate", type=int, default=50, help="other users' saves per second during the fan-out")
    ap.add_argument("--rounds", type=int, default=1, help="rounds: a reindex, then the rename by each code")
    ap.add_argument("--before", metavar="REF", help="also the rename drained by a consumer running REF's code (main)")
    ap.add_argument("--wal", action="store_true", help="SQLite: the database in WAL mode (default: rollback journal)")
    ap.add_argument("--drain-rounds", type=int, default=0, metavar="N",
                    help="instead: drain a backlog of every layer N times, with and without metrics")
    args = ap.parse_args()
    from save_path import setup
    from reindex_throughput import start_solr
    var = tempfile.mkdtemp(prefix="solrsync-fanout-")
    os.environ["SOLRSYNC_CAPTURE"] = args.capture
    # Solr (the emulator unless SOLR names a real core) in a process of its own, as Solr is: in this
    # one its request threads took the interpreter from the other users' saves timed here
    url, solr = start_solr()
    try:
        if args.db == "postgres":  # our own database, not the other benchmarks'
            save_path_setup_db = os.environ.get("SOLRSYNC_BENCH_DBNAME", "solrsync_fanout")
            import psycopg
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS %s" % save_path_setup_db)
                conn.execute("CREATE DATABASE %s" % save_path_setup_db)
            sys.path.insert(0, DEMO)
            os.environ.update(SOLRSYNC_DEMO_VAR=var, DJANGO_SETTINGS_MODULE="demoproject.settings",
                              SOLRSYNC_SOLR_URL=url, SOLRSYNC_DEMO_DB="postgres",
                              SOLRSYNC_DEMO_DBNAME=save_path_setup_db,
                              SOLRSYNC_QUEUE_URL="sqlite:///%s/queue.sqlite3" % var)
            import django
            django.setup()
            from django.core.management import call_command
            call_command("migrate", verbosity=0)
        else:
            setup(args.db, var, url)
            if args.wal:  # readers no longer hold a writer's commit back (persists in the file)
                from django.db import connections
                with connections["default"].cursor() as cur:
                    cur.execute("PRAGMA journal_mode=WAL")
        from django.db import transaction
        from django.utils import timezone
        from layers.models import Keyword, Layer
        from solrsync.contrib.django.runtime import get_syncer
        from solrsync.contrib.django.signals import hooks_disabled
        from solrsync.reindex import reindex
        n = args.layers
        started = time.monotonic()
        with hooks_disabled(), transaction.atomic():
            kw = Keyword.objects.create(name="glacier")
            now = timezone.now()
            for i in range(0, n, 5000):
                Layer.objects.bulk_create([Layer(name="l%d" % j, title="Layer %d" % j, date=now)
                                           for j in range(i, min(n, i + 5000))], batch_size=1000)
            Through = Layer.keywords.through
            Through.objects.bulk_create([Through(layer_id=pk, keyword_id=kw.pk)
                                         for pk in Layer.objects.values_list("pk", flat=True)], batch_size=5000)
            others = Layer.objects.bulk_create([Layer(name="o%d" % j, title="Other %d" % j, date=now)
                                                for j in range(200)])  # other users' layers, no keyword
        reindex(get_syncer(), "layers")
        print("loaded and indexed %d layers in %.0fs" % (n, time.monotonic() - started))
        saver = Saver(others, args.save_rate)
        idle = saver.run_for(3.0)  # other users' saves with nothing else going on
        if args.drain_rounds:
            return drain_with_and_without_metrics(args)
        codes = [("now", os.path.join(ROOT, "contrib", "django", "demo"), dict(os.environ))]
        if args.before:
            from code_of import checkout, environ
            there = checkout(args.before)
            codes.append((args.before, os.path.join(there, "contrib", "django", "demo"), environ(there)))
        results = {label: [] for label, _, _ in codes}
        yardstick, during_reindex = [], []
        for r in range(args.rounds):
            saver = Saver(others, args.save_rate)
            saver.start()
            t0 = time.monotonic()  # the yardstick: a reindex of the same rows, committed (so visible) at its end
            reindex(get_syncer(), "layers")  # all of them: the n, and the 200 others
            yardstick.append(time.monotonic() - t0)
            during_reindex += saver.stop()
            print("  round %d: reindex of the %d layers (committed, visible): %.1fs" % (r + 1, n + 200, yardstick[-1]))
            for label, demo, env in (codes if r % 2 == 0 else codes[::-1]):
                name = "firn-%d-%s-%d" % (r, label, os.getpid())  # a core kept from an earlier run holds the earlier names
                out = rename(url, kw, name, n, others, args.save_rate, demo, env)
                results[label].append(out)
                print("  round %d, %s: recorded in %.2fs (%d change-log rows); all %d show %r %.1fs after the "
                      "commit (%d found): %.2f x the reindex" % (r + 1, label, out["recorded"], out["rows"], n, name,
                                                                 out["visible"], out["found"],
                                                                 out["visible"] / yardstick[-1]), flush=True)
        print("machine: %s, %s cores, Python %s; database: %s; capture: %s; queue: SQLite, one huey_consumer -w 2; "
              "Solr: %s in its own process; %d rounds" % (platform.processor() or platform.machine(), os.cpu_count(),
                                                 platform.python_version(),
                                                 args.db + (" (WAL)" if args.wal and args.db == "sqlite" else ""), args.capture,
                                                 "the emulator" if solr else url, args.rounds))
        import statistics
        print("  reindex of the same layers (committed, visible): median %.1fs (%s)" % (
            statistics.median(yardstick), " / ".join("%.1f" % y for y in yardstick)))
        for label, _, _ in codes:
            ratios = [out["visible"] / y for out, y in zip(results[label], yardstick)]
            print("  %-6s visible after the commit: median %.1fs; visible / reindex of the same round: median %.2f (%s)"
                  % (label, statistics.median(out["visible"] for out in results[label]), statistics.median(ratios),
                     " / ".join("%.2f" % x for x in ratios)))
        busy = [lat for label, _, _ in codes[:1] for out in results[label] for lat in out["busy"]]
        for label, lat in (("idle", idle), ("during the reindex", during_reindex), ("during the fan-out (now)", busy)):
            lat.sort()
            print("  other users' saves (%d/s, each in a transaction) %s: %d saves, p50 %.2f ms, p99 %.2f ms" % (
                args.save_rate, label, len(lat), lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000))
    finally:
        if solr is not None:
            solr.terminate()
            solr.wait(30)


def rename(url, kw, name, n, others, save_rate, demo, env):
    """Rename ``kw`` to ``name`` with one consumer (``huey_consumer -w 2``, started from ``demo`` with
    ``env``: this tree's code or another's) watching; -> when it was recorded, when all ``n``
    documents show it, and other users' save times meanwhile."""
    from django.db import transaction
    from layers.models import Layer
    from solrsync.contrib.django.models import Change
    env = dict(env, PYTHONPATH=os.pathsep.join([demo] + [p for p in [env.get("PYTHONPATH")] if p]))
    consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer",
                                 "solrsync.contrib.django.queue.huey", "-w", "2", "-d", "0.05", "-m", "0.2"],
                                cwd=demo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saver = Saver(others, save_rate)
    try:
        time.sleep(3)
        saver.start()
        t0 = time.monotonic()
        with transaction.atomic():
            kw.name = name
            kw.save()
        recorded = time.monotonic()
        rows = Change.objects.count()
        last = str(Layer.objects.filter(keywords=kw).order_by("-pk").values_list("uuid", flat=True)[0])
        found = 0
        while True:  # the set streams in key order: counted only once the last layer shows the new name
            if name in _keywords_of(url, last):
                visible = time.monotonic()  # a set is committed at its end: all of it shows at once
                found = _shows(url, "keywords", name)  # not timed: the emulator scans every document
            if found == n or time.monotonic() - recorded > 900:
                break
            time.sleep(0.1)
    finally:
        busy = saver.stop()
        consumer.send_signal(2)
        consumer.wait(60)
    return {"recorded": recorded - t0, "rows": rows, "visible": visible - recorded, "found": found, "busy": busy}


def _keywords_of(url, doc_id):
    """The keywords searchers see on one document (looked up by its id alone: the emulator answers
    a filter on keywords by scanning every document, 0.4 s at 100,000, holding its core meanwhile)."""
    import requests
    params = {"q": "{!term f=id}%s" % doc_id, "fl": "keywords", "rows": 1, "wt": "json"}
    docs = requests.get(url + "/select", params=params, timeout=30).json()["response"]["docs"]
    return docs[0].get("keywords", []) if docs else []


def _shows(url, field, value, keyword=None):
    """How many documents searchers see with ``field`` = ``value`` (and ``keyword`` among their keywords)."""
    import requests
    params = {"q": "{!term f=%s}%s" % (field, value), "rows": 0, "wt": "json"}
    if keyword is not None:
        params["fq"] = "{!term f=keywords}%s" % keyword
    return requests.get(url + "/select", params=params, timeout=30).json()["response"]["numFound"]


class Saver:
    """Saves other layers at a steady rate from a thread of its own (its own connection), noting
    each save's time, commit included."""

    def __init__(self, layers, rate):
        import threading
        self.layers, self.rate, self.lat = layers, rate, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop)

    def _loop(self):
        from django.db import connection, transaction
        i, next_at = 0, time.monotonic()
        while not self.stopping.is_set():
            layer = self.layers[i % len(self.layers)]
            layer.title = "Other %d, edit %d" % (i % len(self.layers), i)
            t0 = time.perf_counter()
            with transaction.atomic():
                layer.save()
            self.lat.append(time.perf_counter() - t0)
            i += 1
            next_at += 1.0 / self.rate
            time.sleep(max(0.0, next_at - time.monotonic()))
        connection.close()

    def start(self):
        self.lat = []
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join()
        return self.lat

    def run_for(self, seconds):
        self.start()
        time.sleep(seconds)
        lat = self.stop()
        self.__init__(self.layers, self.rate)
        return lat


def drain_with_and_without_metrics(args):
    import statistics
    from layers.models import Layer
    from solrsync import metrics
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import enqueue
    syncer = get_syncer()
    rates = {"with metrics": [], "without": []}
    enqueue("layers", Layer.objects.all())
    syncer.drain("layers", coalesce=False)  # untimed: the first drain warms caches, the emulator's too
    for i in range(args.drain_rounds):
        kind = ("with metrics", "without")[i % 2]  # alternate: the machine's drift hits both alike
        enqueue("layers", Layer.objects.all())
        syncer.sink("layers").metrics = metrics.for_pipeline("layers") if kind == "with metrics" else None
        t0 = time.monotonic()
        report = syncer.drain("layers", coalesce=False)
        took = time.monotonic() - t0
        assert report.indexed == args.layers, report
        rates[kind].append(args.layers / took)
        print("  round %d, %s: %d documents in %.2fs, %.0f docs/s" % (i + 1, kind, args.layers, took, rates[kind][-1]))
    print("machine: %s, %s cores, Python %s; database: %s; Solr: in its own process; drain of %d changes, "
          "batch %d, %d rounds" % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version(),
                                   args.db, args.layers, syncer.settings.BATCH_SIZE, args.drain_rounds))
    for kind, values in rates.items():
        print("  %-12s median %.0f docs/s (%s)" % (kind, statistics.median(values), " / ".join("%.0f" % v for v in values)))


if __name__ == "__main__":
    main()
