"""The sync engine: pending changes -> current rows -> Solr adds and deletes.

The change log (an outbox table written in the same transaction as the change) is the truth;
queue messages only wake workers up. A worker *claims* pending changes under a lease, takes a
version, loads the current rows in bulk, indexes what exists and passes the pipeline's filter,
deletes the rest, and then removes exactly the change rows it claimed -- a change made meanwhile
stays pending. Every write of the batch carries the version, taken before the read: Solr keeps
the highest per document, so the order in which requests land does not matter.
"""
import contextlib
import logging
import threading
import time

from .documents import clean_text
from .lease import Lease, LeaseLost, Renewing
from .pipeline import RELATED
from .sink import OWNER_FIELD, SolrSink, SolrUnavailable, local_version
from .streaming import close_posters, fewer_collections, posting_threads

log = logging.getLogger("solrsync.sync")
RELATED_CHUNK = 1000  # rows per page of a related change's set (its requests: BATCH_SIZE documents)
RELATED_STREAMS = 2  # pages of one related set pushed side by side (Syncer._in_streams)
DRAIN_STREAMS = 2  # streams claiming and pushing a backlog side by side (Syncer.drain)
# A drain working through a backlog claims up to this many times BATCH_SIZE objects at once (the
# claim doubling while it comes back full): what a claim costs besides its rows -- its statements
# and transaction, the version, the rebuilds looked up, the deletes' holders, the failures' and the
# change rows' DELETEs, the lease checked before recording -- is then paid once per several
# requests, which still carry BATCH_SIZE documents each, a lease check before each. Not more: on
# PostgreSQL a claim holds a lock per object until it commits, in a lock table the server sizes at
# 64 x max_connections entries (6,400 by default) for all its sessions.
CLAIM_GROWTH = 4


class Report:
    """What one sync or reindex did."""

    def __init__(self):
        self.indexed = 0
        self.deleted = 0
        self.rejected = []      # [(doc_id, pk, message)]
        self.warnings = 0
        self.done = []          # pks indexed or deleted fine: their old failure records go

    def merge(self, other):
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.rejected.extend(other.rejected)
        self.warnings += other.warnings
        self.done.extend(other.done)
        return self

    def reject(self, pipeline_name, rejected, pk=None):
        """Note a document Solr refused (a sink.Rejected), with Solr's message, and log it."""
        self.rejected.append((rejected.doc_id, pk, rejected.message))
        log.error("%s %s (pk %s): Solr rejected it: %s", pipeline_name, rejected.doc_id, pk, rejected.message)

    def __repr__(self):
        return "Report(indexed=%d, deleted=%d, rejected=%d, warnings=%d)" % (
            self.indexed, self.deleted, len(self.rejected), self.warnings)


def document_class(pipeline, source):
    """The pipeline's document class typed by the Solr type the source knows for each path it reads
    (``source.solr_field``, see ``Document.typed``) and reading geometries by ``source.extent``; a
    source that cannot tell: the class as declared."""
    solr_field = getattr(source, "solr_field", None)
    if solr_field is None:
        return pipeline.document
    return pipeline.document.typed(solr_field, getattr(source, "extent", None))


def build_documents(pipeline, rows, report, pk_of, document=None):
    """Rows -> [(pk, document)]; a field that cannot be built is dropped with a warning naming the
    row; a row that cannot be built at all, or whose id cleaning would change, is a failure.
    ``document``: the class to build with (``document_class``), else the pipeline's as declared."""
    docs = []
    document = document or pipeline.document
    for row in rows:
        try:
            doc, warnings = document.build(row)
        except Exception as exc:  # one bad row is isolated, never a blocker
            report.rejected.append((None, pk_of(row), "cannot build the document: %s: %s" % (type(exc).__name__, exc)))
            log.error("%s pk %s: cannot build the document: %s", pipeline.name, pk_of(row), exc)
            continue
        for w in warnings:
            report.warnings += 1
            log.warning("%s %s (pk %s): %s -- indexed without it", pipeline.name, doc.get("id"), pk_of(row), w)
        doc_id = doc.get("id")
        problem = "no document id" if doc_id is None else None if clean_text(doc_id) == doc_id \
            else "document id %r has whitespace at its ends or control characters" % doc_id
        if problem:
            # deletes use the id as recorded: indexing a cleaned form would leave it undeletable
            report.rejected.append((doc_id, pk_of(row), problem))
            log.error("%s pk %s: %s, not indexed", pipeline.name, pk_of(row), problem)
            continue
        docs.append((pk_of(row), doc))
    return docs


class Beside:
    """Streams run on threads beside the calling one (a drain's, a related set's), each closing
    its own database connection as it ends; ``join`` runs the caller's stream, waits for the
    others and raises the first error -- the caller's, else one of theirs."""

    def __init__(self, changelog, name):
        self.changelog, self.name = changelog, name
        self.threads, self.reports, self.errors = [], [], []

    def start(self, count, stream):
        """``count`` threads each running ``stream()`` -> Report."""
        def run():
            try:
                self.reports.append(stream())  # list.append is atomic: no lock needed
            except BaseException as exc:
                self.errors.append(exc)
            finally:
                if self.changelog is not None:
                    self.changelog.close_thread_connection()
        self.threads = [threading.Thread(target=run, name=self.name, daemon=True) for _ in range(count)]
        for t in self.threads:
            t.start()

    def join(self, stream):
        """Run the caller's ``stream()`` (-> Report), then the others' Reports merged into it."""
        try:
            report = stream()
        finally:
            for t in self.threads:
                t.join()
        if self.errors:
            raise self.errors[0]
        for r in self.reports:
            report.merge(r)
        return report


class _Claim:
    """Changes a drain stream claimed: their lease (the fence of their posts), renewed until they
    are recorded or released."""

    def __init__(self, syncer, pipeline_name, changes):
        self.syncer, self.pipeline_name, self.changes = syncer, pipeline_name, changes
        self.fence = syncer.claim_fence(pipeline_name, changes[0], len(changes))
        self.renewing = syncer._renewing(self.fence, changes)
        self.renewing.__enter__()

    def record(self, total, report):
        """The post is in: failures and the changes' rows recorded, by the lease's holder only
        (LeaseLost otherwise: nothing recorded)."""
        log_ = self.syncer.changelog
        try:
            if (report.rejected or report.done) and self.fence is not None:
                self.fence.check()
        finally:
            self.renewing.__exit__(None, None, None)
        if report.rejected:
            log_.record_failures(self.pipeline_name, [(pk, doc_id, msg) for doc_id, pk, msg in report.rejected])
        if report.done:
            log_.clear_failures(self.pipeline_name, report.done)
        log_.done(self.changes)
        total.merge(report)

    def release(self):
        """Not pushed (an error): the changes stay pending for the retry."""
        self.renewing.__exit__(None, None, None)
        self.syncer.changelog.release(self.changes)


class Syncer:
    """The engine assembled: settings, pipelines, their sources, the change log, Solr sinks.
    ``metrics(pipeline)``: where a pipeline's sinks count their requests (metrics.for_pipeline),
    handed in by whoever assembles the engine; None counts nothing."""

    def __init__(self, settings, pipelines, sources, changelog=None, metrics=None):
        self.settings = settings
        self.pipelines = pipelines
        self.sources = sources
        self.changelog = changelog
        self.metrics = metrics
        self._local = threading.local()  # a pysolr session is not thread-safe: one sink per thread
        self._purged_at = None  # when this process last purged tombstones (monotonic)

    def pipeline(self, name):
        try:
            return self.pipelines[name]
        except KeyError:
            raise KeyError("unknown pipeline %r (configured: %s)" % (name, ", ".join(self.pipelines)))

    def sink(self, pipeline_name, core=None):
        core = core or self.pipeline(pipeline_name).core
        sinks = self._local.__dict__.setdefault("sinks", {})
        key = (pipeline_name, core)  # per pipeline too: its requests are counted under its name
        if key not in sinks:
            s = self.settings
            sinks[key] = SolrSink(s.core_url(core), timeout=s.SOLR_TIMEOUT, commit_within_ms=s.COMMIT_WITHIN_MS,
                                  verify=s.SOLR_VERIFY_TLS, auth=s.solr_auth,
                                  metrics=None if self.metrics is None else self.metrics(pipeline_name),
                                  pipeline=pipeline_name)
        return sinks[key]

    def forget_cores(self):
        """Ask each core again what it is (versions, owner field): a swap put another core live."""
        for sink in self._local.__dict__.get("sinks", {}).values():
            sink.forget()  # asked at its next write: the rebuild's old name may be gone by then

    def sharing(self, name):
        """The pipelines writing to ``name``'s core, when it is not alone there (else ())."""
        core = self.pipeline(name).core
        mates = tuple(n for n, p in self.pipelines.items() if p.core == core)
        return mates if len(mates) > 1 else ()

    def owned_filter(self, name, sink=None):
        """The filter query leaving pipeline ``name`` its own documents in its core (prune, verify,
        counts): those it stamped (OWNER_FIELD); alone in its core it also owns those written before
        the field existed. None: every document (a core without the field, the pipeline alone).
        ValueError for a core shared without the field: no pipeline can tell its documents there."""
        sink = sink or self.sink(name)
        shared = self.sharing(name)
        if not sink.owned:
            if shared:
                raise ValueError("core %s is shared by pipelines %s but has no %s field: a prune or verify of one "
                                 "would take the others' documents for its own; add the field (`solrsync configset "
                                 "%s --apply`), then reindex each pipeline" % (
                                     self.pipeline(name).core, ", ".join(shared), OWNER_FIELD, name))
            return None
        mine = "%s:%s" % (OWNER_FIELD, name)
        return mine if shared else "(%s OR (*:* -%s:[* TO *]))" % (mine, OWNER_FIELD)

    def lease(self, kind, key, token, what):
        """A lease.Lease checked against the change log (None without one: nothing to fence)."""
        if self.changelog is None or token is None:
            return None
        return Lease(self.changelog, kind, key, token, self.settings.LEASE_SECONDS, what)

    def claim_fence(self, pipeline_name, change, count):
        """The lease a claimed ``change`` carries, as the fence of a push of ``count`` changes."""
        return self.lease("changes", change.seq, change.lease, "%s: a push of %d change(s)" % (pipeline_name, count))

    def delete_ids(self, pipeline_name, sink, ids, version, fence=None):
        """Delete ``ids`` from ``sink``'s core at ``version``, the delete recorded first (kept as long
        as its tombstone: a rebuilt core starts with it, see rebuild.begin)."""
        ids = [i for i in ids if i]
        if ids and self.changelog is not None and sink.versioned:
            if fence is not None:
                fence(None)
            self.changelog.record_deletes(pipeline_name, ids, version)
        return sink.delete_ids(ids, version=version, fence=fence)

    def version(self, count=1):
        """A version for a batch about to be read (see ``DjangoChangeLog.next_version``); ``count``:
        the first of that many, for as many batches."""
        return self.changelog.next_version(count) if self.changelog is not None else local_version(count)

    def cores(self, pipeline_name):
        """Where a pipeline's writes go: any core being rebuilt for it, then its live core. Read
        after the rows: a rebuild registered later has read them itself, or newer. The rebuild
        comes first: should its swap happen between the two writes, the live name already
        points at the new core; the other way round both writes would reach the old one."""
        core = self.pipeline(pipeline_name).core
        extra = self.changelog.rebuilds(pipeline_name) if self.changelog is not None else []
        return [c for c in extra if c != core] + [core]

    # ------------------------------------------------------------ one set of changes
    def apply(self, pipeline_name, changes, fence=None):
        """Make Solr match the DB for these changes ([Change] or [(pk, doc_id)]); ``fence``: the
        lease they were claimed under (else the first claimed change's)."""
        return self._prepare(pipeline_name, changes, fence)()

    def _prepare(self, pipeline_name, changes, fence=None):
        """``apply`` up to its posts: the version taken, the rows read and built, the deletes
        recorded -> ``send()``, which posts them (the fence checked before each) -> Report. A
        drain posts one claim while it reads and builds the next (``_drain``)."""
        pipeline = self.pipeline(pipeline_name)
        source = self.sources[pipeline_name]
        report = Report()
        ids = {}  # pk -> every document id recorded for it
        for change in changes:
            pk, doc_id = (change.pk, change.doc_id) if hasattr(change, "pk") else change
            ids.setdefault(str(pk), set()).add(doc_id or "")
        if not ids:
            return lambda: report
        claimed = next((c for c in changes if getattr(c, "lease", None) is not None), None)
        if fence is None and claimed is not None:
            fence = self.claim_fence(pipeline_name, claimed, len(changes))
        version = self.version()  # before the read: see version()
        unreadable = {}
        # an empty pk names no row, only a document to delete (an orphan ``--verify --fix`` found)
        rows = {str(pk): row for pk, row in source.load([pk for pk in ids if pk], errors=unreadable).items()}
        for pk, message in unreadable.items():
            report.rejected.append((None, pk, message))
            log.error("%s pk %s: %s -- the other changes go on", pipeline.name, pk, message)
        built = build_documents(pipeline, rows.values(), report, source.pk_of, document_class(pipeline, source))
        by_pk = {str(pk): doc for pk, doc in built}
        # gone, filtered out, or no longer buildable (an id edited into one that is refused): its
        # documents go; still there: an id it had before (uuid edited) goes. An unreadable row's
        # stay: what it holds now is unknown
        deletes = {doc_id for pk, recorded in ids.items() for doc_id in recorded
                   if doc_id and pk not in unreadable and (pk not in by_pk or by_pk[pk]["id"] != doc_id)}
        if deletes:
            # one id, one truth: an id leaving one row may have moved to another (an overwrite import)
            deletes -= {doc["id"] for doc in by_pk.values()}
        if deletes:
            holders = [row for row in source.holders(deletes) if str(source.pk_of(row)) not in ids]
            document = document_class(pipeline, source)
            for pk, doc in build_documents(pipeline, holders, Report(), source.pk_of, document):  # their own failures are theirs
                if doc["id"] in deletes:
                    deletes.discard(doc["id"])
                    by_pk[str(pk)] = doc
        docs = list(by_pk.values())
        deletes = sorted(deletes)
        if deletes and self.changelog is not None:  # before the cores are read: see rebuild.begin
            if fence is not None:
                fence(version)
            self.changelog.record_deletes(pipeline_name, deletes, version)
        cores = self.cores(pipeline_name)

        def send():
            for core in cores:
                live = core == pipeline.core
                sink = self.sink(pipeline_name, core)
                try:
                    size = self.settings.BATCH_SIZE
                    rejected = [r for i in range(0, len(docs), size)
                                for r in sink.add_batch(docs[i:i + size], version=version, fence=fence)]
                    sink.delete_ids(deletes, version=version, fence=fence)
                except SolrUnavailable as exc:
                    if not live and exc.status == 404:  # swapped and unloaded: the live name has it now
                        log.warning("%s: core %s being rebuilt is gone (%s); skipped", pipeline.name, core, exc)
                        continue
                    raise
                if not live:
                    if rejected:
                        self._unfit(pipeline_name, core, rejected)
                    continue
                refused = set()
                if rejected:
                    ids_to_pk = {d["id"]: pk for pk, d in by_pk.items()}
                    for r in rejected:
                        report.reject(pipeline.name, r, ids_to_pk.get(r.doc_id))
                        refused.add(ids_to_pk.get(r.doc_id))
                report.indexed += len(docs) - len(rejected)
                report.deleted += len(deletes)
                report.done = [pk for pk in ids if pk not in refused and pk not in unreadable
                               and (pk in by_pk or pk not in rows)]
            if log.isEnabledFor(logging.INFO):  # the first keys, sorted: not worth a sort of every batch otherwise
                log.info("%s: indexed %d, deleted %d, rejected %d (%s)", pipeline.name, report.indexed,
                         report.deleted, len(report.rejected), ", ".join(sorted(ids)[:10]))
            return report
        return send

    def _unfit(self, pipeline_name, core, rejected):
        """A core being rebuilt refused a live write (its configset differs from the live one's: a
        field it lacks): it no longer holds what the database does, so it must not go live. It is
        unregistered -- live writes stop going to it, and the swap refuses it (rebuild.finish)."""
        log.error("%s: core %s being rebuilt refused %d live document(s) (%s: %s); it can no longer go live and "
                  "gets no more live writes", pipeline_name, core, len(rejected), rejected[0].doc_id, rejected[0].message)
        self.end_rebuild(pipeline_name, core)

    def end_rebuild(self, pipeline_name, core):
        """``core`` no longer gets the live writes of ``pipeline_name`` nor of the pipelines sharing
        its core (a rebuild is of a core, whole)."""
        if self.changelog is not None:
            for name in self.sharing(pipeline_name) or (pipeline_name,):
                self.changelog.end_rebuild(name, core)

    def apply_related(self, pipeline_name, lookup, value, exclusive=False, fence=None):
        """A related row that many documents read changed (a keyword on 100,000 layers renamed),
        recorded as one change naming the set: the rows holding it now are pushed a chunk at a
        time, in key order, as a reindex streams them -- no change row per document to write,
        lease and delete. A row that left the set meanwhile recorded a change of its own. With
        ``exclusive`` claims (an unversioned core) the set becomes a change row per object
        instead, claimed as any other: no push of it may overlap another worker's."""
        pages = self.sources[pipeline_name].related(lookup, value, RELATED_CHUNK)
        if exclusive:
            for page in pages:
                self.changelog.requeue(pipeline_name, page)
            return Report()
        return self._in_streams(pipeline_name, pages, fence)

    def _in_streams(self, pipeline_name, pages, fence):
        """Push ``pages`` of [(pk, doc id)] in RELATED_STREAMS streams side by side, as a reindex
        with workers does: while one stream waits on the database or Solr, the next reads and
        builds (each page pushed whole with its own version, so their order does not matter; each
        post under the claim's lease). Each stream posts a page on its posting thread while it
        reads and builds the next, one post at a time, and its last page here (a set of one page
        starts no thread). This thread is one stream; the first error stops them all (their posts
        in flight ended first) and is raised here. A set of more than one page is committed at its
        end, as a reindex is: visible at once rather than commitWithin after its last page (a page
        alone waits for commitWithin, as any change)."""
        lock, stopped, pushed = threading.Lock(), [], [0]

        def stream():
            report, poster, post, send = Report(), None, None, None
            try:
                while True:
                    with lock:  # the pages are read by whichever stream asks next, one at a time
                        page = None if stopped else next(pages, None)
                    if send is not None:  # the page before, built
                        if post is not None:  # the post before it first: one at a time, in order
                            done, post = post, None
                            report.merge(done.get())
                        if page is None:
                            send, last = None, send
                            if not stopped:  # another stream failed: nothing more of this set
                                report.merge(last())
                        else:  # posted while this page is read and built
                            if poster is None:
                                poster = posting_threads()
                            post, send = poster.apply_async(send), None
                    if page is None:
                        return report
                    send = self._prepare(pipeline_name, page, fence=fence)
                    with lock:
                        pushed[0] += 1
            except BaseException:
                stopped.append(True)  # the other streams take no further page
                if post is not None:  # the post in flight ends before the error is raised
                    try:
                        post.get()
                    except BaseException as exc:
                        log.warning("%s: a page's post stopped with its stream: %s", pipeline_name, exc)
                raise
            finally:
                if poster is not None:
                    close_posters(poster, self.changelog)
        beside = Beside(self.changelog, "solrsync-related")
        beside.start(RELATED_STREAMS - 1, stream)
        with fewer_collections():
            report = beside.join(stream)
        if pushed[0] > 1:
            for core in self.cores(pipeline_name):
                self.sink(pipeline_name, core).commit()
        return report

    # ------------------------------------------------------------ draining the change log
    def exclusive(self, pipeline_name):
        """Must two workers never push one object at once? Only while a core the pipeline writes
        to has no versions: there the older state could land last. With versions the newest read
        wins whatever the order, so claims need not exclude each other (nor wait on each other)."""
        return not all(self.sink(pipeline_name, core).versioned for core in self.cores(pipeline_name))

    def drain(self, pipeline_name, coalesce=True, max_batches=None):
        """Claim and apply pending changes until none are left. SolrUnavailable propagates after the
        claimed changes are released, so they stay pending for the retry. Once a claim comes back
        full (a backlog), DRAIN_STREAMS - 1 more streams claim and push beside this one, as a
        reindex's workers do: while one waits on the database or Solr, another reads and builds.
        Claims exclude each other per object (or, without versions, run one at a time), so the
        streams never push one object at once; an error in any is raised here once all stopped."""
        beside = Beside(self.changelog, "solrsync-drain")

        def backlog():
            if max_batches is None and not beside.threads:
                beside.start(DRAIN_STREAMS - 1, lambda: self._drain(pipeline_name, False, None))
        with fewer_collections():
            return beside.join(lambda: self._drain(pipeline_name, coalesce, max_batches, backlog))

    def _drain(self, pipeline_name, coalesce, max_batches, on_backlog=None):
        """One stream of ``drain``; ``on_backlog()`` once a claim came back full. Working through a
        backlog, a claim is posted on a thread of this stream's (``posting_threads``) while the next
        one is claimed, read and built, as a reindex posts a chunk while it reads the next: one
        post at a time, each claim recorded once its post is in, and the next one posted only
        then. Otherwise (the live path's few changes, a related set) the claim is posted here."""
        log_ = self.changelog
        s = self.settings
        total = Report()
        batches, backlog, size = 0, False, s.BATCH_SIZE
        poster, posting = None, None  # posting: (claim, its post in flight on the poster)
        claim = None
        try:
            while max_batches is None or batches < max_batches:
                if coalesce and not backlog:
                    self._settle(pipeline_name)
                exclusive = self.exclusive(pipeline_name)
                changes = log_.claim(pipeline_name, size, s.LEASE_SECONDS, exclusive=exclusive)
                if not changes:
                    break
                backlog = len(changes) >= size  # working through a backlog: no pause between batches
                size = min(2 * size, CLAIM_GROWTH * s.BATCH_SIZE) if backlog else s.BATCH_SIZE
                if backlog and on_backlog is not None:
                    on_backlog()
                batches += 1
                claim = _Claim(self, pipeline_name, changes)
                related = [c for c in changes if c.op == RELATED]
                send = self._prepare(pipeline_name, [c for c in changes if c.op != RELATED], fence=claim.fence)
                if posting is not None:  # the previous claim's post first: one at a time, in order
                    done, posting = posting, None
                    self._finish(done, total)
                if backlog and not related:
                    if poster is None:
                        poster = posting_threads()
                    posting, claim = (claim, poster.apply_async(send)), None
                    continue
                report = send()
                for c in related:
                    report.merge(self.apply_related(pipeline_name, c.pk, c.doc_id, exclusive, claim.fence))
                claim.record(total, report)
                claim = None
            if posting is not None:
                done, posting = posting, None
                self._finish(done, total)
        except LeaseLost as exc:
            # another worker holds these changes now (this one was paused past its lease): its push
            # stands, nothing of this one is recorded; a claim of this stream still held is freed
            log.warning("%s", exc)
            self._unwind(posting, claim, total)
        except BaseException:
            self._unwind(posting, claim, total)
            raise
        finally:
            if poster is not None:
                close_posters(poster, self.changelog)
        return total

    @staticmethod
    def _finish(posting, total):
        """Wait for a claim's post on the poster, then record it (freed if the post failed)."""
        claim, post = posting
        try:
            report = post.get()
        except BaseException:
            claim.release()
            raise
        claim.record(total, report)

    def _unwind(self, posting, claim, total):
        """A stream stops on an error: its post in flight ends first (another worker may take
        those objects only then) and is recorded if it went through; the claim it was building
        is freed. The error raised is the first one."""
        if posting is not None:
            try:
                self._finish(posting, total)
            except BaseException as exc:
                log.warning("%s: a push stopped with its stream: %s", posting[0].pipeline_name, exc)
        if claim is not None:
            claim.release()

    def _renewing(self, fence, changes):
        """The claim's lease renewed while its push runs (a slow Solr, a large related set): the
        changes carry the new lease, the one ``done``/``release`` delete or free them by."""
        if fence is None:
            return contextlib.nullcontext()
        seqs = [c.seq for c in changes]

        def carried(token):
            for c in changes:
                c.lease = token
        return Renewing(fence, lambda token: self.changelog.renew_lease(
            "changes", seqs[0], token, self.settings.LEASE_SECONDS, seqs=seqs), on_renewed=carried)

    def _settle(self, pipeline_name):
        """Let a burst of saves settle -- no new change for COALESCE_MS -- so it leaves in a few
        requests instead of one per save. The wait ends, however busy the stream, once the oldest
        pending change has waited 4 x COALESCE_MS, and never later than a sixth of commitWithin:
        what a change waits here adds to commitWithin before it is visible, and a round's build
        and post count towards the next round's wait. So a stream goes out a round at most every
        few hundred milliseconds (a few requests per second), a backlog at once, and commit ->
        visible stays within commitWithin + 0.5 s (issue 22)."""
        quiet = self.settings.COALESCE_MS / 1000.0
        oldest = self.changelog.oldest_age(pipeline_name)
        if oldest is None:
            return
        budget = min(4 * quiet, self.settings.COMMIT_WITHIN_MS / 6000.0) - oldest
        while budget > 0:
            age = self.changelog.newest_age(pipeline_name)
            if age is None or age >= quiet:
                return
            nap = min(quiet - age, budget)
            time.sleep(nap)
            budget -= nap

    def sweep(self):
        """Drain pipelines whose oldest change has waited longer than SWEEP_AFTER_SECONDS
        (a lost queue message, a worker killed mid-task); purge old tombstones now and then."""
        out = {}
        for name in self.pipelines:
            age = self.changelog.oldest_age(name)
            if age is not None and age >= self.settings.SWEEP_AFTER_SECONDS:
                log.warning("%s: changes pending for %.0fs that no worker took (a wake-up lost with the broker, a "
                            "worker killed, no consumer watching the change log); draining them", name, age)
                out[name] = self.drain(name, coalesce=False)
        now = time.monotonic()
        if self._purged_at is None or now - self._purged_at >= self.settings.TOMBSTONE_SECONDS / 4.0:
            self.purge_tombstones()
            self._purged_at = now
        return out

    def purge_tombstones(self):
        """Delete the tombstones older than TOMBSTONE_SECONDS from every core written to (a delete
        by query each: not on every sweep, Solr's delete by query is not cheap), once per core
        however many pipelines share it, and forget those deletes. A purge paused between taking
        its horizon and landing deletes less, never more: its horizon is only older."""
        horizon = self.version() - int(self.settings.TOMBSTONE_SECONDS * 1e6)
        done = set()
        for name in self.pipelines:
            for core in self.cores(name):
                if core not in done:
                    done.add(core)
                    self.sink(name, core).purge_tombstones(horizon)
        if self.changelog is not None:
            self.changelog.forget_deletes(horizon)


__all__ = ["Syncer", "Report", "SolrUnavailable", "LeaseLost", "build_documents", "document_class"]
