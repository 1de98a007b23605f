"""Pipelines: what model feeds which Solr core through which document class.

A pipeline is declarative; the data behind it comes from a *source* and its pending changes from
a *change log*, both supplied by an integration (``solrsync.contrib.django``), so this module,
like the rest of the engine, never imports Django.
"""
from .config import ConfigError


class Pipeline:
    name = None
    model = None               # "app_label.Model", resolved by the integration
    core = None                # default Solr core; settings may override
    document = None            # a solrsync.documents.Document subclass
    filter = {}                # lookups a row must pass to be indexed (e.g. published only)
    select_related = ()
    prefetch_related = ()
    watch_m2m = ()             # many-to-many fields whose changes re-index the row
    depends = ()               # more paths the documents read ("owner.email"), besides their fields'
    modified_field = None      # a datetime field, for ``reindex --since``

    def __init__(self, **overrides):
        for key, value in overrides.items():
            if key == "class":
                continue
            if not hasattr(type(self), key):
                raise ConfigError("PIPELINES", "pipeline %r has no option %r" % (self.name, key))
            setattr(self, key, value)


    def problems(self, source):
        """What the source says is wrong with each name this pipeline declares -- a document field's
        path, a filter lookup, a related name -- one line each, so a typo stops start-up instead of
        leaving a field out of every document. ``source.check(kind, name, value)`` answers with the
        reason or None; kinds: path (a document reads it from a row), field (a model field path),
        filter, select_related, prefetch_related, watch_m2m, modified_field."""
        asked = []
        for name, f in self.document.fields():
            asked += [("document field %s reads \"%s\"" % (name, p), "path", p, None)
                      for p in f.reads() if p not in f.depends]
            asked += [("document field %s depends on \"%s\"" % (name, p), "field", p, None) for p in f.depends]
        asked += [("depends \"%s\"" % p, "field", p, None) for p in self.depends]
        asked += [("filter \"%s\"" % k, "filter", k, v) for k, v in dict(self.filter).items()]
        asked += [("select_related \"%s\"" % p, "select_related", p, None) for p in self.select_related]
        # a Prefetch object names its path in prefetch_through
        asked += [("prefetch_related \"%s\"" % getattr(p, "prefetch_through", p), "prefetch_related",
                   getattr(p, "prefetch_through", p), None) for p in self.prefetch_related]
        asked += [("watch_m2m \"%s\"" % p, "watch_m2m", p, None) for p in self.watch_m2m]
        if self.modified_field:
            asked.append(("modified_field \"%s\"" % self.modified_field, "modified_field", self.modified_field, None))
        out = []
        for what, kind, name, value in asked:
            problem = source.check(kind, name, value)
            if problem:
                out.append("pipeline %s: %s: %s" % (self.name, what, problem))
        return list(dict.fromkeys(out))

    def reads(self):
        """The paths a change to which re-indexes a document: its fields' (``Document.reads``),
        the pipeline's ``depends`` and ``watch_m2m``. Declared once, here; the integration turns
        them into triggers or signal handlers on the related tables."""
        return tuple(dict.fromkeys(self.document.reads() + tuple(self.depends) + tuple(self.watch_m2m)))


RELATED = "related"  # the op of a change naming a set of rows: pk a lookup (keywords__id), doc_id its value


class Change:
    """One pending change from the change log: object pk, Solr id, the row's sequence, and the
    lease it was claimed under (only that claim may delete or release it). An empty pk names
    no row: the document is deleted unless a row holds its id. With ``op`` RELATED it names every
    row holding the value ``doc_id`` through the lookup ``pk`` (a keyword renamed: its layers)."""
    __slots__ = ("seq", "pk", "doc_id", "lease", "op")

    def __init__(self, seq, pk, doc_id, lease=None, op="save"):
        self.seq, self.pk, self.doc_id, self.lease, self.op = seq, pk, doc_id, lease, op

    def __repr__(self):
        return "Change(seq=%r, pk=%r, doc_id=%r%s)" % (self.seq, self.pk, self.doc_id,
                                                      ", op=%r" % self.op if self.op == RELATED else "")
