"""Drift: how a pipeline's Solr documents differ from what its database would build now, found in
constant memory (``solrsync reindex --verify``).

The first pass walks the rows in primary-key order and, a chunk at a time, fetches those
documents from Solr: a document Solr lacks is *missing*, one whose stored fields differ from a
fresh build is *stale* (a missed rename, an old title). The second walks Solr's ids (cursorMark)
and asks the database, a page at a time, which rows hold them: an id no row holds is *orphaned*;
one held by a row the pipeline's filter leaves out (unpublished) is *filtered out*. Only counts
and a few examples are kept.

``fix``: each drifted object is recorded in the change log, so a consumer repairs it like any
other change -- read afresh, written with a new version: it races no live write.
"""
import collections
import decimal
import logging
import re
import time

from .sync import Report, build_documents, document_class

log = logging.getLogger("solrsync.verify")

KINDS = ("missing", "stale", "orphaned", "filtered out")
EXAMPLES = 10
_DATE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d*))?Z$")


class Drift:
    """What ``verify`` found (and, with ``fix``, re-queued) for one pipeline."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.checked = 0          # documents the database builds, compared with Solr's
        self.solr_checked = 0     # Solr ids looked up in the database
        self.unreadable = 0       # rows that could not be read or built: not compared
        self.counts = collections.Counter()
        self.examples = {kind: [] for kind in KINDS}   # [(doc_id, pk, detail)]
        self.queued = 0
        self.elapsed = 0.0

    def add(self, kind, doc_id, pk=None, detail=""):
        self.counts[kind] += 1
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append((doc_id, pk, detail))

    @property
    def seen(self):  # for reindex.Progress
        return self.checked + self.unreadable

    @property
    def rate(self):
        return self.checked / self.elapsed if self.elapsed else 0.0

    @property
    def drifted(self):
        return sum(self.counts.values())

    def summary(self):
        found = ", ".join("%d %s" % (self.counts[k], k) for k in KINDS)
        fixed = "; re-queued %d for the consumer" % self.queued if self.queued else ""
        unread = "; %d rows unreadable, not compared" % self.unreadable if self.unreadable else ""
        return "%s: verified %d documents and %d Solr ids in %.1fs: %s%s%s" % (
            self.pipeline, self.checked, self.solr_checked, self.elapsed, found, unread, fixed)


def comparable(doc, names):
    """The fields ``names`` of a document as both sides can be compared: Solr returns a
    multi-valued field's single value as a list, dates without trailing zeros in the
    milliseconds, decimals as doubles; empty values are absent on both sides."""
    out = {}
    for name in names:
        value = doc.get(name)
        if isinstance(value, (list, tuple)):
            value = [_plain(v) for v in value]
            value = value[0] if len(value) == 1 else value or None
        else:
            value = _plain(value)
        if value is not None and value != "":
            out[name] = value
    return out


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, str):
        m = _DATE.match(value)
        if m:
            ms = (m.group(2) or "").rstrip("0")
            return m.group(1) + ("." + ms if ms else "") + "Z"
    return value


def differences(expected, actual):
    """Field names whose values differ, for the report."""
    return sorted(k for k in set(expected) | set(actual) if expected.get(k) != actual.get(k))


def verify(syncer, name, batch_size=None, core=None, fix=False, on_batch=None):
    """Compare pipeline ``name``'s documents in Solr with a fresh build from the database ->
    ``Drift``. ``fix``: record every drifted object in the change log (or, without one, apply it
    now)."""
    pipeline, source = syncer.pipeline(name), syncer.sources[name]
    sink = syncer.sink(name, core=core)
    batch_size = batch_size or syncer.settings.BATCH_SIZE
    names = [field_name for field_name, _ in pipeline.document.fields()]
    document = document_class(pipeline, source)  # values in the form Solr gives them back
    drift = Drift(name)
    owned = syncer.owned_filter(name, sink)  # the core may hold other pipelines' documents: not orphans
    began = time.monotonic()
    sink.commit()  # what is pending in Solr's buffers is what we compare
    repair = _Repair(syncer, name) if fix else None
    # an id that is not a column cannot be looked up: then the ids built are kept instead
    built_ids = set() if source.locate([]) is None else None
    unreadable = {}
    for rows in source.iter_chunks(batch_size, errors=unreadable):
        drift.unreadable += len(unreadable)
        unreadable.clear()
        report = Report()
        built = build_documents(pipeline, rows, report, source.pk_of, document)
        drift.unreadable += len(report.rejected)
        stored = sink.get_docs([doc["id"] for _, doc in built])
        for pk, doc in built:
            expected = comparable(doc, names)
            actual = stored.get(doc["id"])
            if actual is None:
                drift.add("missing", doc["id"], pk)
            else:
                diff = differences(expected, comparable(actual, names))
                if not diff:
                    continue
                drift.add("stale", doc["id"], pk, "differs in " + ", ".join(diff))
            if repair:
                repair.add(pk, doc["id"])
        drift.checked += len(built)
        drift.elapsed = time.monotonic() - began
        if built_ids is not None:
            built_ids.update(doc["id"] for _, doc in built)
        if on_batch:
            on_batch(drift, len(rows))
    for ids in _pages(sink.iter_ids(rows=batch_size, fq=owned), batch_size):
        if built_ids is None:
            held = source.locate(ids)
        else:  # orphaned or filtered out, it cannot tell: orphaned
            held = {doc_id: (None, True) for doc_id in ids if doc_id in built_ids}
        drift.solr_checked += len(ids)
        for doc_id in ids:
            if doc_id not in held:
                drift.add("orphaned", doc_id)
                if repair:
                    repair.add("", doc_id)
            elif not held[doc_id][1]:
                drift.add("filtered out", doc_id, held[doc_id][0])
                if repair:
                    repair.add(held[doc_id][0], doc_id)
    if repair:
        drift.queued = repair.flush()
    drift.elapsed = time.monotonic() - began
    return drift


def _pages(items, size):
    page = []
    for item in items:
        page.append(item)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


class _Repair:
    """Drifted objects, handed to the change log a page at a time (memory stays flat)."""

    def __init__(self, syncer, name):
        self.syncer, self.name, self.items, self.count = syncer, name, [], 0

    def add(self, pk, doc_id):
        self.items.append((pk, doc_id))
        if len(self.items) >= 1000:
            self.flush()

    def flush(self):
        if self.items:
            if self.syncer.changelog is not None:
                self.syncer.changelog.requeue(self.name, self.items)
            else:
                self.syncer.apply(self.name, self.items)
            self.count += len(self.items)
            self.items = []
        return self.count


__all__ = ["verify", "Drift", "comparable", "KINDS"]
