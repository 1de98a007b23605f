"""A keyword shared by 100,000 layers is renamed: how long recording takes, and how long until
Solr shows the new name on every one of them.

    .venv/bin/python benchmarks/fanout.py [--db sqlite|postgres] [--layers 100000] [--capture triggers|signals]
    .venv/bin/python benchmarks/fanout.py --layers 20000 --drain-rounds 10    # metrics on / off

With ``--drain-rounds N`` it measures the backlog drain instead, in this process: after one
untimed drain, N rounds, each recording a change for every layer (one statement) and draining
them all with ``Syncer.drain``, alternately with the Prometheus counters on and off (the sinks'
``metrics`` set to None); it prints the medians side by side.

Loads N layers linked to one keyword quietly (hooks_disabled), indexes them with a reindex,
starts one consumer process (huey_consumer -w 2, SQLite queue) against the Solr emulator in this
process, then renames the keyword with ``keyword.save()`` in a transaction. "record" is that
save's time including its commit (the triggers' -- or on the signal path the pre-recorded
INSERT ... SELECT's -- one statement for N layers); "visible" runs from the commit until a query
for the new name finds all N documents.
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
    ap.add_argument("--drain-rounds", type=int, default=0, metavar="N",
                    help="instead: drain a backlog of every layer N times, with and without metrics")
    args = ap.parse_args()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-fanout-")
    os.environ["SOLRSYNC_CAPTURE"] = args.capture
    with SolrEmulator() as emu:
        if args.db == "postgres":  # our own database, not the other benchmarks'
            import save_path
            save_path_setup_db = "solrsync_fanout"
            import psycopg
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS %s" % save_path_setup_db)
                conn.execute("CREATE DATABASE %s" % save_path_setup_db)
            sys.path.insert(0, DEMO)
            os.environ.update(SOLRSYNC_DEMO_VAR=var, DJANGO_SETTINGS_MODULE="demoproject.settings",
                              SOLRSYNC_SOLR_URL=emu.core_url("layers"), SOLRSYNC_DEMO_DB="postgres",
                              SOLRSYNC_DEMO_DBNAME=save_path_setup_db,
                              SOLRSYNC_QUEUE_URL="sqlite:///%s/queue.sqlite3" % var)
            import django
            django.setup()
            from django.core.management import call_command
            call_command("migrate", verbosity=0)
            del save_path
        else:
            setup(args.db, var, emu.core_url("layers"))
        from django.db import transaction
        from django.utils import timezone
        from layers.models import Keyword, Layer
        from solrsync.contrib.django.models import Change
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
        reindex(get_syncer(), "layers")
        print("loaded and indexed %d layers in %.0fs" % (n, time.monotonic() - started))
        if args.drain_rounds:
            return drain_with_and_without_metrics(args, emu)
        env = dict(os.environ, PYTHONPATH=DEMO)
        consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer",
                                     "solrsync.contrib.django.queue.huey", "-w", "2", "-d", "0.05", "-m", "0.2"],
                                    cwd=DEMO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            core = emu.core("layers")
            t0 = time.monotonic()
            with transaction.atomic():
                kw.name = "firn"
                kw.save()
            recorded = time.monotonic()
            rows = Change.objects.count()
            while True:
                found = sum(1 for d in list(core.visible.values()) if "firn" in (d.fields.get("keywords") or ()))
                if found == n or time.monotonic() - recorded > 900:
                    break
                time.sleep(0.2)
            visible = time.monotonic()
        finally:
            consumer.send_signal(2)
            consumer.wait(60)
        print("machine: %s, %s cores, Python %s; database: %s; capture: %s; queue: SQLite, one huey_consumer -w 2; "
              "Solr: the emulator" % (platform.processor() or platform.machine(), os.cpu_count(),
                                      platform.python_version(), args.db, args.capture))
        print("  rename of a keyword on %d layers: recorded in %.2fs (%d change-log rows, one statement); "
              "all %d documents show the new name %.1fs after the commit (%d found)"
              % (n, recorded - t0, rows, n, visible - recorded, found))


def drain_with_and_without_metrics(args, emu):
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
    print("machine: %s, %s cores, Python %s; database: %s; Solr: the emulator in this process; drain of %d changes, "
          "batch %d, %d rounds" % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version(),
                                   args.db, args.layers, syncer.settings.BATCH_SIZE, args.drain_rounds))
    for kind, values in rates.items():
        print("  %-12s median %.0f docs/s (%s)" % (kind, statistics.median(values), " / ".join("%.0f" % v for v in values)))


if __name__ == "__main__":
    main()
