"""A pipeline's rows read through the ORM (``DjangoSource``): the engine's source interface, with the
dotted paths of a document's fields checked and compiled into ``values()`` lookups."""
import difflib
import os
import threading

from django.db import connections
from django.db.models import IntegerField

from solrsync.documents import BBox, Document, InvalidBBox, Multi

from .graph import generic_hop, id_path, is_generic_fk, model_field
from .reads import Reused, among, fetch_values, integer_shape

# Read errors that mean "the database is not answering", not "this row cannot be read": a batch
# meeting one is retried whole rather than its rows filed as failures.
_OUTAGES = ("OperationalError", "InterfaceError")


# Django's internal field types -> Solr field types (anything else: string).
_SOLR_TYPES = dict(
    {t: "pint" for t in ("AutoField", "SmallAutoField", "IntegerField", "SmallIntegerField", "PositiveIntegerField",
                         "PositiveSmallIntegerField")},
    **{t: "plong" for t in ("BigAutoField", "BigIntegerField", "PositiveBigIntegerField")},
    FloatField="pdouble", DecimalField="pdouble", DurationField="pdouble",  # a duration in seconds
    BooleanField="boolean", NullBooleanField="boolean",
    DateTimeField="pdate", DateField="pdate", TextField="text_general")


def _isolatable(exc, errors):
    """Is this read error one row's to file in ``errors`` (when the caller asked for that)?"""
    return errors is not None and type(exc).__name__ not in _OUTAGES


def _final_field(model, lookup):
    """The field an ORM lookup through relations (``resourcebase_ptr__uuid``) ends at."""
    field = None
    for part in lookup.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model
    return field


def _names(model, accessors=False):
    names = [f.name for f in model._meta.get_fields()]
    if accessors:
        names += [r.get_accessor_name() for r in model._meta.related_objects]
    return sorted(set(names))


class DjangoSource:
    """Rows of a pipeline's model, with related rows fetched per chunk (no query per row).

    When every document field is a plain path (``"owner.username"``, many-to-many names), rows
    are read as dicts with ``values()`` -- several times faster than model instances, which the
    reindex's throughput depends on; a field computed by a function gets model instances."""

    def __init__(self, pipeline, model):
        self.pipeline, self.model = pipeline, model
        self.plan = self._plan()
        self._reads = {}  # (process, thread, what) -> Reused

    def _reused(self, what, make, lookups, keys):
        """``Reused(make, lookups, keys)(*keys)``, the ``Reused`` read ``what`` of this process and thread
        made the first time."""
        key = (os.getpid(), threading.get_ident(), what)
        read = self._reads.get(key)
        if read is None:
            read = self._reads[key] = Reused(make, lookups, keys)
        return read(*keys)

    def _plan(self):
        flat, many = ["pk"], []
        for name, f in self.pipeline.document.fields():
            if f.fn is not None:
                return None
            if isinstance(f, Multi):
                try:
                    field = self.model._meta.get_field(f.source)
                except Exception:
                    return None
                if not field.many_to_many or not hasattr(field, "m2m_field_name"):
                    return None
                many.append((f.source, field, f.attr))
                continue
            for path in (f.paths if isinstance(f, BBox) else (f.source,)):
                if generic_hop(self.model, path):
                    return None  # values() cannot cross a generic foreign key: model instances can
                if path not in flat:
                    flat.append(path)
        return flat, many

    def check(self, kind, name, value=None):
        """Why the pipeline's ``name`` (see ``Pipeline.problems`` for the kinds) cannot be read from
        this model, or None. Rows read as dicts (``values()``) reach only fields; model instances also
        reach properties and reverse accessors (``layer_set``)."""
        if kind == "filter":
            try:
                self.model._default_manager.filter(**{name: value}).query  # builds the WHERE, runs nothing
                return None
            except Exception as exc:
                return self._walk(name.split("__"), kind) or str(exc).splitlines()[0]
        return self._walk(name.replace("__", ".").split("."), kind)

    def _walk(self, parts, kind):
        instances = kind == "path" and self.plan is None
        model, field = self.model, None
        for i, part in enumerate(parts):
            field = model_field(model, part, instances)
            if instances and is_generic_fk(field):
                return None  # a generic foreign key: its target's attributes are read on (graph.py follows them)
            if field is None:
                if instances and isinstance(getattr(model, part, None), property):
                    return None  # a property: whatever it returns is read on
                names = _names(model, instances)
                close = difflib.get_close_matches(part, names, 1)
                return '%s has no field "%s"%s' % (model.__name__, part,
                                                  ' (did you mean "%s"?)' % close[0] if close else
                                                  " (fields: %s)" % ", ".join(names[:12]))
            if kind == "select_related" and not (field.many_to_one or field.one_to_one):
                return '%s.%s is not a foreign key or one-to-one field' % (model.__name__, part)
            if kind == "prefetch_related" and not field.is_relation:
                return '%s.%s is not a relation' % (model.__name__, part)
            if i + 1 < len(parts):
                if field.is_relation and field.related_model is not None:
                    model = field.related_model
                elif kind == "filter" or field.get_transform(parts[i + 1]) is not None:
                    return None  # a lookup (title__icontains) or a transform (date.year, a JSON key)
                else:
                    return '%s.%s is not a relation: "%s" cannot be read from it' % (
                        model.__name__, part, parts[i + 1])
        if kind == "watch_m2m" and not field.many_to_many:
            return '%s.%s is not a many-to-many field' % (model.__name__, parts[-1])
        if kind == "modified_field" and field.is_relation:
            return '%s.%s is a relation, not a date' % (model.__name__, parts[-1])
        return None

    def _dict_rows(self, qs, contiguous=False, page=None):
        flat, many = self.plan
        lookups = [p.replace(".", "__") for p in flat]
        # page: (what, make, keys): the rows of make(*keys), read as the Reused ``what`` (a reindex's
        # chunk, a drain's claim); ``qs`` (None with a page) is read otherwise
        values = self._reused(page[0], page[1], lookups, page[2]) if page else fetch_values(qs, *lookups)
        rows = [dict(zip(flat, row)) for row in values]
        if rows and many:
            db = qs.db if qs is not None else self.model._default_manager.db
            by_pk = {row["pk"]: row for row in rows}
            for source, field, attr in many:
                key = "%s.%s" % (source, attr) if attr else source  # Multi reads the values there
                for row in rows:
                    row[key] = []
                through = field.remote_field.through
                src, dst = field.m2m_field_name(), field.m2m_reverse_field_name()
                target = dst + ("__" + attr.replace(".", "__") if attr else "")
                related = through._default_manager.using(db)
                if contiguous:  # a pk range reads faster than an IN list of a thousand parameters
                    found = self._reused(("many", source, db), lambda first, last, related=related, src=src:
                                         related.filter(**{src + "__gte": first, src + "__lte": last}).order_by("pk"),
                                         (src, target), (rows[0]["pk"], rows[-1]["pk"]))
                else:
                    found = self._read_among(("many", source), lambda related=related: related.order_by("pk"), src,
                                             list(by_pk), (src, target), db)
                for pk, value in found:
                    row = by_pk.get(pk)  # rows the pipeline's filter left out have related rows too
                    if row is not None:
                        row[key].append(value)
        return rows

    def _among_page(self, what, base, name, keys, db):
        """``among(base(), name, keys)`` as a ``page`` of ``_dict_rows``, Reused by every key list
        of this one's shape (``integer_shape``) -> (what, make, keys), or None: compiled each time."""
        shape = integer_shape(keys, connections[db].vendor)
        if shape is None:
            return None
        build, args = shape
        return what + (build.__name__, db), lambda *keys: build(base(), name, *keys), args

    def _read_among(self, what, base, name, keys, lookups, db):
        """``fetch_values(among(base(), name, keys), *lookups)``, compiled once a shape where it can be
        (``_among_page``)."""
        page = self._among_page(what, base, name, keys, db)
        if page is None:
            return fetch_values(among(base(), name, keys), *lookups)
        return self._reused(page[0], page[1], lookups, page[2])

    def queryset(self):
        p = self.pipeline
        qs = self.model._default_manager.all()
        if p.filter:
            qs = qs.filter(**p.filter)
        if p.select_related:
            qs = qs.select_related(*p.select_related)
        if p.prefetch_related:
            qs = qs.prefetch_related(*p.prefetch_related)
        return qs

    def pk_of(self, row):
        return row["pk"] if isinstance(row, dict) else row.pk

    def rows(self, qs, contiguous=False, page=None):
        return self._dict_rows(qs, contiguous, page) if self.plan else list(qs)

    def load(self, pks, errors=None):
        """-> {pk: row} for the rows that exist and pass the pipeline's filter. With ``errors`` (a
        dict), a row the database or Django cannot read (a date of 2024-02-30 written by another
        program, 'infinity', a BLOB in a text column) is isolated -- the batch halved until it
        stands alone -- and lands there as {pk: message}; the rest load."""
        field = self.model._meta.pk
        wanted = None
        if getattr(field.to_python, "__func__", None) is IntegerField.to_python:  # int() is all it does
            try:
                wanted = list(map(int, pks))
            except (TypeError, ValueError):
                pass  # a key that is no integer: told apart below
        if wanted is None:
            wanted = []
            for pk in pks:
                try:
                    wanted.append(field.to_python(pk))
                except Exception as exc:
                    if errors is None:
                        raise
                    errors[str(pk)] = "not a valid primary key: %s" % exc
        return {self.pk_of(row): row for row in self.read_isolating(wanted, errors)}

    def read_isolating(self, pks, errors, contiguous=False):
        """The rows of these pks (in pk order; ``contiguous``: they are a whole key range, whose
        many-to-many rows read faster by range); see ``load`` for ``errors``."""
        page = self.plan and self._among_page(("load",), lambda: self.queryset().order_by("pk"), "pk", pks,
                                              self.model._default_manager.db)
        qs = None if page else among(self.queryset(), "pk", pks).order_by("pk")
        try:
            return self.rows(qs, contiguous=contiguous, page=page)
        except Exception as exc:
            if not _isolatable(exc, errors) or not pks:
                raise
            if len(pks) == 1:
                errors[str(pks[0])] = "cannot read the row: %s: %s" % (type(exc).__name__, exc)
                return []
            half = len(pks) // 2
            return (self.read_isolating(pks[:half], errors, contiguous)
                    + self.read_isolating(pks[half:], errors, contiguous))

    def _id_column(self):
        """The model field the document id is copied from, or None when it is computed or read
        from a related row (no row can then be found by its id)."""
        id_field = self.pipeline.document.id
        source = id_field.source
        if id_field.fn is not None or not source:
            return None
        if "." in source:  # a parent's column through its link (resourcebase_ptr.uuid): a lookup
            found = id_path(self.model, source)
            return found[0] if found else None
        return source

    def doc_ids(self, pks):
        """The document ids of these rows, whatever the filter says, read from the id column alone
        (a row whose other columns cannot be read) -> [ids], or None when the id is not a column or
        cannot be read either."""
        source = self._id_column()
        if source is None or not pks:
            return None if source is None else []
        try:
            return [str(v) for v in self.model._default_manager.filter(pk__in=pks).values_list(source, flat=True)]
        except Exception as exc:
            if not _isolatable(exc, {}):
                raise
            return None

    def _id_values(self, source, doc_ids):
        """``doc_ids`` as values of the id column ``source``; an id that is not even a value of it
        ("abc" for an integer key, an orphan "ghost" in a UUID-keyed pipeline) is held by no row."""
        column = self.model._meta.pk if source == "pk" else _final_field(self.model, source)
        wanted = []
        for doc_id in doc_ids:
            try:
                wanted.append(column.to_python(doc_id))
            except Exception:
                pass
        return wanted

    def holders(self, doc_ids):
        """The rows (passing the filter) whose document id is one of ``doc_ids``: an id a gone row
        had may belong to another row now (an overwrite import), whose document must stay."""
        source = self._id_column()
        if not doc_ids or source is None:
            return []
        wanted = self._id_values(source, doc_ids)
        if not wanted:
            return []
        # their keys first: almost always none (a gone row's id is its own), and a query of one
        # column costs Django a fraction of compiling the rows' (1.9 ms of CPU a batch, profiled)
        pks = list(self.queryset().filter(**{source + "__in": wanted}).values_list("pk", flat=True))
        return self.read_isolating(sorted(pks), None) if pks else []

    def locate(self, doc_ids):
        """{doc_id: (pk, passes the filter)} for the rows holding these document ids, whatever the
        filter says; None when the id is not a column (computed, or on a related row), so a row
        cannot be found from it. An id that is not even a valid value of the column is held by
        no row."""
        source = self._id_column()
        if source is None:
            return None
        wanted = self._id_values(source, doc_ids)
        manager = self.model._default_manager
        held = {str(value): pk for pk, value in manager.filter(**{source + "__in": wanted}).values_list("pk", source)}
        passing = set(manager.filter(pk__in=list(held.values()), **(self.pipeline.filter or {}))
                      .values_list("pk", flat=True))
        asked = set(doc_ids)
        return {doc_id: (pk, pk in passing) for doc_id, pk in held.items() if doc_id in asked}

    def _ordered(self, since=None, pks=None):
        qs = self.queryset().order_by("pk")
        if since is not None:
            if not self.pipeline.modified_field:
                raise ValueError("pipeline %s has no modified_field for --since" % self.pipeline.name)
            qs = qs.filter(**{self.pipeline.modified_field + "__gte": since})
        if pks is not None:
            try:
                qs = qs.filter(pk__in=[self.model._meta.pk.to_python(pk) for pk in pks])
            except Exception as exc:  # a ValidationError: "abc" for an integer key, "1" for a UUID
                raise ValueError("pipeline %s: --ids: %s" % (self.pipeline.name, " ".join(
                    getattr(exc, "messages", [str(exc)])))) from None
        return qs

    def _pages(self, size, since, pks, after, read):
        """Keyset paging (constant cost per page); ``read(queryset, n)`` -> (page, its last pk, its length)."""
        qs = self._ordered(since, pks)
        last = self.model._meta.pk.to_python(after) if after is not None else None
        while True:
            page, last, n = read(qs.filter(pk__gt=last) if last is not None else qs, size, last)
            if not n:
                return
            yield page
            if n < size:
                return

    def iter_chunks(self, size, since=None, pks=None, after=None, errors=None):
        """Lists of rows in primary-key order; with ``errors``, unreadable rows are isolated into
        it (as ``load`` does) and the chunk holds the others."""
        def read(qs, n, last):
            page = None
            if last is not None and pks is None:  # the query of every page but the first: Reused
                page = (("page", since, n, qs.db), lambda key: self._ordered(since).filter(pk__gt=key)[:n], (last,))
            rows, keys = self._read_range(qs, errors, n, page)
            if keys is not None:  # isolated: the page is as long as its keys, however many rows read
                return rows, keys[-1], len(keys)
            return rows, self.pk_of(rows[-1]) if rows else None, len(rows)
        return self._pages(size, since, pks, after, read)

    def _read_range(self, qs, errors, n=None, page=None):
        """The rows of a pk-ordered queryset (its first ``n``; ``page``: see ``_dict_rows``) ->
        (rows, None); when a row cannot be read and ``errors`` is given, (the others, the keys of
        the range) -- see ``load``."""
        try:
            return self.rows(qs[:n] if n else qs, contiguous=True, page=page), None
        except Exception as exc:
            if not _isolatable(exc, errors):
                raise
        keys = qs.values_list("pk", flat=True)
        keys = list(keys[:n] if n else keys)
        return self.read_isolating(keys, errors, contiguous=True), keys

    def related(self, lookup, value, size):
        """Pages of [(pk, document id)], in pk order, of every row holding ``value`` through
        ``lookup`` (``keywords__id``), whatever the filter says: a row the change moved out of
        the filter must lose its document. The keys are read in one query (keyset pages through
        a join would sort the whole set again for every page), the ids a page at a time."""
        manager = self.model._default_manager
        keys = sorted(set(manager.filter(**{lookup: value}).values_list("pk", flat=True)))
        id_column = self._id_column()
        db = manager.db
        for i in range(0, len(keys), size):
            page = keys[i:i + size]
            ids = dict(self._read_among(("ids", id_column), manager.all, "pk", page, ("pk", id_column), db)) \
                if id_column else {}
            yield [(pk, str(ids[pk]) if ids.get(pk) is not None else "") for pk in page]

    def iter_ranges(self, size, since=None, pks=None, after=None):
        """(first pk, last pk, rows) of each chunk ``iter_chunks`` would yield, reading only the
        keys: the reindex hands these to its worker processes, which read the rows themselves."""
        def read(qs, n, last):
            keys = list(qs.values_list("pk", flat=True)[:n])
            return ((keys[0], keys[-1], len(keys)) if keys else None), keys[-1] if keys else None, len(keys)
        return self._pages(size, since, pks, after, read)

    def chunk(self, first, last, since=None, pks=None, errors=None):
        """The rows of one ``iter_ranges`` chunk; with ``errors``, unreadable rows are isolated
        into it (as ``load`` does) and the others returned."""
        def make(low, high):
            return self._ordered(since, pks).filter(pk__gte=low, pk__lte=high)
        qs = make(first, last)
        page = None if pks is not None else (("range", since, qs.db), make, (first, last))
        return self._read_range(qs, errors, page=page)[0]

    def solr_type(self, path):
        """The Solr field type (solrsync.configset.FIELD_TYPES) for the model field a dotted path
        (``category.identifier``, ``keywords.name``, ``pk``) ends at; None when no field is there."""
        found = self.solr_field(path)
        return found and found[0]

    def solr_field(self, path):
        """(Solr type, multiValued) of the model field a dotted path ends at -- multiValued for an
        ArrayField, of its base field's type -- or None when no field is there. ``Document.typed``
        and the generated configset both read it, so documents hold what the schema accepts."""
        model, field = self.model, None
        for part in path.split("."):
            if model is None:
                return None
            try:
                field = model._meta.pk if part == "pk" else model._meta.get_field(part)
            except Exception:
                return None
            model = field.related_model
        while field.is_relation:  # a key: its target's type
            try:
                field = field.target_field
            except Exception:
                return "string", False
        many = False
        while getattr(field, "base_field", None) is not None and field.get_internal_type() == "ArrayField":
            field, many = field.base_field, True
        return _SOLR_TYPES.get(field.get_internal_type(), "string"), many

    @staticmethod
    def extent(value):
        """A geometry (GeoDjango's GEOSGeometry: Polygon, MultiPolygon, Point, ...) -> its extent as
        (x0, x1, y0, y1) in WGS84, reprojected from its SRID when that is not 4326; four numbers
        or None pass as they are (``Document.extent``). The engine gets numbers, never a geometry."""
        if value is None or (isinstance(value, (tuple, list)) and len(value) == 4):
            return Document.extent(value)
        if not hasattr(type(value), "extent") or not hasattr(type(value), "empty"):  # the class: no evaluation
            return Document.extent(value)  # raises: not a geometry either
        if value.empty:
            return None, None, None, None
        if value.srid not in (None, 4326):
            try:
                value = value.transform(4326, clone=True)
            except Exception as exc:  # no GDAL, an SRID PROJ does not know
                raise InvalidBBox("cannot reproject the geometry from SRID %s to WGS84: %s" % (value.srid, exc))
        x0, y0, x1, y1 = value.extent
        return x0, x1, y0, y1

    def close(self):
        """Drop this thread's database connections (before the reindex forks worker processes,
        which must not share a connection's socket with their parent)."""
        connections.close_all()

    def count(self):
        return self.queryset().count()

    def all_count(self):
        return self.model._default_manager.count()
