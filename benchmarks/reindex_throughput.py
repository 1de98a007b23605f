"""Reindex throughput against raw ingest, SQL queries per 1,000 layers, and peak memory vs rows.

    .venv/bin/python benchmarks/reindex_throughput.py --rows 20000              # CI-sized, emulator
    .venv/bin/python benchmarks/reindex_throughput.py --rows 200000 --rounds 3
    SOLR=http://127.0.0.1:8983/solr/layers SOLR_PID=$(cat /tmp/realsolr-home-8983/solr.pid) \
        .venv/bin/python benchmarks/reindex_throughput.py --rows 200000 --rounds 3
    .venv/bin/python benchmarks/reindex_throughput.py --memory 100000,400000   # peak RSS per row count
    .venv/bin/python benchmarks/reindex_throughput.py --memory 100000,400000 --workers 2
    .venv/bin/python benchmarks/reindex_throughput.py --parts --rows 50000    # CPU per document, by part
    .venv/bin/python benchmarks/reindex_throughput.py --progress-per-chunk    # and progress written per chunk
    .venv/bin/python benchmarks/reindex_throughput.py --serial --only reindex-1,serial-1  # posting thread or not
    .venv/bin/python benchmarks/reindex_throughput.py --rows 60000 --rounds 5 --only reindex-1 --before main

Throughput: in each round, side by side, (a) raw ingest -- the same documents, pre-built as JSON,
posted with the same batch size over one session to the same Solr, each with solrsync_version 1 --
(a') raw-2: the very requests a reindex sends (captured from the untimed warm-up one: each document
with its version of the database's clock and the pipeline that wrote it, as every write of ours),
posted over 2 sessions at once, two under way: Solr's ceiling for them -- and (b) `reindex` in this
process, with 2 and 4 worker threads, and with 2 and 3 worker processes. Prints medians, the ratio
of each to raw and raw-2, and the CPU each side spends per document (ours: this process and its
workers; Solr's: the emulator's process, or SOLR_PID). The emulator (unless SOLR names a real core)
runs in its own process so it does not share our interpreter.
``--before REF``: reindex-1 also as the code of REF (a branch: ``main``) runs it, in a child process
importing that revision (code_of.py), on the same database and Solr, in the same rounds; reindex-1
then runs in a child process too, so both sides are alike.
"""
import argparse
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")


def setup_django(var, dbname=None):
    sys.path.insert(0, DEMO)
    os.environ["SOLRSYNC_DEMO_VAR"] = var
    if dbname:
        os.environ["SOLRSYNC_DEMO_DBNAME"] = dbname
    os.environ["DJANGO_SETTINGS_MODULE"] = "demoproject.settings"
    os.environ.setdefault("SOLRSYNC_QUEUE_URL", "memory://")
    import django
    django.setup()


def make_db(var, rows):
    """A SQLite demo database with ``rows`` layers (cached per row count)."""
    path = os.path.join(var, "bench-%d.sqlite3" % rows)
    env = dict(os.environ, SOLRSYNC_DEMO_VAR=var, SOLRSYNC_DEMO_DBNAME=path, SOLRSYNC_QUEUE_URL="memory://",
               PYTHONPATH=DEMO)
    fresh = not os.path.exists(path)
    # a cached database made by an older solrsync gets the newer migrations
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=DEMO, env=env, check=True)
    if fresh:
        code = ("import django;django.setup();from layers.management.commands.demo import Command;"
                "Command().load(%d)" % rows)
        subprocess.run([sys.executable, "-c", code], cwd=DEMO, env=dict(env, DJANGO_SETTINGS_MODULE="demoproject.settings"),
                       check=True)
    return path


def start_solr():
    if os.environ.get("SOLR"):
        return os.environ["SOLR"], None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "solrsync.testing.emulator", "--port", str(port)],
                            stdout=subprocess.DEVNULL, cwd=ROOT)
    url = "http://127.0.0.1:%d/solr/layers" % port
    import requests
    for _ in range(100):
        try:
            requests.get(url + "/admin/ping", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.1)
    return url, proc


def cpu_seconds(pid=None):
    """CPU time (user + system) of process ``pid`` from /proc, or of this process and its reaped
    children (reindex's worker processes)."""
    if pid is not None:
        fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def throughput(args, var):
    path = make_db(var, args.rows)
    url, proc = start_solr()
    os.environ["SOLRSYNC_SOLR_URL"] = url
    setup_django(var, path)
    import requests
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync import reindex as reindex_module
    from solrsync.reindex import reindex
    from solrsync.sink import SolrSink
    syncer = get_syncer()
    sink = syncer.sink("layers")
    progress_seconds = reindex_module.PROGRESS_SECONDS
    children = []
    try:
        # the documents, pre-built once, as the raw-ingest reference posts them
        export = os.path.join(var, "docs.jsonl")
        with CaptureQueriesContext(connection) as ctx:
            result = reindex(syncer, "layers", batch_size=args.batch, export=export)
        queries = len(ctx.captured_queries)
        # stamped with a version where the core orders writes by it, as every write of ours is
        stamp = ',"solrsync_version":1}' if sink.versioned else "}"
        docs = [line.strip()[:-1] + stamp for line in open(export)]
        bodies = ["[" + ",".join(d.strip() for d in docs[i:i + args.batch]) + "]"
                  for i in range(0, len(docs), args.batch)]
        session = requests.Session()
        # the requests a reindex sends, captured from an untimed one (it also warms up Solr): raw-2's
        sent, real_post = [], SolrSink._post

        def capture(self, message, *a, adds=0, **kw):
            if adds:
                sent.append(message)
            return real_post(self, message, *a, adds=adds, **kw)
        SolrSink._post = capture
        try:
            reindex(syncer, "layers", batch_size=args.batch, commit=False)
        finally:
            SolrSink._post = real_post
        variants = [("reindex-1", 1, "processes"), ("threads-2", 2, "threads"), ("threads-4", 4, "threads"),
                    ("processes-2", 2, "processes"), ("processes-3", 3, "processes")]
        if args.progress_per_chunk:  # before: progress written to the database after every chunk
            variants.insert(1, ("per-chunk-1", 1, "processes"))
        if args.serial:  # before: one process building a chunk, then posting it, in turn
            variants.insert(1, ("serial-1", 1, "processes"))
        if args.only:
            variants = [v for v in variants if v[0] in args.only.split(",")]
        if args.before:  # reindex-1 in a child process of this code and one of REF's
            from code_of import checkout
            now, before = reindexer(ROOT, children), reindexer(checkout(args.before), children)
            variants = [(label, 1, now) if label == "reindex-1" else (label, w, p) for label, w, p in variants]
            variants.append(("reindex-1@" + args.before, 1, before))
        rates = {"raw": []}
        rates.update((label, []) for label, _, _ in variants)
        # CPU per document, ours and Solr's (the emulator's process, or SOLR_PID for a real Solr)
        solr_pid = proc.pid if proc is not None else (int(os.environ["SOLR_PID"]) if os.environ.get("SOLR_PID")
                                                        else None)
        cpu = {k: [] for k in rates}

        def measured(label, n, fn):
            ours, theirs, started = cpu_seconds(), solr_pid and cpu_seconds(solr_pid), time.perf_counter()
            fn()
            rates[label].append(n / (time.perf_counter() - started))
            cpu[label].append(((cpu_seconds() - ours) / n * 1e6,
                               (cpu_seconds(solr_pid) - theirs) / n * 1e6 if solr_pid else None))
        def raw():
            for body in bodies:
                r = session.post(url + "/update?commitWithin=1500&wt=json", data=body,
                                 headers={"Content-Type": "application/json"})
                assert r.status_code == 200, r.text[:300]

        def raw2():
            todo, lock = iter(sent), threading.Lock()

            def post():  # as the sink posts them, on a session of its own
                with requests.Session() as own:
                    while True:
                        with lock:
                            body = next(todo, None)
                        if body is None:
                            return
                        r = own.post(url + "/update/?commitWithin=1500", data=body.encode(),
                                     headers={"Content-type": "application/json; charset=utf-8"})
                        assert r.status_code == 200, r.text[:300]
            posters = [threading.Thread(target=post) for _ in range(2)]
            for t in posters:
                t.start()
            for t in posters:
                t.join()

        rates["raw-2"], cpu["raw-2"] = [], []
        sink.delete_query("*:*", commit=True)
        raw()  # untimed: warms up (a JVM's JIT, caches)
        for ask in children:
            sink.delete_query("*:*", commit=True)
            ask()  # untimed: each child's first reindex

        def run(label, workers, parallel):
            if callable(parallel):  # a child process: its own CPU, as it measured it
                solr_cpu = solr_pid and cpu_seconds(solr_pid)
                n, took, ours = parallel()
                rates[label].append(n / took)
                cpu[label].append((ours / n * 1e6, (cpu_seconds(solr_pid) - solr_cpu) / n * 1e6
                                   if solr_pid else None))
                return
            reindex_module.PROGRESS_SECONDS = 0 if label.startswith("per-chunk") else progress_seconds
            reindex_module.POST_IN_THREAD = not label.startswith(("serial", "per-chunk"))
            measured(label, len(docs), lambda: reindex(syncer, "layers", batch_size=args.batch,
                                                         workers=workers, parallel=parallel, commit=False))
        turns = [("raw", None, raw), ("raw-2", None, raw2)] + variants
        for i in range(args.rounds):  # the order rotates from round to round
            for label, workers, fn in turns[i % len(turns):] + turns[:i % len(turns)]:
                sink.delete_query("*:*", commit=True)
                if label.startswith("raw"):
                    measured(label, len(docs), fn)
                else:
                    run(label, workers, fn)
        sink.commit()
        med = {k: statistics.median(v) for k, v in rates.items()}
        print("machine: %s, %s cores, Python %s; Solr: %s" % (platform.machine(), os.cpu_count(),
              platform.python_version(), "real " + url if proc is None else "emulator"))
        print("rows %d (%d published), batch %d, %d rounds" % (args.rows, len(docs), args.batch, args.rounds))
        for k, v in med.items():
            ours = statistics.median(c[0] for c in cpu[k])
            theirs = statistics.median(c[1] for c in cpu[k]) if solr_pid else None
            # Solr busy: the share of the run Solr's process spent working (the rest it waited for us)
            print("  %-15s median %8.0f docs/s   CPU per doc: ours %5.1f us, Solr's %s   rounds: %s" % (
                k, v, ours, "%5.1f us (busy %.0f %%)" % (theirs, v * theirs / 1e4) if theirs is not None
                else "? (set SOLR_PID)", ", ".join("%.0f" % x for x in rates[k])))
        # and the median of each round's ratio: the machine's load moves a round's variants together
        paired = lambda k, ref: statistics.median(a / b for a, b in zip(rates[k], rates[ref]))  # noqa: E731
        for k in med:
            if not k.startswith("raw"):
                print("  ratio %s / raw = %.2f, / raw-2 = %.2f; per round: %.2f, %.2f%s" % (
                    k, med[k] / med["raw"], med[k] / med["raw-2"], paired(k, "raw"), paired(k, "raw-2"),
                    ", / reindex-1@%s %.2f" % (args.before, paired(k, "reindex-1@" + args.before))
                    if args.before and k == "reindex-1" else ""))
        print("  SQL queries: %d for %d rows = %.1f per 1,000 layers" % (queries, result.seen,
                                                                        queries * 1000.0 / result.seen))
    finally:
        for ask in children:
            ask.proc.stdin.close()
            ask.proc.wait(60)
        if proc is not None:
            proc.terminate()


def reindexer(code, children):
    """A process reindexing with the code in directory ``code`` (code_of.py), once per call ->
    (documents, seconds, its CPU): the parent's database and Solr, from its environment."""
    from code_of import environ
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve"], env=environ(code),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=code)

    def ask():
        proc.stdin.write("reindex\n")
        proc.stdin.flush()
        return tuple(json.loads(proc.stdout.readline()))
    ask.proc = proc
    children.append(ask)
    return ask


def serve(args):
    """The child of ``--before``: a reindex-1 per line read, answering [documents, seconds, CPU]."""
    sys.path.insert(0, os.path.join(os.environ["SOLRSYNC_BENCH_CODE"], "contrib", "django", "demo"))
    import django
    django.setup()
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    syncer = get_syncer()
    for _ in sys.stdin:
        marks = cpu_seconds(), time.perf_counter()
        n = reindex(syncer, "layers", batch_size=args.batch, commit=False).indexed
        print(json.dumps([n, time.perf_counter() - marks[1], cpu_seconds() - marks[0]]), flush=True)


def parts(args, var):
    """CPU per document of the reindex's parts, side by side in this process on the same chunks:
    reading rows; building them through ``Document.build_general`` (``Field.value`` per field) and
    through the generated function ``Document.build`` uses for flat rows; JSON by the json module and by to_json."""
    import gc
    import json
    import logging
    setup_django(var, make_db(var, args.rows))
    logging.disable(logging.WARNING)  # the demo's broken bboxes
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.streaming import fewer_collections
    from solrsync.sink import to_json
    source = get_syncer().sources["layers"]
    document = source.pipeline.document
    chunks = []
    general = document.build_general

    def read():
        chunks[:] = list(source.iter_chunks(args.batch))
    def build(fn):
        return lambda: [[fn(row)[0] for row in rows] for rows in chunks]
    read()
    docs = build(document.build)()
    assert docs == build(general)(), "the two build paths disagree"
    n = sum(map(len, chunks))
    parts = [("read rows", read), ("build, general path", build(general)), ("build, generated", build(document.build)),
             ("JSON, json module", lambda: [json.dumps(d) for d in docs]), ("JSON, to_json", lambda: [to_json(d) for d in docs])]
    times = {label: [] for label, _ in parts}
    with fewer_collections():
        for _ in range(args.rounds):
            for label, fn in parts:
                gc.collect()
                started = time.process_time()
                fn()
                times[label].append((time.process_time() - started) / n * 1e6)
    print("machine: %s, %s cores, Python %s; %d rows, %d rounds" % (platform.machine(), os.cpu_count(),
                                                                     platform.python_version(), n, args.rounds))
    for label, values in times.items():
        print("  %-20s median %6.2f us per document" % (label, statistics.median(values)))


def memory(args, var):
    print("machine: %s, %s cores, Python %s" % (platform.machine(), os.cpu_count(), platform.python_version()))
    url, proc = start_solr()
    try:
        for rows in [int(r) for r in args.memory.split(",")]:
            path = make_db(var, rows)
            env = dict(os.environ, SOLRSYNC_SOLR_URL=url)
            out = subprocess.run([sys.executable, __file__, "--child", path, "--batch", str(args.batch),
                                  "--workers", str(args.workers)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            print("  rows %7d: %s" % (rows, out.strip()))
    finally:
        if proc is not None:
            proc.terminate()


def child(args, var):
    setup_django(var, args.child)
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    res = reindex(get_syncer(), "layers", batch_size=args.batch, workers=args.workers)
    print("indexed %d, peak RSS %.1f MB%s" % (
        res.indexed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        ", largest worker process %.1f MB" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0)
        if args.workers > 1 else ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory", help="comma-separated row counts: peak RSS of a full reindex for each")
    ap.add_argument("--workers", type=int, default=1, help="--memory: reindex with this many worker processes")
    ap.add_argument("--var", default=os.path.join(tempfile.gettempdir(), "solrsync-bench"))
    ap.add_argument("--parts", action="store_true", help="CPU per document of reading, building and JSON")
    ap.add_argument("--progress-per-chunk", action="store_true",
                    help="also reindex-1 writing its progress after every chunk (as before PROGRESS_SECONDS)")
    ap.add_argument("--serial", action="store_true",
                    help="also reindex-1 building and posting in turn (as before the posting thread)")
    ap.add_argument("--only", help="comma-separated variants to run (reindex-1,serial-1,threads-2,...)")
    ap.add_argument("--before", metavar="REF", help="also reindex-1 as REF's code (main), side by side")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the child of --before
    args = ap.parse_args()
    os.makedirs(args.var, exist_ok=True)
    if args.serve:
        serve(args)
    elif args.child:
        child(args, args.var)
    elif args.memory:
        memory(args, args.var)
    elif args.parts:
        parts(args, args.var)
    else:
        throughput(args, args.var)


if __name__ == "__main__":
    main()
