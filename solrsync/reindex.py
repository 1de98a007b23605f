"""Full resync: stream every row in primary-key order, in chunks, and post batches.

Memory stays flat in the row count: one chunk of rows and documents at a time (plus, with
``prune``, the set of live ids). The periodic resync task and ``solrsync reindex`` both run this.
"""
import logging
import time

from .sync import Report, build_documents

log = logging.getLogger("solrsync.reindex")


class ReindexResult(Report):
    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline
        self.skipped = 0
        self.seen = 0
        self.elapsed = 0.0
        self.last_pk = None

    @property
    def rate(self):
        return self.indexed / self.elapsed if self.elapsed else 0.0

    def summary(self):
        return ("%s: indexed %d, rejected %d, deleted %d, warnings %d in %.1fs (%.0f docs/s)"
                % (self.pipeline, self.indexed, len(self.rejected), self.deleted, self.warnings,
                   self.elapsed, self.rate))


def reindex(syncer, pipeline_name, batch_size=None, since=None, pks=None, dry_run=False, prune=False,
            after=None, core=None, on_batch=None, commit=True):
    """Push every row of ``pipeline_name`` (or those changed ``since`` / listed in ``pks``) to Solr."""
    pipeline = syncer.pipeline(pipeline_name)
    source = syncer.sources[pipeline_name]
    sink = syncer.sink(pipeline_name, core=core)
    batch_size = batch_size or syncer.settings.BATCH_SIZE
    result = ReindexResult(pipeline_name)
    started = time.monotonic()
    live_ids = set() if prune else None
    for rows in source.iter_chunks(batch_size, since=since, pks=pks, after=after):
        built = build_documents(pipeline, rows, result, source.pk_of)
        docs = [doc for _, doc in built]
        result.seen += len(rows)
        if live_ids is not None:
            live_ids.update(doc["id"] for doc in docs)
        if not dry_run:
            for r in sink.add_batch(docs):
                result.rejected.append((r.doc_id, None, r.message))
                log.error("%s %s: Solr rejected it: %s", pipeline_name, r.doc_id, r.message)
        result.indexed += len(docs)  # rejected ones are subtracted at the end
        result.last_pk = source.pk_of(rows[-1]) if rows else result.last_pk
        result.elapsed = time.monotonic() - started
        if on_batch:
            on_batch(result, len(rows))
    result.indexed -= len(result.rejected)
    if prune and not dry_run and since is None and pks is None:
        stale = [doc_id for doc_id in sink.iter_ids() if doc_id not in live_ids]
        for i in range(0, len(stale), batch_size):
            result.deleted += sink.delete_ids(stale[i:i + batch_size])
    if commit and not dry_run:
        sink.commit()
    result.elapsed = time.monotonic() - started
    log.info(result.summary())
    return result
