"""A chunk of rows built into documents and posted: the unit a reindex accounts for, whoever ran
it -- the command itself, one of its workers (process or thread), or a consumer taking a range
through the queue (range_tasks.py)."""
from .sink import Rejected
from .sync import Report, build_documents, document_class


class Chunk:
    """One chunk of rows built into documents, then posted; what the reindex accounts for.
    Built and posted in a worker (process or thread) when ``workers`` > 1. ``unreadable``: {pk:
    message} of the rows of its range that could not be read."""

    def __init__(self, syncer, name, rows, keep_ids, unreadable=None):
        pipeline, source = syncer.pipeline(name), syncer.sources[name]
        report = Report()
        built = build_documents(pipeline, rows, report, source.pk_of, document_class(pipeline, source))
        self.built = [doc for _, doc in built]
        self.pks = {doc["id"]: pk for pk, doc in built}
        self.rows, self.docs = len(rows), len(self.built)
        self.warnings, self.unbuilt = report.warnings, report.rejected
        self.unreadable = [(None, pk, msg) for pk, msg in (unreadable or {}).items()]
        self.ids = [doc["id"] for doc in self.built] if keep_ids else ()
        self.refused = []

    def result(self):
        """What a range run by a consumer stores for the command accounting for it (JSON)."""
        return {"rows": self.rows, "docs": self.docs, "warnings": self.warnings, "unbuilt": self.unbuilt,
                "unreadable": self.unreadable, "refused": [[r.doc_id, r.message] for r in self.refused],
                "pks": list(self.pks.items())}

    @classmethod
    def from_result(cls, data):
        chunk = cls.__new__(cls)
        chunk.rows, chunk.docs, chunk.warnings = data["rows"], data["docs"], data["warnings"]
        chunk.unbuilt = [tuple(f) for f in data["unbuilt"]]
        chunk.unreadable = [tuple(f) for f in data["unreadable"]]
        chunk.refused = [Rejected(doc_id, msg) for doc_id, msg in data["refused"]]
        chunk.pks = dict(data["pks"])
        chunk.built, chunk.ids = None, ()
        return chunk

    def post(self, sink, version=None, fence=None):
        """Post the built documents at ``version``, under ``fence`` (lease.Lease: checked first)."""
        self.refused = sink.add_batch(self.built, version=version, fence=fence) if self.built else []
        self.built = None  # not sent back from a worker process
        if not self.refused:
            self.pks = {}  # only needed to name the pk of a refused document
        return self

    def failures(self):
        """[(doc_id, pk, message)] of every row of the chunk that did not make it."""
        return self.unreadable + self.unbuilt + [(r.doc_id, self.pks.get(r.doc_id), r.message) for r in self.refused]
