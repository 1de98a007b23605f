"""Nested documents: a parent's ``_childDocuments_`` indexed as one block (the children, depth
first, then the parent; ``_root_`` = the parent's id on each), replaced as a whole when the parent
is, and the block join parsers ``{!parent which=..}`` and ``{!child of=..}`` that walk it. As in
Lucene, a block is found by document order: a child's parent is the next document matching
``which``."""
from .errors import bad_request
from .index import Doc
from .scoring import Node


def _flatten(children, uk):
    for child in children:
        if not isinstance(child, dict):
            raise bad_request("Expected a document in _childDocuments_, not %r" % (child,))
        child = dict(child)
        grand = child.pop("_childDocuments_", None)
        if grand:
            yield from _flatten(grand, uk)
        yield child


def replace_block(core, parent_id, parent_fields, children):
    """Drop the parent's old block; index ``children`` (if any) before it."""
    for cid in core._blocks.pop(parent_id, ()):
        core.latest.pop(cid, None)
    if not children:
        if core.roots_everywhere:
            parent_fields["_root_"] = parent_id
        return
    schema = core.schema
    uk = schema.unique_key
    if "_root_" not in schema.fields:
        raise bad_request("Unable to index docs with children: the schema must include definitions for both a "
                          "uniqueKey field and the '_root_' field, using the exact same fieldType")
    ids = []
    for child in _flatten(children, uk):
        cid = child.get(uk)
        if cid is None:
            raise bad_request("Document is missing mandatory uniqueKey field: %s" % uk)
        cid = str(cid)
        fields = core._fields(child, cid)
        fields[uk] = cid
        fields["_root_"] = parent_id
        if "_version_" in schema.fields and core.solr_version.major >= 8:  # 5.x: the parent's only
            fields["_version_"] = parent_fields.get("_version_", 0)
        core.latest.pop(cid, None)
        core.latest[cid] = Doc(fields)
        ids.append(cid)
    parent_fields["_root_"] = parent_id
    core._blocks[parent_id] = ids


def delete_block(core, parent_id):
    for cid in core._blocks.pop(parent_id, ()):
        core.latest.pop(cid, None)


_SCORE_MODES = ("none", "avg", "max", "min", "total")


class BlockJoin(Node):
    """``{!parent which=W}Q`` (``up``): the parents of the children Q matches; ``{!child of=W}Q``:
    the children of the parents Q matches. Scores: ``score=none`` (the default) 0, else the
    children's scores combined (parent); a child scores as its parent did."""

    def __init__(self, up, block_filter, inner, docs, score_mode="none"):
        if score_mode not in _SCORE_MODES:
            raise bad_request("Unable to parse ScoreMode from: %s" % score_mode)
        self.up, self.filter, self.inner, self.docs, self.mode = up, block_filter, inner, docs, score_mode
        self._hits = None

    def _compute(self):
        """One pass in index order; a block is the run of documents sharing the parent's _root_ (a
        segment boundary ends a block in Lucene; here the root does)."""
        docs = self.docs() if callable(self.docs) else self.docs
        hits = {}
        pending, root = [], None
        for doc in docs:
            doc_root = doc.fields.get("_root_")
            if doc_root != root:
                pending, root = [], doc_root
            if self.filter.score(doc) is not None:
                if self.up:
                    if pending:
                        hits[id(doc)] = self._combine([s for s in pending if s is not None])
                else:
                    s = self.inner.score(doc)
                    if s is not None:
                        for child in pending:
                            hits[id(child)] = s
                pending = []
                continue
            if root is None:
                continue  # not in a block
            if self.up:
                s = self.inner.score(doc)
                if s is not None:
                    pending.append(s)
            else:
                pending.append(doc)
        return hits

    def _combine(self, scores):
        if self.mode == "none":
            return 0.0
        if self.mode == "avg":
            return sum(scores) / len(scores)
        if self.mode == "max":
            return max(scores)
        if self.mode == "min":
            return min(scores)
        return sum(scores)

    def score(self, doc):
        if self._hits is None:
            self._hits = self._compute()
        return self._hits.get(id(doc))
