"""The sync engine: pending changes -> current rows -> Solr adds and deletes.

The change log (an outbox table written in the same transaction as the change) is the truth;
queue messages only wake workers up. A worker *claims* pending changes under a lease, loads the
current rows in bulk, indexes what exists and passes the pipeline's filter, deletes the rest,
and then removes exactly the change rows it claimed -- a change made meanwhile stays pending.
"""
import logging
import threading
import time

from .sink import SolrSink, SolrUnavailable

log = logging.getLogger("solrsync.sync")


class Report:
    """What one sync or reindex did."""

    def __init__(self):
        self.indexed = 0
        self.deleted = 0
        self.rejected = []      # [(doc_id, pk, message)]
        self.warnings = 0

    def merge(self, other):
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.rejected.extend(other.rejected)
        self.warnings += other.warnings
        return self

    def reject(self, pipeline_name, rejected, pk=None):
        """Note a document Solr refused (a sink.Rejected), with Solr's message, and log it."""
        self.rejected.append((rejected.doc_id, pk, rejected.message))
        log.error("%s %s (pk %s): Solr rejected it: %s", pipeline_name, rejected.doc_id, pk, rejected.message)

    def __repr__(self):
        return "Report(indexed=%d, deleted=%d, rejected=%d, warnings=%d)" % (
            self.indexed, self.deleted, len(self.rejected), self.warnings)


def build_documents(pipeline, rows, report, pk_of):
    """Rows -> [(pk, document)]; a field that cannot be built is dropped with a warning naming the row."""
    docs = []
    for row in rows:
        doc, warnings = pipeline.document.build(row)
        for w in warnings:
            report.warnings += 1
            log.warning("%s %s (pk %s): %s -- indexed without it", pipeline.name, doc.get("id"), pk_of(row), w)
        if "id" not in doc:
            report.rejected.append((None, pk_of(row), "no document id"))
            log.error("%s pk %s: no document id, not indexed", pipeline.name, pk_of(row))
            continue
        docs.append((pk_of(row), doc))
    return docs


class Syncer:
    """The engine assembled: settings, pipelines, their sources, the change log, Solr sinks."""

    def __init__(self, settings, pipelines, sources, changelog=None):
        self.settings = settings
        self.pipelines = pipelines
        self.sources = sources
        self.changelog = changelog
        self._local = threading.local()  # a pysolr session is not thread-safe: one sink per thread

    def pipeline(self, name):
        try:
            return self.pipelines[name]
        except KeyError:
            raise KeyError("unknown pipeline %r (configured: %s)" % (name, ", ".join(self.pipelines)))

    def sink(self, pipeline_name, core=None):
        core = core or self.pipeline(pipeline_name).core
        sinks = self._local.__dict__.setdefault("sinks", {})
        if core not in sinks:
            s = self.settings
            sinks[core] = SolrSink(s.core_url(core), timeout=s.SOLR_TIMEOUT, commit_within_ms=s.COMMIT_WITHIN_MS,
                                   verify=s.SOLR_VERIFY_TLS, auth=s.solr_auth)
        return sinks[core]

    # ------------------------------------------------------------ one set of changes
    def apply(self, pipeline_name, changes):
        """Make Solr match the DB for these changes ([Change] or [(pk, doc_id)])."""
        pipeline = self.pipeline(pipeline_name)
        source = self.sources[pipeline_name]
        sink = self.sink(pipeline_name)
        report = Report()
        ids = {}  # pk -> every document id recorded for it
        for change in changes:
            pk, doc_id = (change.pk, change.doc_id) if hasattr(change, "pk") else change
            ids.setdefault(str(pk), set()).add(doc_id or "")
        if not ids:
            return report
        rows = {str(pk): row for pk, row in source.load(list(ids)).items()}
        built = build_documents(pipeline, rows.values(), report, source.pk_of)
        by_pk = {str(pk): doc for pk, doc in built}
        docs = [doc for _, doc in built]
        # gone or filtered out: its documents go; still there: an id it had before (uuid edited) goes
        deletes = sorted({doc_id for pk, recorded in ids.items() for doc_id in recorded
                          if doc_id and (pk not in rows or (pk in by_pk and by_pk[pk]["id"] != doc_id))})
        rejected = sink.add_batch(docs)
        ids_to_pk = {d["id"]: pk for pk, d in by_pk.items()}
        for r in rejected:
            report.reject(pipeline.name, r, ids_to_pk.get(r.doc_id))
        report.indexed += len(docs) - len(rejected)
        report.deleted += sink.delete_ids(deletes)
        log.info("%s: indexed %d, deleted %d, rejected %d (%s)", pipeline.name, report.indexed,
                 report.deleted, len(report.rejected), ", ".join(sorted(ids)[:10]))
        return report

    # ------------------------------------------------------------ draining the change log
    def drain(self, pipeline_name, coalesce=True, max_batches=None):
        """Claim and apply pending changes until none are left. SolrUnavailable propagates after the
        claimed changes are released, so they stay pending for the retry."""
        log_ = self.changelog
        s = self.settings
        total = Report()
        batches, backlog = 0, False
        while max_batches is None or batches < max_batches:
            if coalesce and not backlog:
                self._settle(pipeline_name)
            changes = log_.claim(pipeline_name, s.BATCH_SIZE, s.LEASE_SECONDS)
            if not changes:
                break
            backlog = len(changes) >= s.BATCH_SIZE  # working through a backlog: no pause between batches
            batches += 1
            try:
                report = self.apply(pipeline_name, changes)
            except BaseException:
                log_.release(changes)
                raise
            if report.rejected:
                log_.record_failures(pipeline_name, [(pk, doc_id, msg) for doc_id, pk, msg in report.rejected])
            log_.done(changes)
            total.merge(report)
        return total

    def _settle(self, pipeline_name):
        """Let a burst of saves settle -- no new change for COALESCE_MS, waiting at most four
        times that -- so it leaves in a few requests instead of one per save. A lone save waits
        COALESCE_MS; a stream of saves goes out every 4 x COALESCE_MS (well within the
        commit-to-visible budget of commitWithin + 1 s)."""
        quiet = self.settings.COALESCE_MS / 1000.0
        budget = 4 * quiet
        while budget > 0:
            age = self.changelog.newest_age(pipeline_name)
            if age is None or age >= quiet:
                return
            nap = min(quiet - age, budget)
            time.sleep(nap)
            budget -= nap

    def sweep(self):
        """Drain pipelines whose oldest change has waited longer than SWEEP_AFTER_SECONDS
        (a lost queue message, a worker killed mid-task)."""
        out = {}
        for name in self.pipelines:
            age = self.changelog.oldest_age(name)
            if age is not None and age >= self.settings.SWEEP_AFTER_SECONDS:
                log.warning("%s: changes pending for %.0fs, draining them (lost message or dead worker?)", name, age)
                out[name] = self.drain(name, coalesce=False)
        return out


__all__ = ["Syncer", "Report", "SolrUnavailable", "build_documents"]
