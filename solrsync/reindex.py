"""Full resync: stream every row in primary-key order, in chunks, and post batches.

Memory stays flat in the row count: a chunk of rows and a few batches of documents at a time
(``--prune``, ``--verify`` and ``--swap`` also keep the set of live document ids). The periodic
resync task and ``solrsync reindex`` both run this code.

* ``workers`` > 1: that many forked processes each read, build and post whole chunks, while this
  process hands out primary-key ranges and accounts for them in order. Reading and building are
  CPU-bound Python: threads (``parallel="threads"``) share one interpreter lock, processes do not
  (benchmarks/reindex_throughput.py measures both).
* ``state_file``: after every acknowledged batch the last primary key is written there, so an
  interrupted run can continue (``resume=True``) where it stopped.
* ``swap``: build into a fresh core (CoreAdmin CREATE from the configset), catch up with the
  changes made meanwhile, then SWAP it with the live core; searchers never see a half index.
"""
import collections
import contextlib
import datetime as dt
import gc
import json
import logging
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
import threading
import time

import requests

from .sink import SolrRequestError, SolrUnavailable, to_json
from .sync import Report, build_documents

log = logging.getLogger("solrsync.reindex")


class ReindexResult(Report):
    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline
        self.seen = 0
        self.skipped = collections.Counter()  # reason -> count
        self.elapsed = 0.0
        self.last_pk = None
        self.core = None
        self.missing = []       # --verify: ids the DB has and Solr lacks
        self.extra = []         # --verify: ids Solr has and the DB does not
        self.interrupted = False

    @property
    def rate(self):
        return self.indexed / self.elapsed if self.elapsed else 0.0

    def summary(self):
        skipped = sum(self.skipped.values())
        reasons = ", ".join("%d %s" % (n, why) for why, n in self.skipped.most_common())
        return ("%s: indexed %d, skipped %d%s, rejected %d, deleted %d, warnings %d in %.1fs (%.0f docs/s)"
                % (self.pipeline, self.indexed, skipped, " (%s)" % reasons if reasons else "", len(self.rejected),
                   self.deleted, self.warnings, self.elapsed, self.rate))


class StateFile:
    """Where an interrupted reindex stopped: {pipeline: {"last_pk", "core", "since", ...}}."""

    def __init__(self, path):
        self.path = path

    def read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError:
            raise ValueError("state file %s is not valid JSON" % self.path)

    def get(self, pipeline):
        return self.read().get(pipeline)

    def put(self, pipeline, value):
        data = self.read()
        if value is None:
            data.pop(pipeline, None)
        else:
            data[pipeline] = value
        if not data:
            if os.path.exists(self.path):
                os.remove(self.path)
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, default=str)
        os.replace(tmp, self.path)


def reindex(syncer, pipeline_name, batch_size=None, since=None, pks=None, dry_run=False, prune=False,
            after=None, core=None, on_batch=None, commit=True, workers=1, export=None, state_file=None,
            resume=False, swap=False, verify=False, parallel="processes"):
    """Push every row of ``pipeline_name`` (or those changed ``since`` / listed in ``pks``) to Solr."""
    settings = syncer.settings
    pipeline = syncer.pipeline(pipeline_name)
    state = StateFile(state_file) if state_file else None
    batch_size = batch_size or settings.BATCH_SIZE
    started_at = dt.datetime.now(dt.timezone.utc)
    if resume:
        saved = state.get(pipeline_name) if state else None
        if not saved:
            raise ValueError("nothing to resume for %s (no entry in %s)" % (pipeline_name, state_file))
        after = saved["last_pk"]
        core = saved.get("core") or core
        swap = saved.get("swap", swap)
        started_at = dt.datetime.fromisoformat(saved["started"])
        log.warning("%s: resuming after pk %s into core %s", pipeline_name, after, core or pipeline.core)
    elif swap and not dry_run and export is None:
        core = "%s_rebuild_%s" % (pipeline.core, started_at.strftime("%Y%m%d%H%M%S"))
        core_admin(settings, action="CREATE", name=core, instanceDir=core, configSet=settings.SOLR_CONFIGSET)
        log.warning("%s: building into fresh core %s", pipeline_name, core)
    live_ids = set() if (prune or verify or swap) and since is None and pks is None else None
    with fewer_collections():
        result = _stream(syncer, pipeline_name, batch_size, since, pks, after, core, on_batch, workers, export,
                         dry_run or verify, live_ids, state, started_at, swap, parallel)
    if result.interrupted:
        return result
    target = core or pipeline.core
    sink = syncer.sink(pipeline_name, core=target)
    if verify:
        solr_ids = set(sink.iter_ids())
        result.missing = sorted(live_ids - solr_ids)
        result.extra = sorted(solr_ids - live_ids)
        return result
    if export is None and not dry_run:
        if swap:
            # rows changed while we streamed: push them into the new core before it goes live
            catch_up = dt.datetime.now(dt.timezone.utc)
            _catch_up(syncer, pipeline_name, target, started_at, batch_size, result)
        if live_ids is not None and (prune or swap):
            stale = [doc_id for doc_id in sink.iter_ids() if doc_id not in live_ids]
            for i in range(0, len(stale), batch_size):
                result.deleted += sink.delete_ids(stale[i:i + batch_size])
        if commit or swap:
            sink.commit()
        if swap:
            core_admin(settings, action="SWAP", core=pipeline.core, other=target)
            core_admin(settings, action="UNLOAD", core=target, deleteIndex="true")
            log.warning("%s: swapped %s live as %s", pipeline_name, target, pipeline.core)
            # and what changed between the catch-up and the swap, into the core now live
            _catch_up(syncer, pipeline_name, pipeline.core, catch_up, batch_size, result)
            syncer.sink(pipeline_name).commit()
    if state:
        state.put(pipeline_name, None)
    result.core = target
    log.info(result.summary())
    return result


def _stream(syncer, name, batch_size, since, pks, after, core, on_batch, workers, export, dry_run, live_ids,
            state, started_at, swap, parallel):
    pipeline = syncer.pipeline(name)
    source = syncer.sources[name]
    result = ReindexResult(name)
    result.core = core or pipeline.core
    began = time.monotonic()
    pool = None
    if workers > 1 and not dry_run and export is None:
        pool = _start_pool(syncer, name, workers, parallel)
    in_flight = collections.deque()  # (async result, last pk of that chunk), in pk order
    out = open(export, "w") if export else None

    def account(chunk, last_pk):
        """Add one finished chunk to the result, in pk order (so last_pk only moves past posted rows)."""
        result.seen += chunk.rows
        result.indexed += chunk.docs - len(chunk.refused)
        result.warnings += chunk.warnings
        if chunk.rows - chunk.docs:
            result.skipped["no document id"] += chunk.rows - chunk.docs
            result.rejected.extend(chunk.no_id)
        for r in chunk.refused:
            result.reject(name, r)
            result.skipped["rejected by Solr"] += 1
        if live_ids is not None:
            live_ids.update(chunk.ids)
        result.last_pk = last_pk
        if state is not None and out is None and not dry_run:
            state.put(name, {"last_pk": last_pk, "core": result.core, "swap": swap,
                             "started": started_at.isoformat()})
        result.elapsed = time.monotonic() - began
        if on_batch:
            on_batch(result, chunk.rows)

    def acknowledge(limit):
        """Account for finished chunks, waiting while more than ``limit`` are in flight."""
        while in_flight and (in_flight[0][0].ready() or len(in_flight) > limit):
            pending, last_pk = in_flight.popleft()
            account(pending.get(), last_pk)

    try:
        if pool is None:
            for rows in source.iter_chunks(batch_size, since=since, pks=pks, after=after):
                chunk = Chunk(syncer, name, rows, live_ids is not None)
                if out is not None:
                    out.writelines(to_json(doc) + "\n" for doc in chunk.built)
                elif not dry_run:
                    chunk.post(syncer.sink(name, core=core))
                account(chunk, source.pk_of(rows[-1]))
        else:
            for first, last, _ in source.iter_ranges(batch_size, since=since, pks=pks, after=after):
                in_flight.append((pool.apply_async(_work, (name, first, last, since, pks, core,
                                                           live_ids is not None)), last))
                acknowledge(limit=workers * 2)
            acknowledge(limit=0)
    except KeyboardInterrupt:
        result.interrupted = True
        try:
            acknowledge(limit=0)
            if not dry_run and out is None:
                syncer.sink(name, core=core).commit()  # what was posted becomes visible: no half batch
        except (SolrUnavailable, SolrRequestError, KeyboardInterrupt):
            pass
    finally:
        if pool is not None:
            pool.terminate()  # every chunk handed out was accounted for, or we are failing anyway
            pool.join()
        if out is not None:
            out.close()
    result.elapsed = time.monotonic() - began
    return result


class Chunk:
    """One chunk of rows built into documents, then posted; what the reindex accounts for.
    Built and posted in a worker (process or thread) when ``workers`` > 1."""

    def __init__(self, syncer, name, rows, keep_ids):
        pipeline, source = syncer.pipeline(name), syncer.sources[name]
        report = Report()
        self.built = [doc for _, doc in build_documents(pipeline, rows, report, source.pk_of)]
        self.rows, self.docs = len(rows), len(self.built)
        self.warnings, self.no_id = report.warnings, report.rejected
        self.ids = [doc["id"] for doc in self.built] if keep_ids else ()
        self.refused = []

    def post(self, sink):
        self.refused = sink.add_batch(self.built) if self.built else []
        self.built = None  # not sent back from a worker process
        return self


_worker = {}  # in a worker: the syncer (inherited through fork, or shared by threads)


def _work(name, first, last, since, pks, core, keep_ids):
    syncer = _worker["syncer"]
    rows = syncer.sources[name].chunk(first, last, since=since, pks=pks)
    return Chunk(syncer, name, rows, keep_ids).post(syncer.sink(name, core=core))


@contextlib.contextmanager
def fewer_collections():
    """A reindex allocates millions of short-lived dicts and lists, none in a reference cycle:
    refcounting frees them. CPython's cycle collector, run every 700 allocations by default,
    took a quarter of the time spent reading rows; here it runs every 50,000."""
    before = gc.get_threshold()
    gc.set_threshold(50000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _forked():
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    gc.freeze()  # what the worker inherited is never garbage: keep the collector off it
    gc.set_threshold(50000, *gc.get_threshold()[1:])
    _worker["syncer"]._local = threading.local()  # no HTTP connection shared with the parent


def _start_pool(syncer, name, workers, parallel):
    """``workers`` processes (forked, each reading, building and posting whole chunks) or threads."""
    _worker["syncer"] = syncer
    if parallel == "threads":
        return multiprocessing.pool.ThreadPool(workers)
    if parallel != "processes":
        raise ValueError("parallel must be processes or threads, not %r" % (parallel,))
    # the pool forks every worker now, while this process holds no database connection whose
    # socket a child could inherit (and close under us)
    syncer.sources[name].close()
    return multiprocessing.get_context("fork").Pool(workers, initializer=_forked)


def _catch_up(syncer, name, core, since, batch_size, result):
    pipeline = syncer.pipeline(name)
    source = syncer.sources[name]
    if not pipeline.modified_field:
        return
    sink = syncer.sink(name, core=core)
    for rows in source.iter_chunks(batch_size, since=since):
        docs = [doc for _, doc in build_documents(pipeline, rows, result, source.pk_of)]
        sink.add_batch(docs)


def core_admin(settings, **params):
    """CoreAdmin over plain requests (pysolr's SolrCoreAdmin sends a GET body and acts as STATUS)."""
    params.setdefault("wt", "json")
    url = settings.solr_base + "/admin/cores"
    try:
        resp = requests.get(url, params=params, timeout=max(60, settings.SOLR_TIMEOUT), verify=settings.SOLR_VERIFY_TLS,
                            auth=settings.solr_auth)
    except requests.RequestException as exc:
        raise SolrUnavailable("CoreAdmin %s: %s" % (params.get("action"), exc))
    if resp.status_code != 200:
        try:
            msg = resp.json()["error"]["msg"]
        except (ValueError, KeyError):
            msg = resp.text[:300]
        raise SolrRequestError(resp.status_code, "CoreAdmin %s failed: %s" % (params.get("action"), msg))
    return resp.json()


class Progress:
    """A tqdm bar (rate, ETA) on a terminal; plain log lines every few seconds otherwise."""

    def __init__(self, name, total, quiet=False, stream=None):
        self.name, self.total, self.quiet = name, total, quiet
        self.stream = stream or sys.stderr
        self.bar = None
        self.last = 0.0
        if not quiet and self.stream.isatty():
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=name, unit="rows", file=self.stream, dynamic_ncols=True)
            except ImportError:
                pass

    def __call__(self, result, n):
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if now - self.last >= 5 or (self.total and result.seen >= self.total):
            self.last = now
            pct = " (%.0f%%)" % (100.0 * result.seen / self.total) if self.total else ""
            print("%s: %d/%s rows%s, %.0f docs/s" % (self.name, result.seen, self.total or "?", pct, result.rate),
                  file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
