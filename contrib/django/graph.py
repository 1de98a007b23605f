"""What a pipeline's documents read, as tables: the ORM dependency graph, derived from ``_meta``.

Every dotted path a document reads (``owner.zoo_profile.org.name``, ``keywords.name``, a parent's
``title``) is walked hop by hop -- forward and reverse foreign keys and one-to-ones, many-to-manys
from either side (custom through models, django-taggit's managers), generic relations (content
type + object id), multi-table-inheritance parent links both ways, proxies -- and each table on the
way becomes a ``Way``: which of its rows' columns bind which ORM lookup from the pipeline's model.

The way back from a row to the pipeline's keys is then the ORM's own query,
``Model._base_manager.filter(**{way.lookup: <the row's column>})``, compiled to SQL with the
row's column in place of the value (triggers.py) or run as it is (signals.py): Django writes the
joins, knows which table each column lives on (a child's ``title`` lives on its parent's table)
and which concrete model a row belongs to (a parent row of a ``Map`` is no ``Layer``: the join
through ``zoo_layer`` finds nothing).
"""
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist


class _Never:
    """Stands for contenttypes' classes in a project without django.contrib.contenttypes."""


def _generic():
    if not apps.is_installed("django.contrib.contenttypes"):
        return _Never, _Never
    # Django app loading: importable only in a project with contenttypes installed
    from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
    return GenericForeignKey, GenericRelation


class Way:
    """Rows of ``model``'s table (``table``) that documents read. A row's value of ``column`` bound
    to ``lookup`` on the pipeline's model finds the documents it is read by. ``columns``: what of
    the row is read (None: any column); ``forward``: the row is reached by its own key (a category,
    a keyword) -- an update names the set in one change row (RELATED) rather than a row per
    document; ``content_types``: the (app_label, model) pairs a generic row must name to count
    (object_id of another model's row is no key of ours); ``parent``: the table is an ancestor of
    the pipeline's own (multi-table inheritance), keyed by the same pk."""

    def __init__(self, model, table, lookup, column, forward=False, content_types=None, ct_column=None,
                 parent=False, path="", target=None):
        self.model, self.table, self.lookup, self.column = model, table, lookup, column
        # through a generic foreign key: (the lookup of its content type, the model it must name,
        # for_concrete_model) -- a comment on a Post is not one on the Article with the same key
        self.target = target
        self.forward, self.content_types, self.ct_column, self.parent = forward, content_types, ct_column, parent
        self.columns, self.paths = set(), [path]

    @property
    def key(self):
        return (self.table, self.lookup, self.column, self.target and self.target[:2])

    def filters(self, using=None):
        """The lookups besides ``lookup`` a pipeline row must pass (a generic target's content type)."""
        if self.target is None:
            return {}
        # Django app loading: importable only in a project with contenttypes installed
        from django.contrib.contenttypes.models import ContentType
        lookup, model, concrete = self.target
        return {lookup: ContentType.objects.db_manager(using).get_for_model(model, for_concrete_model=concrete)}

    def read(self, column):
        if column is None:
            self.columns = None
        elif self.columns is not None:
            self.columns.add(column)

    def attname(self):
        """The model attribute holding ``column`` (signals read the value from the instance)."""
        return next(f.attname for f in self.model._meta.concrete_fields if f.column == self.column)

    def describe(self):
        return "%s (%s)" % (self.table, ", ".join(self.paths))


_INTEGER_KEYS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
                 "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField"}


class Unfollowable(Exception):
    """A path whose changes no trigger or signal can follow (a generic foreign key's target)."""


def _concrete(model):
    return model._meta.concrete_model


def model_field(model, name, accessors=True):
    """The model field (or reverse relation) called ``name``: by name, attname (``owner_id``), ``pk``,
    and, with ``accessors``, a reverse relation's accessor (``layer_set``)."""
    meta = model._meta
    if name == "pk":
        return meta.pk
    try:
        return meta.get_field(name)
    except FieldDoesNotExist:
        if accessors:
            return next((r for r in meta.related_objects if r.get_accessor_name() == name), None)
        return None


class Graph:
    """The ways of one pipeline (its own table excluded: triggers.py writes that one's triggers)."""

    def __init__(self, pipeline, model):
        self.pipeline, self.model = pipeline, model
        self.ways = {}
        self.m2m = []       # (through model, way of its rows, way of the related table's rows)
        self.problems = []  # (path, why it cannot be followed)
        for path in self.paths(pipeline):
            try:
                self._walk(path)
            except Unfollowable as exc:
                self.problems.append((path, str(exc)))
        # what no trigger or signal can follow, said by migrate, check and status
        self.unfollowed = ["document field %s is computed by a function without depends: changes to "
                           "the rows it reads are not followed" % name
                           for name, f in pipeline.document.fields()
                           if f.fn is not None and not f.depends and f is not pipeline.document.id]

    @staticmethod
    def paths(pipeline):
        """The dotted paths the documents read, and those the filter reads (a parent's
        ``is_published`` moves a child in or out of the index)."""
        out = list(pipeline.reads())
        for key in dict(pipeline.filter or {}):
            out.append(key.replace("__", "."))
        return list(dict.fromkeys(out))

    def _way(self, model, lookup, column, **kw):
        path = kw.pop("path", "")
        way = Way(model, model._meta.db_table, lookup, column, path=path, **kw)
        found = self.ways.get(way.key)
        if found is None:
            self.ways[way.key] = found = way
        elif path not in found.paths:
            found.paths.append(path)
        return found

    def _row(self, model, lookup, holder, path, entry=None):
        """The way to the table of ``model``'s row at ``lookup`` that holds a column of ``holder``
        (the model itself, or an ancestor by multi-table inheritance): ``entry``, the way the last
        hop came in by, when it is that table; None for the pipeline's own table."""
        holder = _concrete(holder)
        if entry is not None and entry.model is holder:
            return entry
        if lookup == [] and holder is _concrete(self.model):
            return None
        pk = holder._meta.pk
        key = "__".join(lookup + [pk.name]) if lookup else "pk"
        return self._way(holder, key, pk.column, forward=bool(lookup), parent=not lookup, path=path)

    def _walk(self, path):
        parts = path.split(".")
        GenericForeignKey, _ = _generic()
        model, lookup, entry = self.model, [], None
        for i, part in enumerate(parts):
            if part == "pk":  # the row's own key: no relation to follow, whatever the pk is (a parent link)
                way = self._row(model, lookup, model, path, entry)
                if way is not None:
                    way.read(_concrete(model)._meta.pk.column)
                return
            field = model_field(model, part)
            last = i == len(parts) - 1
            if field is None:
                # a property or a transform (date.year): whatever of this row it reads
                way = self._row(model, lookup, model, path, entry)
                if way is not None:
                    way.read(None)
                return
            if isinstance(field, GenericForeignKey):
                self._generic_fk(model, lookup, field, parts[i + 1:], path)
                return
            if not field.is_relation:
                way = self._row(model, lookup, field.model, path, entry)
                if way is not None:
                    way.read(field.column)
                return
            model, lookup, entry = self._hop(model, lookup, field, path, last, entry)
            if model is None:
                return

    def _generic_fk(self, model, lookup, gfk, rest, path):
        """A generic foreign key (``content_object.title``) may name a row of any model: its targets
        are every model with that column (``title``), and for the object itself the models declaring
        a GenericRelation back to ``model``; each target's table records the rows naming its content
        type and key. Past it, only a column of the target is followed (the ORM cannot join through it)."""
        _, GenericRelation = _generic()
        declared = {m for m in apps.get_models() for f in m._meta.private_fields
                    if isinstance(f, GenericRelation) and _concrete(f.related_model) is _concrete(model)
                    and f.object_id_field_name == gfk.fk_field and f.content_type_field_name == gfk.ct_field}
        having = set()
        if rest:
            having = {m for m in apps.get_models() if m is not model and not m._meta.proxy and
                      getattr(model_field(m, rest[0]), "concrete", False) and getattr(model_field(m, rest[0]), "column", None)}
        id_field = model._meta.get_field(gfk.fk_field)
        if id_field.get_internal_type() not in ("CharField", "TextField"):  # keys it can hold: integers
            having = {m for m in having if m._meta.pk.get_internal_type() in _INTEGER_KEYS}
        targets = sorted({_concrete(m) if gfk.for_concrete_model else m for m in declared | having},
                         key=lambda m: m._meta.label)
        if not targets:
            raise Unfollowable("%s.%s is a generic foreign key and no model declares a GenericRelation to %s: "
                               "nothing says which tables to follow" % (model.__name__, gfk.name, model.__name__))
        if len(rest) > 1:
            raise Unfollowable("past the generic foreign key %s.%s only a column of its target is followed" % (
                model.__name__, gfk.name))
        object_id = "__".join(lookup + [gfk.fk_field])
        ct = "__".join(lookup + [gfk.ct_field])
        for target in targets:
            holder, column = _concrete(target), None  # the path ends at the object: any column of it
            if rest:
                field = model_field(target, rest[0])
                if field is None and not hasattr(target, rest[0]):
                    continue  # this target has no such attribute: the document reads nothing of it
                if field is not None and getattr(field, "column", None) is not None and field.concrete:
                    holder, column = _concrete(field.model), field.column  # perhaps a parent's column
            way = self._way(holder, object_id, holder._meta.pk.column, path=path,
                            target=(ct, target, gfk.for_concrete_model))
            way.read(column)

    def _hop(self, model, lookup, field, path, last, entry):
        """Follow one relation from ``model`` (at ``lookup``); -> (the related model, its lookup)."""
        name = field.name
        GenericForeignKey, GenericRelation = _generic()
        if isinstance(field, GenericRelation):
            # rows of the related model naming this one by content type and object id
            related = field.related_model
            holder = field.model
            id_field = related._meta.get_field(field.object_id_field_name)
            ct_field = related._meta.get_field(field.content_type_field_name)
            way = self._way(related, "__".join(lookup + ["pk"]) if lookup else "pk", id_field.column,
                            content_types=self._content_types(model, holder), ct_column=ct_field.column,
                            path=path)
            way.read(id_field.column)
            way.read(ct_field.column)
            return self._entered(related, lookup + [name], related, way, last)
        if field.many_to_many:
            return self._m2m(model, lookup, field, path, last)
        if field.concrete:  # a forward foreign key or one-to-one (a parent link too)
            way = self._row(model, lookup, field.model, path, entry)
            if way is not None:
                way.read(field.column)
            related = field.related_model
            target = field.target_field
            parent_link = bool(getattr(field.remote_field, "parent_link", False)) and not lookup
            key = "pk" if parent_link else "__".join(lookup + [name, target.name])  # a parent's pk is ours
            way = self._way(_concrete(target.model), key, target.column, forward=not parent_link,
                            parent=parent_link, path=path)
            return self._entered(related, lookup + [name], target.model, way, last)
        # a reverse foreign key or one-to-one: the related rows point at this one
        if not (field.one_to_many or field.one_to_one) or not hasattr(field, "field"):
            raise Unfollowable("%s.%s: a relation of a kind solrsync does not know" % (model.__name__, name))
        fk = field.field
        related = field.related_model
        target = fk.target_field
        key = "pk" if target.primary_key else target.name
        way = self._way(_concrete(fk.model), "__".join(lookup + [key]), fk.column, path=path)
        way.read(fk.column)
        return self._entered(related, lookup + [name], fk.model, way, last)

    def _entered(self, related, lookup, entry_holder, way, last):
        """After a hop into ``related``: the path ends at the relation itself (any column counts),
        or goes on from there."""
        if last:
            way.read(None)
            return None, None, None
        return related, lookup, way

    def _m2m(self, model, lookup, field, path, last):
        """Both sides of a many-to-many: its through table (membership) and the related table."""
        if field.concrete or not field.auto_created:   # declared here (ManyToManyField, TaggableManager)
            through = field.remote_field.through
            related = field.related_model
            holder = field.model
        else:                                           # the reverse side
            through = field.through
            related = field.related_model
            holder = field.model
        tmeta = through._meta
        near = far = None
        for f in tmeta.concrete_fields:
            if not f.is_relation:
                continue
            if far is None and _concrete(f.related_model) is _concrete(related) and f is not near:
                far = f
            elif near is None and issubclass(_concrete(model), _concrete(f.related_model)):
                near = f
        if far is None:
            raise Unfollowable("%s.%s: no foreign key to %s on its through model %s" % (
                model.__name__, field.name, related.__name__, through.__name__))
        here = "__".join(lookup + ["pk"]) if lookup else "pk"
        if near is not None:                            # a foreign key to this side
            way = self._way(through, here, near.column, path=path)
        else:                                           # taggit's generic TaggedItem: content type + object id
            gfk = next((f for f in tmeta.private_fields if isinstance(f, _generic()[0])), None)
            if gfk is None:
                raise Unfollowable("%s.%s: its through model %s has no key to %s" % (
                    model.__name__, field.name, through.__name__, model.__name__))
            way = self._way(through, here, tmeta.get_field(gfk.fk_field).column,
                            content_types=self._content_types(model, holder),
                            ct_column=tmeta.get_field(gfk.ct_field).column, path=path)
        way.read(None)
        membership = way
        target = far.target_field
        way = self._way(_concrete(related), "__".join(lookup + [field.name, target.name]), target.column,
                        forward=True, path=path)
        if not any(m[0] is through and m[1] is membership for m in self.m2m):
            self.m2m.append((through, membership, way))
        return self._entered(related, lookup + [field.name], related, way, last)

    @staticmethod
    def _content_types(model, holder):
        """The content types a generic row may name for a row of ``model`` reached through a
        relation declared on ``holder``: the model, its ancestors up to the holder, and its
        descendants (django-polymorphic and taggit name the concrete class of the instance)."""
        models = {model, holder}
        models.update(m for m in model._meta.get_parent_list())
        models.update(m for m in apps.get_models() if issubclass(m, model))
        return sorted({(m._meta.app_label, m._meta.model_name) for m in models})


def id_path(model, source):
    """The document id's column, for a pipeline whose id is copied from one: ``pk``, a column, or a
    column of an ancestor reached by parent links (``uuid`` on a child, ``resourcebase_ptr.uuid``)
    -> (ORM lookup, field, concrete model whose table holds it), or None (computed, or read through
    another relation)."""
    meta = model._meta
    if source == "pk":
        return "pk", meta.pk, _concrete(model)
    parts = source.split(".")
    current = model
    for part in parts[:-1]:
        f = model_field(current, part)
        if f is None or not (f.concrete and f.is_relation and getattr(f.remote_field, "parent_link", False)):
            return None
        current = f.related_model
    f = model_field(current, parts[-1])
    if f is None or getattr(f, "column", None) is None or (f.is_relation and not f.concrete):
        return None
    return "__".join(parts), f, _concrete(f.model)


def is_generic_fk(field):
    return isinstance(field, _generic()[0])


def generic_hop(model, path):
    """Does this dotted path cross a generic foreign key?"""
    for part in path.split("."):
        field = model_field(model, part) if model is not None else None
        if field is None:
            return False
        if is_generic_fk(field):
            return True
        model = field.related_model if field.is_relation else None
    return False
