"""Full resync: stream every row in primary-key order, in chunks, and post batches.

Memory stays flat in the row count: a chunk of rows and a few batches of documents at a time
(``--prune`` on a core without versions, or with ``--dry-run``, also keeps the set of document
ids). ``--verify`` is verify.py's.
The periodic resync task and ``solrsync reindex`` both run this code. A row that cannot be read
or built is skipped, counted in the summary and filed as a failure; the others flow.

* one process (``workers`` 1): posting threads post the chunks while the next is read and built
  (a post mostly waits on the socket, which releases the interpreter lock); POSTS_IN_FLIGHT under
  way at once, begun in pk order, the fence checked before each, accounted for in order as a
  worker's: progress never passes a chunk not posted, and the first error stops the reindex.
* ``workers`` > 1: that many forked processes each read, build and post whole chunks, while this
  process hands out primary-key ranges and accounts for them in order. Reading and building are
  CPU-bound Python: threads (``parallel="threads"``) share one interpreter lock, processes do not
  (benchmarks/reindex_throughput.py measures both).
* ``via_queue``: the ranges go to the huey queue instead, run by every consumer on every host
  (range_tasks.py); this process accounts for them in order as for its own workers.
* progress: after every acknowledged batch the last primary key is written to the database
  (``Reindex``), so an interrupted run can continue (``resume=True``) where it stopped, on any
  host. The same row says who runs the pipeline's reindex: one at a time (``ReindexRunning``).
* ``swap``: build into a fresh core that receives every live write meanwhile, then SWAP it with
  the live core; searchers never see a half index (rebuild.py).
"""
import collections
import contextlib
import datetime as dt
import gc
import logging
import multiprocessing
import multiprocessing.pool
import signal
import sys
import threading
import time
import uuid

from . import rebuild, range_tasks
from .chunk import Chunk
from .fleet import consumer_id
from .lease import Renewing
from .sink import VERSION_FIELD, SolrRequestError, SolrUnavailable, to_json
from .streaming import close_posters, fewer_collections, posting_threads
from .sync import Report

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
        self.interrupted = False
        self.dry_run = False    # then indexed/deleted count what it would do
        self.exported = False   # --export: indexed counts the documents written to the file, none posted
        self.ranges_by = None   # through the queue: {consumer: ranges it ran}
        self.unread_ids = []    # document ids of the rows that could not be read (None: some unknown)
        self.owned = None       # the filter leaving the pipeline its own documents (Syncer.owned_filter)
        self.refused_before = 0  # resumed: documents Solr refused before the interruption (a rebuild's swap counts them)

    @property
    def rate(self):
        return self.indexed / self.elapsed if self.elapsed else 0.0

    def summary(self):
        skipped = sum(self.skipped.values())
        reasons = ", ".join("%d %s" % (n, why) for why, n in self.skipped.most_common())
        index, delete = ("would index", "would delete") if self.dry_run else \
            ("exported", "deleted") if self.exported else ("indexed", "deleted")
        return ("%s: %s %d, skipped %d%s, rejected %d, %s %d, warnings %d in %.1fs (%.0f docs/s)"
                % (self.pipeline, index, self.indexed, skipped, " (%s)" % reasons if reasons else "",
                   len(self.rejected), delete, self.deleted, self.warnings, self.elapsed, self.rate))


class ReindexRunning(Exception):
    """Another process (on any host) is reindexing this pipeline."""


PROGRESS_SECONDS = 1.0  # a reindex writes where it got to at most this often (and when it stops)
POST_IN_THREAD = True  # one process: threads post the chunks while the next is built (False: in turn)
# one process: posts under way at once. Two keep Solr busy: it works on one while the other's
# answer travels back and the next one's JSON is encoded (one at a time, Solr idled for those)
POSTS_IN_FLIGHT = 2
# the chunks' versions taken this many at a time, none used once this many seconds old (_versions)
VERSIONS_AHEAD, VERSIONS_AHEAD_SECONDS = 8, 1.0


def _versions(syncer):
    """The versions of the chunks about to be read, taken VERSIONS_AHEAD at a time: each is still
    taken before its chunk is read (see ``Syncer.version``), only earlier, as a slower reader's
    would be, and by no more than VERSIONS_AHEAD_SECONDS. On SQLite taking versions is a commit
    that waits for the disk: one per chunk was an eighth of a reindex's time (profiled)."""
    while True:
        first, taken = syncer.version(VERSIONS_AHEAD), time.monotonic()
        for version in range(first, first + VERSIONS_AHEAD):
            if time.monotonic() - taken > VERSIONS_AHEAD_SECONDS:
                break
            yield version


def reindex(syncer, pipeline_name, batch_size=None, since=None, pks=None, dry_run=False, prune=False,
            after=None, core=None, on_batch=None, commit=True, workers=1, export=None, resume=False, swap=False,
            parallel="processes", allow_rejected=0, via_queue=None, make_alias=False):
    """Push every row of ``pipeline_name`` (or those changed ``since`` / listed in ``pks``) to Solr.

    Each chunk carries a version taken before its rows are read, so a chunk landing after a live
    push of a newer state is dropped by Solr. ``prune`` deletes the documents that no write since
    the stream began has touched (older than its start version), with that version: a document
    created or pushed after the stream began is never pruned, and the interrupted part of a
    resumed run counts (the start version is kept with the progress). ``via_queue``: the Tasks
    whose ``reindex_range`` the consumers run (range_tasks.py)."""
    syncer.pipeline(pipeline_name)  # an unknown name fails here
    changelog = syncer.changelog
    batch_size = batch_size or syncer.settings.BATCH_SIZE
    posting = not (dry_run or export is not None)
    if via_queue is not None and (not posting or pks is not None or changelog is None):
        raise ValueError("--via-queue posts whole ranges from the database: it goes without --dry-run, --export "
                         "and --ids")
    owner = None
    if posting and changelog is not None:
        # the process, and this reindex in it: two in one process (a consumer's worker threads) are two holders
        owner = "%s/%s" % (consumer_id(), uuid.uuid4().hex[:6])
        other = changelog.hold_reindex(pipeline_name, owner, syncer.settings.LEASE_SECONDS)
        if other:
            raise ReindexRunning("%s: a reindex is already running (%s); wait for it, or, if that process is gone, "
                                 "for its lease (LEASE_SECONDS %d) to run out" % (pipeline_name, other,
                                                                                  syncer.settings.LEASE_SECONDS))
    # the hold renewed while the reindex runs, whatever step takes long (a slow chunk, a swap)
    renewing = Renewing(syncer.lease("reindex", pipeline_name, owner, "%s: the reindex" % pipeline_name),
                        lambda token: changelog.renew_lease("reindex", pipeline_name, token,
                                                            syncer.settings.LEASE_SECONDS)) \
        if owner else contextlib.nullcontext()
    try:
        with renewing:
            return _reindex(syncer, pipeline_name, batch_size, since, pks, dry_run, prune, after, core, on_batch,
                            commit, workers, export, resume, swap, parallel, allow_rejected, via_queue, owner,
                            make_alias)
    finally:
        if owner:
            try:
                changelog.release_reindex(pipeline_name, owner)
            except Exception as exc:  # a Ctrl-C inside a query leaves the connection unusable
                log.warning("%s: the reindex's hold not released (%s); it runs out after LEASE_SECONDS (%d)",
                            pipeline_name, exc, syncer.settings.LEASE_SECONDS)


def _reindex(syncer, pipeline_name, batch_size, since, pks, dry_run, prune, after, core, on_batch, commit, workers,
             export, resume, swap, parallel, allow_rejected, via_queue, owner, make_alias):
    pipeline = syncer.pipeline(pipeline_name)
    # the hold is a fence: checked before each step others see (a post, progress, a registration, the swap)
    hold = syncer.lease("reindex", pipeline_name, owner, "%s: the reindex" % pipeline_name)
    changelog = syncer.changelog
    started_at = dt.datetime.now(dt.timezone.utc)
    posting = not (dry_run or export is not None)
    start_version = None
    refused_before = 0
    if resume:
        saved = changelog.reindex_state(pipeline_name) if changelog is not None else None
        if not saved:
            raise ValueError("nothing to resume for %s (no interrupted reindex is recorded)" % pipeline_name)
        after = saved["last_pk"]
        core = saved.get("core") or core
        swap = saved.get("swap", swap)
        prune = saved.get("prune", prune)
        start_version = saved.get("version")
        started_at = dt.datetime.fromisoformat(saved["started"])
        refused_before = saved.get("refused", 0)  # counted into the swap's decision as if in this run
        if swap and core not in changelog.rebuilds(pipeline_name):
            raise ValueError("the interrupted rebuild of %s into %s is over (refused, or ended by another run): "
                             "nothing of it may go live; run `solrsync reindex %s --swap` anew"
                             % (pipeline_name, core, pipeline_name))
        if (prune or swap) and start_version is None:
            raise ValueError("the interrupted reindex of %s has no start version (an unversioned core or an older "
                             "solrsync): resuming with --prune/--swap would delete what was indexed before the "
                             "interruption; run it again without --resume" % pipeline_name)
        log.warning("%s: resuming after pk %s into core %s", pipeline_name, after, core or pipeline.core)
    elif swap and posting:
        core = rebuild.begin(syncer, pipeline_name, make_alias=make_alias, fence=hold)
    target = core or pipeline.core
    sink = syncer.sink(pipeline_name, core=target)
    versioned = posting and sink.versioned
    owned = syncer.owned_filter(pipeline_name, sink) if prune and not swap else None  # refused before any work
    if versioned and start_version is None:
        start_version = syncer.version()  # before the first read, after a rebuild's registration
    full = since is None and pks is None
    # the ids seen: what --prune keeps on a core without versions, or counts in a dry run
    live_ids = set() if full and prune and (dry_run or not versioned) else None
    if resume and live_ids is not None and prune:
        raise ValueError("core %s has no versions: a resumed --prune cannot know what was indexed before the "
                         "interruption; run it again without --resume" % target)
    if via_queue is not None and live_ids is not None:
        raise ValueError("core %s has no versions: --via-queue --prune cannot know what the consumers indexed; "
                         "run it without --via-queue, or give the core solrsync's configset" % target)
    state = changelog if posting and changelog is not None else None
    with fewer_collections():
        result = _stream(syncer, pipeline_name, batch_size, since, pks, after, core, on_batch, workers, export,
                         not posting, live_ids, state, started_at, swap, parallel, prune, start_version, via_queue,
                         owner, hold, refused_before)
    result.core = target
    result.owned = owned
    if result.interrupted:
        return result
    result.dry_run, result.exported = dry_run, export is not None
    if dry_run and live_ids is not None:
        result.deleted = sum(1 for _ in _stale_ids(sink, result, live_ids, start_version))
    if posting:
        if prune and full and not swap:  # a rebuilt core starts empty: nothing in it to prune
            _prune(syncer, pipeline_name, sink, result, live_ids, start_version, batch_size, hold)
        if swap:
            refused = result.refused_before + result.skipped["rejected by Solr"]
            for mate in rebuild.mates(syncer, pipeline_name):  # a core is rebuilt whole: the others sharing it too
                mate_result = _stream(syncer, mate, batch_size, None, None, None, target, None, 1, None, False, None,
                                      None, started_at, False, parallel, False, start_version, None, owner, hold)
                log.warning("%s, into the rebuilt core of %s: %s", mate, pipeline_name, mate_result.summary())
                refused += mate_result.skipped["rejected by Solr"]
            try:
                rebuild.finish(syncer, pipeline_name, target, refused, allow_rejected, fence=hold)
            except rebuild.RebuildRefused:
                # the rebuild is over: nothing of it is left to --resume (status offered it, and a
                # resume put the refused core live without the documents it refused)
                if state is not None:
                    state.save_reindex_state(pipeline_name, None, owner, syncer.settings.LEASE_SECONDS)
                raise
            result.core = pipeline.core
        elif commit:
            sink.commit()
        if hold is not None:
            hold.check()
        if syncer.changelog is not None and (full or pks):
            failed = {str(pk) for _, pk, _ in result.rejected}
            if full:
                syncer.changelog.clear_failures(pipeline_name, keep=failed)
            else:
                syncer.changelog.clear_failures(pipeline_name, [pk for pk in pks if str(pk) not in failed])
    if state is not None and not state.save_reindex_state(pipeline_name, None, owner, syncer.settings.LEASE_SECONDS):
        hold.check()  # raises: the hold was lost since the check above
    log.info(result.summary())
    return result


def _stale_ids(sink, result, live_ids, start_version):
    """The ids a prune deletes: this pipeline's documents (``Syncer.owned_filter``) not written by the
    stream (a version older than its start, or, without versions, not among ``live_ids``), except
    those Solr refused now and those of rows the stream could not read (their old state stays, as
    on the live path)."""
    keep = {doc_id for doc_id, _, _ in result.rejected if doc_id} | set(result.unread_ids)
    mine = result.owned
    if live_ids is None:
        return (doc_id for doc_id in sink.iter_ids(q="%s:[* TO %d]" % (VERSION_FIELD, start_version - 1), fq=mine)
                if doc_id not in keep)
    return (doc_id for doc_id in sink.iter_ids(fq=mine) if doc_id not in live_ids and doc_id not in keep)


def _prune(syncer, name, sink, result, live_ids, start_version, batch_size, fence):
    """Delete the documents whose rows are gone or filtered out (with the start version: a delete
    of any age may land, it never beats a newer write)."""
    sink.commit()  # what the stream wrote becomes searchable: only what it did not write is old
    if result.unread_ids is None:
        log.warning("%s: prune skipped: %d row(s) could not be read and their document ids cannot be known, so "
                    "their documents cannot be told from stale ones", name, result.skipped["unreadable"])
        return
    lease = None if fence is None else (lambda version: fence.check())
    batch = []
    for doc_id in _stale_ids(sink, result, live_ids, start_version):
        batch.append(doc_id)
        if len(batch) >= batch_size:
            result.deleted += syncer.delete_ids(name, sink, batch, start_version, lease)
            batch = []
    result.deleted += syncer.delete_ids(name, sink, batch, start_version, lease)


def _stream(syncer, name, batch_size, since, pks, after, core, on_batch, workers, export, dry_run, live_ids,
            state, started_at, swap, parallel, prune, start_version, via_queue, owner, hold, refused_before=0):
    pipeline = syncer.pipeline(name)
    source = syncer.sources[name]
    result = ReindexResult(name)
    result.core = core or pipeline.core
    result.refused_before = refused_before
    began = time.monotonic()
    posting = not dry_run and export is None
    versioned = start_version is not None
    pool = poster = None
    if workers > 1 and posting and via_queue is None:
        pool = _start_pool(syncer, name, workers, parallel)
    in_flight = collections.deque()  # (async result, last pk of that chunk), in pk order
    out = open(export, "w") if export else None

    def account(chunk, last_pk):
        """Add one finished chunk to the result, in pk order (so last_pk only moves past posted rows)."""
        result.seen += chunk.rows + len(chunk.unreadable)
        result.indexed += chunk.docs - len(chunk.refused)
        result.warnings += chunk.warnings
        for reason, failures in (("unreadable", chunk.unreadable), ("not built", chunk.unbuilt)):
            if failures:
                result.skipped[reason] += len(failures)
                result.rejected.extend(failures)
        for r in chunk.refused:
            result.reject(name, r, chunk.pks.get(r.doc_id))
            result.skipped["rejected by Solr"] += 1
        if posting and syncer.changelog is not None and (chunk.unreadable or chunk.unbuilt or chunk.refused):
            # what a core being rebuilt refused says so: the live core may well hold the document
            where = "" if result.core == pipeline.core else "the rebuild into %s: " % result.core
            syncer.changelog.record_failures(name, [(pk, doc_id, where + msg) for doc_id, pk, msg in chunk.failures()])
        if live_ids is not None:
            live_ids.update(chunk.ids)
        if chunk.unreadable and result.unread_ids is not None:
            ids = source.doc_ids([pk for _, pk, _ in chunk.unreadable])
            result.unread_ids = None if ids is None else result.unread_ids + ids
        result.last_pk = last_pk
        if state is not None and time.monotonic() - saved[0] >= PROGRESS_SECONDS:
            save_progress()
        result.elapsed = time.monotonic() - began
        if on_batch:
            on_batch(result, chunk.rows)

    saved = [time.monotonic(), None]  # when progress was last written, and its last_pk

    def save_progress():
        """Where the stream got to (and the hold renewed): a commit each, so at most once per
        PROGRESS_SECONDS and at the end -- on SQLite a commit waits for the disk."""
        saved[:] = time.monotonic(), result.last_pk
        if not state.save_reindex_state(name, {"last_pk": result.last_pk, "core": result.core, "swap": swap,
                                               "prune": prune, "version": start_version,
                                               "started": started_at.isoformat(),
                                               "refused": result.refused_before + result.skipped["rejected by Solr"]},
                                        owner, syncer.settings.LEASE_SECONDS):
            hold.check()  # raises: progress is recorded only by the holder

    def acknowledge(limit):
        """Account for finished chunks, waiting while more than ``limit`` are in flight. A chunk
        leaves ``in_flight`` once its post is in: a Ctrl-C while waiting for it leaves it there,
        to be waited for and accounted for before any after it."""
        while in_flight and (in_flight[0][0].ready() or len(in_flight) > limit):
            pending, last_pk = in_flight[0]
            chunk = pending.get()
            in_flight.popleft()
            account(chunk, last_pk)

    try:
        if via_queue is not None:
            # ranges on the queue at once: enough for every consumer's workers (a live change waits
            # behind at most these), more with --workers
            window = max(2 * workers, 4 * len([c for c in via_queue.consumers() if c["alive"]]), 8)
            result.ranges_by = range_tasks.stream(
                syncer, name, batch_size, since, after, core, versioned, account,
                lambda run: via_queue.enqueue_range(name, run, core, since, versioned), window, hold)
        elif pool is None:
            if posting and POST_IN_THREAD:
                pool = poster = posting_threads(POSTS_IN_FLIGHT, lambda: syncer.sink(name, core=core).versioned)
            begun = None  # set once the last chunk handed to the posting threads began its post
            unreadable = {}
            chunks = source.iter_chunks(batch_size, since=since, pks=pks, after=after, errors=unreadable)
            versions = _versions(syncer) if versioned else None
            while True:
                version = next(versions) if versioned else None  # before the chunk's rows are read
                rows = next(chunks, None)
                if rows is None:
                    break
                chunk = Chunk(syncer, name, rows, live_ids is not None, unreadable)
                unreadable.clear()  # the chunk took its own: the reader fills it for the next
                last_pk = source.pk_of(rows[-1]) if rows else result.last_pk
                if out is not None:
                    out.writelines(to_json(doc) + "\n" for doc in chunk.built)
                elif poster is not None:
                    # POSTS_IN_FLIGHT under way, begun in order (the fence checked just before each);
                    # accounted for here, in pk order, once posted: the first error raises here,
                    # before any chunk after it counts or another is handed out
                    acknowledge(limit=POSTS_IN_FLIGHT - 1)
                    after, begun = begun, threading.Event()
                    in_flight.append((poster.apply_async(_post_after, (syncer, name, core, chunk, version, hold,
                                                                       after, begun)), last_pk))
                    continue
                elif posting:
                    chunk.post(syncer.sink(name, core=core), version, hold)
                account(chunk, last_pk)
            acknowledge(limit=0)
        else:
            versions = _versions(syncer) if versioned else None
            for first, last, _ in source.iter_ranges(batch_size, since=since, pks=pks, after=after):
                # the version is taken here, before the worker reads the range: workers never
                # write to the database (on SQLite, forked writers lock each other out)
                version = next(versions) if versioned else None
                in_flight.append((pool.apply_async(_work, (name, first, last, since, pks, core,
                                                           live_ids is not None, version, hold)), last))
                acknowledge(limit=workers * 2)
            acknowledge(limit=0)
    except KeyboardInterrupt:
        result.interrupted = True
        try:
            acknowledge(limit=0)
            if posting:
                syncer.sink(name, core=core).commit()  # what was posted becomes visible: no half batch
        except (SolrUnavailable, SolrRequestError, KeyboardInterrupt):
            pass
    finally:
        if poster is not None:
            for pending, _ in in_flight:  # after an error: nothing of ours lands once we return
                pending.wait()
            close_posters(poster, syncer.changelog)
        elif pool is not None:
            pool.terminate()  # every chunk handed out was accounted for, or we are failing anyway
            pool.join()
        if out is not None:
            out.close()
        if state is not None and saved[1] != result.last_pk:  # Ctrl-C, Solr gone: --resume starts here
            try:
                save_progress()
            except Exception as exc:  # the database may be what failed: the error on its way up says so
                log.warning("%s: progress not saved (%s); --resume starts at pk %s", name, exc, saved[1])
    result.elapsed = time.monotonic() - began
    return result


_worker = {}  # in a worker: the syncer (inherited through fork, or shared by threads)


def _post_after(syncer, name, core, chunk, version, fence, after, begun):
    """In a posting thread: ``chunk`` posted with this thread's sink, once the chunk before it
    began its post (``after``): posts begin in pk order."""
    if after is not None:
        after.wait()
    begun.set()
    return chunk.post(syncer.sink(name, core=core), version, fence)


def _work(name, first, last, since, pks, core, keep_ids, version, fence):
    syncer = _worker["syncer"]
    unreadable = {}
    rows = syncer.sources[name].chunk(first, last, since=since, pks=pks, errors=unreadable)
    return Chunk(syncer, name, rows, keep_ids, unreadable).post(syncer.sink(name, core=core), version, fence)


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


class Progress:
    """A tqdm bar (rate, ETA) on a terminal; plain log lines every few seconds otherwise."""

    def __init__(self, name, total, quiet=False, stream=None):
        self.name, self.total, self.quiet = name, total, quiet
        self.stream = stream or sys.stderr
        self.bar = None
        self.last = 0.0
        if not quiet and self.stream.isatty():
            try:
                from tqdm import tqdm  # an optional dependency (extra 'progress'), only on a terminal
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
