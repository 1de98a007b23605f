"""The live path against a reindex, in one process, on the same rows: a backlog of a change per
layer drained by ``Syncer.drain`` (what one consumer process does), a related change naming
every layer streamed (``Syncer.apply_related``: a keyword on all of them renamed), and a reindex
in one process -- in interleaved rounds, the order rotating.

    .venv/bin/python benchmarks/drain.py --db postgres --layers 20000 --rounds 5
    .venv/bin/python benchmarks/drain.py --db sqlite --layers 20000 --rounds 5
    .venv/bin/python benchmarks/drain.py --db postgres --before main   # also main's code, side by side
    SOLR=http://127.0.0.1:8983/solr/layers SOLR_PID=<its pid> .venv/bin/python benchmarks/drain.py  # a real Solr

Demo layers (``manage.py demo``'s generator), every one also linked to one keyword; the Solr
emulator in its own process, or the real Solr that SOLR names (its process: SOLR_PID). Each variant runs in a child process of its own (the one loading
the layers would make each garbage collection dearer), asked in turn. Per variant: docs/s
(median) and CPU per 1,000 documents -- the process draining or reindexing (ours), the database's backend (PostgreSQL, from /proc; SQLite runs in ours) and
the emulator's process. Not timed: recording the backlog (one INSERT ... SELECT) or the related row.
"drain, 1 stream": the drain with DRAIN_STREAMS = 1 (its claims grow, no second stream).
``--before REF`` adds the drain and the related stream as the code of REF (a branch: ``main``)
does them, in a child process importing that revision (``code_of.py``), on the same database and
Solr, in the same interleaved rounds: before and after side by side.
On PostgreSQL the change log is vacuumed before each round, untimed: each round's backlog is the
same 20,000 objects again, and back to back (faster than autovacuum comes by) their dead rows made
every claim's lookups by object_pk and pick by seq several times dearer from round to round.
SOLRSYNC_BENCH_DBNAME names the PostgreSQL database (dropped and made again).
"""
import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--layers", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--before", metavar="REF", help="also the drain and the related stream as REF's code (main)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child of --before
    args = ap.parse_args()
    if args.serve:
        return serve()
    from reindex_throughput import cpu_seconds, start_solr
    from save_path import setup
    var = tempfile.mkdtemp(prefix="solrsync-drain-")
    url, solr = start_solr()
    try:
        setup(args.db, var, url, queue="memory://")
        # Solr's CPU: the emulator's process, or a real Solr's (SOLR names its core, SOLR_PID its process)
        pid = solr.pid if solr is not None else int(os.environ["SOLR_PID"]) if os.environ.get("SOLR_PID") else None
        run(args, pid, cpu_seconds)
    finally:
        if solr is not None:
            solr.terminate()


def run(args, solr_pid, cpu_seconds):
    import logging
    logging.getLogger("solrsync").setLevel(logging.ERROR)  # the demo's odd bounding boxes warn on every build
    from django.db import connection, transaction
    from layers.management.commands.demo import Command
    from layers.models import Keyword, Layer
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import enqueue, hooks_disabled
    from solrsync.pipeline import RELATED
    Command().load(args.layers)
    with hooks_disabled(), transaction.atomic():
        kw = Keyword.objects.create(name="everywhere")
        Through = Layer.keywords.through
        Through.objects.bulk_create([Through(layer_id=pk, keyword_id=kw.pk)
                                     for pk in Layer.objects.values_list("pk", flat=True)], batch_size=5000)
    syncer = get_syncer()
    sink = syncer.sink("layers")
    Change.objects.all().delete()
    if args.db == "postgres":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    import json
    import subprocess
    from code_of import ROOT as here, checkout, environ
    children = []

    def child(code):
        """A process draining (or reindexing) with the code in directory ``code``, on request: each
        variant runs in a process of its own size (the loaded layers of this one would make every
        garbage collection dearer), before and after alike."""
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"], env=environ(code),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=code)
        children.append(proc)

        def ask(what):  # -> (documents, seconds, its CPU, its backend's CPU)
            proc.stdin.write(what + "\n")
            proc.stdin.flush()
            return tuple(json.loads(proc.stdout.readline()))
        return ask
    now = child(here)
    before = child(checkout(args.before)) if args.before else None

    def backlog():
        enqueue("layers", Layer.objects.all())

    def related():
        Change.objects.create(pipeline="layers", object_pk="keywords__id", doc_id=str(kw.pk), op=RELATED,
                              created=syncer.changelog._stamp())

    variants = [("reindex-1", None, lambda: now("reindex")), ("drain", backlog, lambda: now("drain")),
                ("drain, 1 stream", backlog, lambda: now("drain 1")), ("related set", related, lambda: now("drain"))]
    if before:
        variants += [("drain, %s" % args.before, backlog, lambda: before("drain")),
                     ("related set, %s" % args.before, related, lambda: before("drain"))]
    rates = {label: [] for label, _, _ in variants}
    cpu = {label: [] for label, _, _ in variants}
    for ask in (now, before):  # warms up caches, the emulator's too
        if ask is not None:
            backlog()
            ask("drain")
    for i in range(args.rounds):
        turn = variants[i % len(variants):] + variants[:i % len(variants)]
        for label, prepare, fn in turn:
            sink.delete_query("*:*", commit=True)
            if args.db == "postgres":  # untimed: the rounds before left dead change rows (see the docstring)
                with connection.cursor() as cur:
                    cur.execute("VACUUM solrsync_change")
            if prepare:
                prepare()
            solr_cpu = solr_pid and cpu_seconds(solr_pid)
            n, took, ours, db = fn()
            assert not Change.objects.exists(), "the change log is not empty"
            rates[label].append(n / took)
            cpu[label].append((ours / n * 1e6, db / n * 1e6,
                               (cpu_seconds(solr_pid) - solr_cpu) / n * 1e6 if solr_pid else 0.0))
            print("  round %d, %-20s %6d docs in %.2fs: %.0f docs/s" % (i + 1, label, n, took, rates[label][-1]))
    for proc in children:
        proc.stdin.close()
        proc.wait(60)
    print("machine: %s, %s cores, Python %s; database: %s; Solr: %s; %d layers, "
          "batch %d, %d rounds" % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version(),
                                   args.db, "real, " + os.environ["SOLR"] if os.environ.get("SOLR") else
                                   "the emulator in its own process", args.layers, syncer.settings.BATCH_SIZE, args.rounds))
    med = {k: statistics.median(v) for k, v in rates.items()}
    base_cpu = None
    for label in rates:
        ours, db, solr_cpu = (statistics.median(c[j] for c in cpu[label]) for j in range(3))
        total = ours + db + solr_cpu
        base_cpu = base_cpu or total
        print("  %-20s median %7.0f docs/s  (%.2f x reindex-1)   CPU ms per 1,000 docs: ours %.0f, database %.0f, "
              "Solr %.0f, all %.0f (%.2f x reindex-1)   rounds: %s" % (
                  label, med[label], med[label] / med["reindex-1"], ours, db, solr_cpu, total, total / base_cpu,
                  " / ".join("%.0f" % r for r in rates[label])))


def serve():
    """The child of ``--before``: drains the parent's database with the code it was started with,
    once per line read, answering [documents, seconds, its CPU, its backend's CPU] (JSON)."""
    import json
    import logging
    from reindex_throughput import cpu_seconds
    sys.path.insert(0, os.path.join(os.environ["SOLRSYNC_BENCH_CODE"], "contrib", "django", "demo"))
    import django
    django.setup()
    logging.getLogger("solrsync").setLevel(logging.ERROR)
    from django.db import connection
    from solrsync.contrib.django.runtime import get_syncer
    syncer = get_syncer()
    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
    from solrsync import sync as sync_module
    from solrsync.reindex import reindex
    helpers = [0.0]  # the CPU of the backends of the drain's helper streams, read as they close
    if backend is not None:
        close = syncer.changelog.close_thread_connection

        def closing():
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                helpers[0] += cpu_seconds(cur.fetchone()[0])
            close()
        syncer.changelog.close_thread_connection = closing
    for line in sys.stdin:
        helpers[0] = 0.0
        marks = cpu_seconds(), backend and cpu_seconds(backend), time.perf_counter()
        if line.strip() == "reindex":
            n = reindex(syncer, "layers", commit=False).indexed
        else:  # "drain", or "drain 1": one stream (solrsync.sync.DRAIN_STREAMS, where the code has it)
            streams = getattr(sync_module, "DRAIN_STREAMS", None)
            if line.split()[1:] and streams:
                sync_module.DRAIN_STREAMS = int(line.split()[1])
            try:
                n = syncer.drain("layers", coalesce=False).indexed
            finally:
                if streams:
                    sync_module.DRAIN_STREAMS = streams
        took = time.perf_counter() - marks[2]
        print(json.dumps([n, took, cpu_seconds() - marks[0],
                          cpu_seconds(backend) - marks[1] + helpers[0] if backend else 0.0]),
              flush=True)


if __name__ == "__main__":
    main()
