"""Full resync: stream every row in primary-key order, in chunks, and post batches.

Memory stays flat in the row count: a chunk of rows and a few batches of documents at a time
(``--prune``, ``--verify`` and ``--swap`` also keep the set of live document ids). The periodic
resync task and ``solrsync reindex`` both run this code.

* ``workers`` > 1: batches are posted by that many threads while the main thread keeps loading
  rows and building documents (building is CPU-bound Python, posting waits on Solr).
* ``state_file``: after every acknowledged batch the last primary key is written there, so an
  interrupted run can continue (``resume=True``) where it stopped.
* ``swap``: build into a fresh core (CoreAdmin CREATE from the configset), catch up with the
  changes made meanwhile, then SWAP it with the live core; searchers never see a half index.
"""
import collections
import datetime as dt
import json
import logging
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .sink import SolrRequestError, SolrUnavailable
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
            resume=False, swap=False, verify=False):
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
    result = _stream(syncer, pipeline_name, batch_size, since, pks, after, core, on_batch, workers, export,
                     dry_run or verify, live_ids, state, started_at, swap)
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
            state, started_at, swap):
    pipeline = syncer.pipeline(name)
    source = syncer.sources[name]
    result = ReindexResult(name)
    result.core = core or pipeline.core
    began = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 and not dry_run and export is None else None
    in_flight = collections.deque()  # (future, last pk of that batch), in pk order
    out = open(export, "w") if export else None

    def acknowledge(limit):
        """Account for finished batches in pk order (so last_pk only moves past posted rows),
        waiting while more than ``limit`` are in flight."""
        while in_flight and (in_flight[0][0].done() or len(in_flight) > limit):
            future, last_pk = in_flight.popleft()
            for r in future.result():
                reject(r)
            mark(last_pk)

    def reject(r):
        result.reject(name, r)
        result.indexed -= 1
        result.skipped["rejected by Solr"] += 1

    def mark(last_pk):
        result.last_pk = last_pk
        if state is not None:
            state.put(name, {"last_pk": last_pk, "core": result.core, "swap": swap,
                             "started": started_at.isoformat()})

    try:
        for rows in source.iter_chunks(batch_size, since=since, pks=pks, after=after):
            built = build_documents(pipeline, rows, result, source.pk_of)
            docs = [doc for _, doc in built]
            no_id = len(rows) - len(docs)
            if no_id:
                result.skipped["no document id"] += no_id
            result.seen += len(rows)
            result.indexed += len(docs)
            if live_ids is not None:
                live_ids.update(doc["id"] for doc in docs)
            last_pk = source.pk_of(rows[-1])
            if out is not None:
                for doc in docs:
                    out.write(json.dumps(doc) + "\n")
                mark(last_pk)
            elif dry_run:
                pass
            elif pool is None:
                for r in syncer.sink(name, core=core).add_batch(docs):
                    reject(r)
                mark(last_pk)
            else:
                in_flight.append((pool.submit(lambda d=docs: syncer.sink(name, core=core).add_batch(d)), last_pk))
                acknowledge(limit=workers * 2)
            result.elapsed = time.monotonic() - began
            if on_batch:
                on_batch(result, len(rows))
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
            pool.shutdown(wait=True, cancel_futures=True)
        if out is not None:
            out.close()
    result.elapsed = time.monotonic() - began
    return result


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
