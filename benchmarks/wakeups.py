"""Queue length and freshness under a steady stream of saves (issue 25: wake-ups piled up).

    SOLRSYNC_BENCH_DBNAME=NAME .venv/bin/python benchmarks/wakeups.py --rate 25 --seconds 60 \
        [--db postgres|sqlite] [--queue redis://127.0.0.1:6379/7] [--consumers 2] [--threads N] [--reindex]

PostgreSQL (its own database, dropped and made again) and a Redis queue (its db flushed first),
``--consumers`` huey_consumer processes (-w 2 each) against the Solr emulator in this process,
1,000 layers; this process saves them in turn at ``--rate`` per second (each save its own
transaction; ``--threads``: that many saving threads, each its share of the rate) for
``--seconds``. Every 0.5 s it reads the queue's length (tasks waiting); the emulator notes when
each revision becomes searchable. Prints the queue length (max, median, at the
end) and commit -> visible p50/p99/max. ``--reindex``: after the save stream's first third, a
``solrsync reindex --via-queue`` of the layers runs under the same load, timed beside a quiet one.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
from harness import machine, start_consumers, stop_consumers  # noqa: E402


def reindex_via_queue(env):
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "manage.py", "solrsync", "reindex", "layers", "--via-queue", "--quiet"],
                         cwd=DEMO, env=env, capture_output=True, text=True, timeout=600)
    return time.monotonic() - t0, out.returncode, (out.stderr or "").strip().splitlines()[-1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--queue", default="redis://127.0.0.1:6379/7")
    ap.add_argument("--rate", type=int, default=25)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--layers", type=int, default=1000)
    ap.add_argument("--reindex", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="saving threads, each its share of the rate and layers")
    args = ap.parse_args()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-wakeups-")
    visible = {}
    with SolrEmulator() as emu:
        def on_searcher(core):
            now = time.monotonic()
            for doc_id, doc in core.visible.items():
                key = (doc_id, doc.fields.get("title"))
                if key not in visible:
                    visible[key] = now
        emu.core("layers").on_searcher = on_searcher
        os.environ["SOLRSYNC_QUEUE_SECRET"] = os.environ.get("SOLRSYNC_QUEUE_SECRET", "bench-secret")
        setup(args.db, var, emu.core_url("layers"), args.queue)
        from django.utils import timezone
        from layers.models import Layer
        from solrsync.contrib.django.runtime import get_tasks
        from solrsync.contrib.django.signals import hooks_disabled
        huey = get_tasks().huey
        huey.flush()
        with hooks_disabled():
            Layer.objects.bulk_create([Layer(name="f%d" % i, title="f%d" % i, date=timezone.now())
                                       for i in range(args.layers)])
        layers = list(Layer.objects.all())
        env = dict(os.environ, PYTHONPATH=DEMO)
        quiet_reindex = reindex_via_queue(env) if args.reindex else None  # no consumer yet: runs it itself
        consumers = start_consumers(args.consumers, env)
        lengths, stop = [], threading.Event()

        def sample():
            while not stop.wait(0.5):
                lengths.append(huey.pending_count())
        loaded_reindex = []
        try:
            time.sleep(3)
            if args.reindex:  # the quiet yardstick with the consumers idle
                quiet_reindex = reindex_via_queue(env)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            commits = {}
            started = time.monotonic()
            counts = [0] * args.threads
            worker = None

            def saver(k):
                from django.db import connection  # Django app loading: set up by main()
                mine = layers[k::args.threads]
                interval = args.threads / float(args.rate)
                i = 0
                while time.monotonic() - started < args.seconds:
                    due = started + i * interval
                    now = time.monotonic()
                    if now < due:
                        time.sleep(due - now)
                    layer = mine[i % len(mine)]
                    layer.title = "rev %d.%d" % (k, i)
                    layer.save()
                    commits[(layer.uuid, layer.title)] = time.monotonic()
                    i += 1
                    counts[k] = i
                connection.close()
            savers = [threading.Thread(target=saver, args=(k,)) for k in range(args.threads)]
            for t in savers:
                t.start()
            while any(t.is_alive() for t in savers):
                if args.reindex and worker is None and time.monotonic() - started > args.seconds / 3:
                    worker = threading.Thread(target=lambda: loaded_reindex.append(reindex_via_queue(env)))
                    worker.start()
                time.sleep(0.2)
            n = sum(counts)
            achieved = n / (time.monotonic() - started)
            at_end = huey.pending_count()
            deadline = time.monotonic() + 30
            while time.monotonic() - deadline < 0 and any(k not in visible for k in commits):
                time.sleep(0.2)
            if worker is not None:
                worker.join(600)
        finally:
            stop.set()
            stop_consumers(consumers)
        final = {}
        for layer in Layer.objects.all():
            final[layer.uuid] = layer.title
        lat = sorted(visible[k] - t for k, t in commits.items() if k in visible)
        missing_final = [u for u, title in final.items() if (u, title) not in visible and title.startswith("rev")]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        print("machine: %s; database: %s; queue: %s; %d huey_consumer -w 2; Solr: emulator; %d saving thread(s)" % (
            machine(), args.db, args.queue.split(":")[0], args.consumers, args.threads))
        print("  rate %d/s target, %.0f/s achieved, %d saves in %ds" % (args.rate, achieved, n, args.seconds))
        print("  queue length: max %d, median %.0f, at the end of the stream %d (samples every 0.5 s: %d)"
              % (max(lengths or [0]), statistics.median(lengths or [0]), at_end, len(lengths)))
        print("  commit -> visible: p50 %.2fs  p99 %.2fs  max %.2fs; final revisions not visible: %d"
              % (q(0.5), q(0.99), lat[-1], len(missing_final)))
        if args.reindex:
            print("  reindex --via-queue of %d layers: quiet %.1fs (exit %d), under the load %s"
                  % (args.layers, quiet_reindex[0], quiet_reindex[1],
                     "%.1fs (exit %d) %s" % loaded_reindex[0] if loaded_reindex else "did not finish"))


if __name__ == "__main__":
    main()
