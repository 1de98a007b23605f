"""What solrsync adds to ``Layer.save()``, and how fresh Solr stays under a steady stream of saves.

    .venv/bin/python benchmarks/save_path.py overhead [--db sqlite|postgres] [--saves 2000] [--before main] [--no-seed]
    .venv/bin/python benchmarks/save_path.py freshness [--rate 200] [--seconds 60]

overhead: the same save, side by side in interleaved rounds, (a) with hooks disabled, (b) with
solrsync's hooks (change-log row + on_commit wake-up on the SQLite queue), (c) the seed tutorial's
way -- a synchronous pysolr post inside post_save; ``--before REF``: (d) solrsync's hooks with the
triggers REF's code generates (save_shapes.py --print-sql, in a child importing REF), installed in
their own rounds. Each inside ``transaction.atomic()`` (as the
Django admin and ATOMIC_REQUESTS save) and bare (autocommit). Medians per save.

freshness: one consumer process (huey_consumer, SQLite queue), saves at a steady rate to 1,000
layers; the emulator (in this process) notes when each revision becomes searchable. p50/p99 of
commit -> visible.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")
sys.path.insert(0, ROOT)


def setup(db, var, solr_url, queue=None):
    sys.path.insert(0, DEMO)
    os.environ.update(SOLRSYNC_DEMO_VAR=var, DJANGO_SETTINGS_MODULE="demoproject.settings",
                      SOLRSYNC_SOLR_URL=solr_url, SOLRSYNC_QUEUE_URL=queue or "sqlite:///%s/queue.sqlite3" % var)
    if db == "postgres":
        os.environ["SOLRSYNC_DEMO_DB"] = "postgres"
        # SOLRSYNC_BENCH_DBNAME: runs sharing a server each take their own database
        name = os.environ["SOLRSYNC_DEMO_DBNAME"] = os.environ.get("SOLRSYNC_BENCH_DBNAME", "solrsync_bench")
        import psycopg
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS %s" % name)
            conn.execute("CREATE DATABASE %s" % name)
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)


def overhead(args):
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-save-")
    with SolrEmulator() as emu:
        setup(args.db, var, emu.core_url("layers"), args.queue)
        import pysolr
        from django.db import transaction
        from django.db.models.signals import post_save
        from django.utils import timezone
        from layers.models import Layer
        from solrsync.contrib.django import triggers
        from solrsync.contrib.django.runtime import get_pipelines, get_settings
        from solrsync.contrib.django.signals import hooks_disabled
        from solrsync.pipelines.layers import LayerDocument
        from solrsync.sink import VERSION_FIELD, local_version
        layer = Layer.objects.create(name="bench", title="Bench", date=timezone.now())
        seed_client = pysolr.Solr(emu.core_url("layers"), timeout=10)

        def seed_hook(sender, instance, **kw):  # the tutorial: post the document, synchronously
            doc = LayerDocument.build(instance)[0]
            doc[VERSION_FIELD] = local_version()  # the core refuses a document without its version
            seed_client.add([doc], commitWithin=1500)

        from django.db import connection
        cpu = {}  # (mode, atomic) -> [the database server's CPU seconds per save]
        backend = _backend_clock(connection)

        def one(mode, atomic):
            layer.title = "t%d" % time.monotonic_ns()
            c0 = backend() if backend else 0
            t0 = time.perf_counter()
            if atomic:
                with transaction.atomic():
                    layer.save()
            else:
                layer.save()
            took = time.perf_counter() - t0
            if backend:
                cpu.setdefault((mode, atomic), []).append(backend() - c0)
            return took

        from solrsync.contrib.django import signals
        modes = ["no hooks", "solrsync"] + ([] if args.no_seed else ["seed: sync post"])
        if args.db == "postgres":  # before: a wake-up sent from the save as well as the change log's NOTIFY
            modes.insert(2, "solrsync, own wake")
        before_sql = None
        if args.before:  # the triggers REF's code generates, printed by a child importing it (code_of.py)
            sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
            import code_of
            before_sql = json.loads(subprocess.run(
                [sys.executable, os.path.join(ROOT, "benchmarks", "save_shapes.py"), "--print-sql"], check=True,
                stdout=subprocess.PIPE, env=code_of.environ(code_of.checkout(args.before))).stdout)
            modes.insert(1, "before (%s)" % args.before)
        times = {(m, a): [] for m in modes for a in (True, False)}
        for _ in range(args.saves // 50):
            for (mode, atomic) in times:
                if mode.startswith("solrsync") or mode.startswith("before"):
                    signals._listens[0] = mode != "solrsync, own wake"
                    if mode.startswith("before"):
                        triggers.uninstall("default")
                        with transaction.atomic(), connection.cursor() as cur:
                            for sql in before_sql:
                                cur.execute(sql)
                        for _ in range(10):  # untimed: the new triggers' first calls compile and plan them
                            one(mode, atomic)
                    try:
                        for _ in range(50):
                            times[(mode, atomic)].append(one(mode, atomic))
                    finally:
                        signals._listens[0] = signals._listening()
                        if mode.startswith("before"):
                            triggers.install(get_pipelines(), "default", get_settings().CAPTURE)
                            for _ in range(10):
                                one(mode, atomic)
                    continue
                triggers.uninstall("default")  # the save as it is without solrsync at all
                with hooks_disabled():
                    if mode.startswith("seed"):
                        post_save.connect(seed_hook, sender=Layer)
                    try:
                        for _ in range(50):
                            times[(mode, atomic)].append(one(mode, atomic))
                    finally:
                        post_save.disconnect(seed_hook, sender=Layer)
                        triggers.install(get_pipelines(), "default", get_settings().CAPTURE)
        print("machine: %s, %s cores, Python %s; database: %s; queue: %s; Solr: emulator; CAPTURE: %s"
              % (platform.machine(), os.cpu_count(), platform.python_version(), args.db,
                 os.environ["SOLRSYNC_QUEUE_URL"].split(":")[0], get_settings().CAPTURE))
        for atomic in (True, False):
            base = statistics.median(times[("no hooks", atomic)])
            print("  saves %s (%d each):" % ("inside transaction.atomic()" if atomic else "bare (autocommit)",
                                             len(times[("no hooks", atomic)])))
            for mode in modes:
                med = statistics.median(times[(mode, atomic)])
                print("    %-18s median %.3f ms   added %+.3f ms (%+.0f%%)%s" % (
                    mode, med * 1000, (med - base) * 1000, 100 * (med - base) / base, "   database CPU %.1f us, "
                    "added %+.1f us" % (_mean_us(cpu[(mode, atomic)]), _mean_us(cpu[(mode, atomic)]) -
                                        _mean_us(cpu[("no hooks", atomic)])) if cpu else ""))


def _backend_clock(connection):
    """PostgreSQL on this machine: a function returning the CPU seconds the connection's server
    process has run (/proc/<pid>/schedstat, nanoseconds; the process sleeps between our
    statements, so the figure is current) -- the database's side of a save, which the machine's
    load hardly changes, unlike the time. None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        path = "/proc/%d/schedstat" % cur.fetchone()[0]
    if not os.access(path, os.R_OK):
        return None  # another machine's server

    def clock():
        with open(path) as f:
            return int(f.read().split()[0]) / 1e9
    return clock


def _mean_us(values):
    """Mean in microseconds, the highest 1 % left out (a save during which the server was interrupted)."""
    values = sorted(values)[:max(1, len(values) * 99 // 100)]
    return 1e6 * sum(values) / len(values)


def freshness(args):
    from solrsync.testing import SolrEmulator
    var = tempfile.mkdtemp(prefix="solrsync-fresh-")
    visible = {}

    with SolrEmulator() as emu:
        def on_searcher(core):
            now = time.monotonic()
            for doc_id, doc in core.visible.items():
                key = (doc_id, doc.fields.get("title"))
                if key not in visible:
                    visible[key] = now
        emu.core("layers").on_searcher = on_searcher
        setup("sqlite", var, emu.core_url("layers"))
        from django.utils import timezone
        from layers.models import Layer
        from solrsync.contrib.django.signals import hooks_disabled
        with hooks_disabled():
            layers = Layer.objects.bulk_create([Layer(name="f%d" % i, title="f%d" % i, date=timezone.now())
                                                for i in range(1000)])
            layers = list(Layer.objects.all())
        env = dict(os.environ, PYTHONPATH=DEMO)
        consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer",
                                     "solrsync.contrib.django.queue.huey", "-w", "2", "-d", "0.05", "-m", "0.2"],
                                    cwd=DEMO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(2)
            commits = {}
            interval = 1.0 / args.rate
            started = time.monotonic()
            n = 0
            late = 0
            while time.monotonic() - started < args.seconds:
                due = started + n * interval
                now = time.monotonic()
                if now < due:
                    time.sleep(due - now)
                elif now - due > 0.1:
                    late += 1
                layer = layers[n % len(layers)]
                layer.title = "rev %d" % n
                layer.save()
                commits[(layer.uuid, layer.title)] = time.monotonic()
                n += 1
            achieved = n / (time.monotonic() - started)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(k not in visible for k in commits):
                time.sleep(0.2)
        finally:
            consumer.send_signal(2)
            consumer.wait(30)
        # a revision overwritten before it became visible never shows: measure those that did
        lat = sorted(visible[k] - t for k, t in commits.items() if k in visible)
        lost_final = [k for k in commits if k not in visible and k[1] == Layer.objects.get(uuid=k[0]).title]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]  # noqa: E731
        print("machine: %s, %s cores, Python %s; database: SQLite; queue: SQLite, one huey_consumer -w 2"
              % (platform.machine(), os.cpu_count(), platform.python_version()))
        print("  %d saves in %ds (%.0f saves/s achieved, target %d); %d revisions seen in Solr; "
              "final revisions missing: %d" % (n, args.seconds, achieved, args.rate, len(lat), len(lost_final)))
        print("  commit -> visible: p50 %.2fs  p99 %.2fs  max %.2fs  (commitWithin 1.5s)" % (q(0.5), q(0.99), lat[-1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["overhead", "freshness"])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--saves", type=int, default=2000)
    ap.add_argument("--queue", help="QUEUE_URL for the overhead run (default: a SQLite queue)")
    ap.add_argument("--before", metavar="REF", help="overhead: also with the triggers REF's code generates (main)")
    ap.add_argument("--no-seed", action="store_true", help="overhead: leave out the seed's synchronous post")
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    overhead(args) if args.what == "overhead" else freshness(args)


if __name__ == "__main__":
    main()
