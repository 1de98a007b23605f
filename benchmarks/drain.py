"""The live path against a reindex, in one process, on the same rows: a backlog of a change per
layer drained by ``Syncer.drain`` (what one consumer process does), a related change naming
every layer streamed (``Syncer.apply_related``: a keyword on all of them renamed), and a reindex
in one process -- in interleaved rounds, the order rotating.

    .venv/bin/python benchmarks/drain.py --db postgres --layers 20000 --rounds 5
    .venv/bin/python benchmarks/drain.py --db sqlite --layers 20000 --rounds 5
    .venv/bin/python benchmarks/drain.py --db postgres --before    # also the previous key lookups

Demo layers (``manage.py demo``'s generator), every one also linked to one keyword; the Solr
emulator in its own process. Per variant: docs/s (median) and CPU per 1,000 documents -- this
process (ours), the database's backend (PostgreSQL, from /proc; SQLite runs in ours) and the
emulator's process. Not timed: recording the backlog (one INSERT ... SELECT) or the related row.
``--before`` adds the drain and the related stream with the keys of each batch passed as before
this issue's changes: Django's ``__in`` (a placeholder per key, no range) for the rows read
(``source.among``), the change rows' DELETE and the failures' in slices of 500 through the ORM
(``DjangoChangeLog._AMONG`` empty), a claimed change's lease checked through the ORM
(``DjangoChangeLog._CHANGE_LEASE_SQL`` empty).
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
    ap.add_argument("--before", action="store_true", help="also the previous key lookups (Django's __in)")
    args = ap.parse_args()
    from reindex_throughput import cpu_seconds, start_solr
    from save_path import setup
    var = tempfile.mkdtemp(prefix="solrsync-drain-")
    url, solr = start_solr()
    try:
        setup(args.db, var, url, queue="memory://")
        run(args, solr, cpu_seconds)
    finally:
        if solr is not None:
            solr.terminate()


def run(args, solr, cpu_seconds):
    import logging
    logging.getLogger("solrsync").setLevel(logging.ERROR)  # the demo's odd bounding boxes warn on every build
    from django.db import connection, transaction
    from layers.management.commands.demo import Command
    from layers.models import Keyword, Layer
    from solrsync.contrib.django import source as source_module
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import enqueue, hooks_disabled
    from solrsync.contrib.django.store import DjangoChangeLog
    from solrsync.pipeline import RELATED
    from solrsync.reindex import reindex
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
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
    else:
        backend = None
    among, store_among, lease_sql = source_module.among, DjangoChangeLog._AMONG, DjangoChangeLog._CHANGE_LEASE_SQL

    def before(qs, name, keys):  # the lookup before source.among: a placeholder per key
        return qs.filter(**{name + "__in": list(keys)})

    def backlog():
        enqueue("layers", Layer.objects.all())

    def related():
        Change.objects.create(pipeline="layers", object_pk="keywords__id", doc_id=str(kw.pk), op=RELATED,
                              created=syncer.changelog._stamp())

    def drained():
        report = syncer.drain("layers", coalesce=False)
        assert not Change.objects.exists(), "the change log is not empty"
        return report.indexed

    variants = [("reindex-1", None, lambda: reindex(syncer, "layers", commit=False).indexed),
                ("drain", backlog, drained), ("related set", related, drained)]
    if args.before:
        variants += [("drain, before", backlog, drained), ("related set, before", related, drained)]
    rates = {label: [] for label, _, _ in variants}
    cpu = {label: [] for label, _, _ in variants}
    drained_untimed = (backlog(), drained())  # warms up caches, the emulator's too
    for i in range(args.rounds):
        turn = variants[i % len(variants):] + variants[:i % len(variants)]
        for label, prepare, fn in turn:
            sink.delete_query("*:*", commit=True)
            old = label.endswith("before")
            source_module.among = before if old else among
            DjangoChangeLog._AMONG = {} if old else store_among
            DjangoChangeLog._CHANGE_LEASE_SQL = {} if old else lease_sql
            if prepare:
                prepare()
            marks = (cpu_seconds(), backend and cpu_seconds(backend), solr and cpu_seconds(solr.pid),
                     time.perf_counter())
            n = fn()
            took = time.perf_counter() - marks[3]
            rates[label].append(n / took)
            cpu[label].append(((cpu_seconds() - marks[0]) / n * 1e6,
                               (cpu_seconds(backend) - marks[1]) / n * 1e6 if backend else 0.0,
                               (cpu_seconds(solr.pid) - marks[2]) / n * 1e6 if solr else 0.0))
            print("  round %d, %-20s %6d docs in %.2fs: %.0f docs/s" % (i + 1, label, n, took, rates[label][-1]))
    source_module.among, DjangoChangeLog._AMONG, DjangoChangeLog._CHANGE_LEASE_SQL = among, store_among, lease_sql
    del drained_untimed
    print("machine: %s, %s cores, Python %s; database: %s; Solr: the emulator in its own process; %d layers, "
          "batch %d, %d rounds" % (platform.processor() or platform.machine(), os.cpu_count(), platform.python_version(),
                                   args.db, args.layers, syncer.settings.BATCH_SIZE, args.rounds))
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


if __name__ == "__main__":
    main()
