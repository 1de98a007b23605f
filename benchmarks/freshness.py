"""Freshness under a sustained stream of saves, with several savers and consumers in processes of
their own: how long from a save's commit until Solr shows it, and how many update requests per
second reach Solr.

    .venv/bin/python benchmarks/freshness.py --db postgres --queue redis://127.0.0.1:6379/11 --rate 1000
    .venv/bin/python benchmarks/freshness.py --db sqlite --rate 200 [--wal]

--savers processes save 1,000 layers (titles "rev N"), each in a transaction, together at --rate
saves/s for --seconds; --consumers processes (``huey_consumer -w 2`` each) drain. The Solr
emulator runs in this process and notes when each revision becomes searchable (a hook on every
new searcher). A revision overwritten before a searcher opened never shows; the final revision of
every layer must. Times are CLOCK_MONOTONIC, one clock for every process of the machine.
SOLRSYNC_BENCH_DBNAME names the PostgreSQL database (dropped and made again); the Redis
database given is flushed first.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import harness  # noqa: E402 (benchmarks/ on the path first)

SAVER = """
import os, sys, time, django
django.setup()
from django.db import transaction
from layers.models import Layer
part, parts, rate, seconds, go, out = sys.argv[1:7]
part, parts, rate, seconds = int(part), int(parts), float(rate), float(seconds)
layers = list(Layer.objects.order_by("pk"))[part::parts]
open(out + ".ready", "w").close()
while not os.path.exists(go):  # every saver set up: they start together
    time.sleep(0.01)
start = float(open(go).read())
cpu = time.process_time()
interval, n, late = 1.0 / rate, 0, 0
with open(out, "w") as f:
    while True:
        due = start + n * interval
        if due - start >= seconds:
            break
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        elif now - due > 0.1:
            late += 1
        layer = layers[n % len(layers)]
        layer.title = "rev %d.%d" % (part, n)
        with transaction.atomic():
            layer.save()
        f.write("%s %s %.6f\\n" % (layer.uuid, layer.title.replace(" ", "_"), time.monotonic()))
        n += 1
    f.write("late %d\\n" % late)
    f.write("cpu %.3f\\n" % (time.process_time() - cpu))
"""


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fresh_after(commits, visible):
    """Per save, commit -> the first searcher showing that revision or a newer one of the layer: a
    revision overwritten before any searcher opened is fresh when its successor shows (leaving it
    out, as this benchmark once did, counted only the luckier saves at high rates)."""
    by_layer = {}
    for (uuid, title), t in commits.items():
        by_layer.setdefault(uuid, []).append((t, visible.get((uuid, title))))
    for revisions in by_layer.values():
        shown = None
        for t, seen in sorted(revisions, reverse=True):  # newest first: the soonest a newer one showed
            if seen is not None and (shown is None or seen < shown):
                shown = seen
            if shown is not None:
                yield shown - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--queue", help="QUEUE_URL (default: a SQLite queue in a temporary directory)")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--savers", type=int, default=4)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--wal", action="store_true", help="SQLite: the database in WAL mode (default: rollback journal)")
    args = ap.parse_args()
    from save_path import setup
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-fresh-")
    queue = args.queue or "sqlite:///%s/queue.sqlite3" % var
    if queue.startswith("redis://"):
        import redis
        redis.Redis.from_url(queue).flushdb()
    visible, arrived = {}, {}
    with SolrEmulator() as emu:
        def on_searcher(core):
            now = time.monotonic()
            for doc_id, doc in list(core.visible.items()):
                key = (doc_id, (doc.fields.get("title") or "").replace(" ", "_"))
                if key not in visible:
                    visible[key] = now
        core = emu.core("layers")
        core.on_searcher = on_searcher
        add = core.add

        def noting_add(raw, *a, **kw):  # when each revision reached Solr: commit -> post, post -> visible
            key = (str(raw.get(core.schema.unique_key)), (raw.get("title") or "").replace(" ", "_"))
            arrived.setdefault(key, time.monotonic())
            return add(raw, *a, **kw)
        core.add = noting_add
        setup(args.db, var, emu.core_url("layers"), queue)
        from django.db import connections
        if args.wal and args.db == "sqlite":  # readers no longer hold a writer's commit back (persists in the file)
            with connections["default"].cursor() as cur:
                cur.execute("PRAGMA journal_mode=WAL")
        from django.utils import timezone
        from layers.models import Layer
        from solrsync.contrib.django.signals import hooks_disabled
        with hooks_disabled():
            Layer.objects.bulk_create([Layer(name="f%d" % i, title="f%d" % i, date=timezone.now()) for i in range(1000)])
        connections.close_all()
        consumers = harness.start_consumers(args.consumers)
        per_second, stop = [], threading.Event()

        def count_requests():  # update requests reaching Solr, per second
            last = emu.stats["update_requests"]
            while not stop.wait(1.0):
                now = emu.stats["update_requests"]
                per_second.append(now - last)
                last = now
        try:
            time.sleep(3)
            outs = [os.path.join(var, "saver%d.txt" % i) for i in range(args.savers)]
            go = os.path.join(var, "go")
            savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(i), str(args.savers),
                                        str(args.rate / args.savers), str(args.seconds), go, out],
                                       cwd=DEMO, env=dict(os.environ, PYTHONPATH=DEMO)) for i, out in enumerate(outs)]
            while not all(os.path.exists(out + ".ready") for out in outs):
                time.sleep(0.05)
            start = time.monotonic() + 0.5
            with open(go + ".tmp", "w") as f:
                f.write(repr(start))
            os.rename(go + ".tmp", go)
            counter = threading.Thread(target=count_requests)
            time.sleep(max(0.0, start - time.monotonic()))
            counter.start()
            for s in savers:
                s.wait()
            stop.set()
            counter.join()
            commits, late, saver_cpu = {}, 0, 0.0
            consumer_cpu = sum(cpu_seconds(c.pid) for c in consumers)
            own_cpu = time.process_time()
            for out in outs:
                for line in open(out):
                    parts = line.split()
                    if parts[0] == "late":
                        late += int(parts[1])
                    elif parts[0] == "cpu":
                        saver_cpu += float(parts[1])
                    else:
                        commits[(parts[0], parts[1])] = float(parts[2])
            final = {}
            for (uuid, title), t in commits.items():  # each layer's last revision must show
                if uuid not in final or t > commits[(uuid, final[uuid])]:
                    final[uuid] = title
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any((u, t) not in visible for u, t in final.items()):
                time.sleep(0.2)
        finally:
            harness.stop_consumers(consumers)
        lat = sorted(fresh_after(commits, visible))
        posted = sorted(arrived[k] - t for k, t in commits.items() if k in arrived)
        shown = sorted(visible[k] - arrived[k] for k in commits if k in visible and k in arrived)
        missing = [u for u, t in final.items() if (u, t) not in visible]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        n = len(commits)
        rates = sorted(per_second)
        print("machine: %s; database: %s; queue: %s; %d savers, %d consumers (huey_consumer -w 2); "
              "Solr: the emulator in this process, commitWithin 1.5 s" % (
                  harness.machine(), args.db, queue.split(":")[0], args.savers, args.consumers))
        took = max(commits.values()) - start
        print("  %d saves in %.1fs: %.0f saves/s achieved (target %d for %ds; %d saves more than 0.1 s behind their "
              "schedule); %d revisions seen in Solr (the others overwritten first), %d fresh; final revisions missing: %d" % (
                  n, took, n / took, args.rate, args.seconds, late, sum(k in visible for k in commits), len(lat),
                  len(missing)))
        print("  commit -> visible (it or a newer revision): p50 %.2fs  p99 %.2fs  max %.2fs" % (q(0.5), q(0.99), lat[-1]))
        for what, xs in (("commit -> posted", posted), ("posted -> visible", shown)):
            if xs:
                print("  %s: p50 %.2fs  p99 %.2fs  max %.2fs" % (
                    what, xs[len(xs) // 2], xs[min(len(xs) - 1, int(0.99 * len(xs)))], xs[-1]))
        print("  Solr update requests per second: median %d, max %d (%d seconds)" % (
            rates[len(rates) // 2], rates[-1], len(rates)))
        print("  CPU per save: savers %.0f us (the ORM's save, the hooks, the driver), consumers %.0f us, "
              "emulator and this process %.0f us (the database's own not counted)" % (
                  saver_cpu / n * 1e6, consumer_cpu / n * 1e6, own_cpu / n * 1e6))


if __name__ == "__main__":
    main()
