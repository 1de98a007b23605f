"""The field list (``fl``): stored fields (globs), stored copyField destinations, ``score``, the
``alias:field`` form and the ``[child]`` transformer; other transformers and functions answer "not
emulated"."""
import fnmatch
import re

from .errors import bad_request, not_emulated
from .writers import SolrDoc

_XML = (("Long", "long"), ("Int", "int"), ("Float", "float"), ("Double", "double"), ("Date", "date"),
        ("Bool", "bool"))


def xml_types(schema):
    """field name -> the XML writer's element for its values (cached on the schema)."""
    cache = schema.__dict__.setdefault("_xml_types", {})
    return cache


class Wanted:
    """A parsed ``fl``: names and globs, ``score``, aliases {alias: field}."""

    def __init__(self, names, aliases, score, child=None):
        self.names, self.aliases, self.score = names, aliases, score
        self.child = child  # the [child] transformer's parameters
        self.all = "*" in names or not (names or aliases or score or child is not None and names)

    def __contains__(self, name):
        return name == "score" and self.score

    def wants(self, name):
        if self.all or name in self.names:
            return True
        return any("*" in w and fnmatch.fnmatchcase(name, w) for w in self.names)


_FL = re.compile(r"\[[^\]]*\]|[^\s,]+")


def wanted_fields(fl):
    names, aliases, score, child = [], {}, False, None
    for entry in fl:
        for w in _FL.findall(entry):
            if w == "score":
                score = True
            elif w.startswith("[child") and w[6:7] in ("]", " "):
                child = dict(re.findall(r"(\w+)=(\S+)", w[6:-1]))
            elif w.startswith("["):
                raise not_emulated("the document transformer %s" % w)
            elif "(" in w:
                raise not_emulated("a function in fl (%s)" % w)
            elif ":" in w:
                alias, _, field = w.partition(":")
                if field == "score":
                    raise not_emulated("an alias of score in fl")
                aliases[alias] = field
            else:
                names.append(w)
    return Wanted(names, aliases, score, child)


def attach_children(core, fl, page, docs, parse):
    """The ``[child]`` transformer: each parent's block (children in index order) as
    ``_childDocuments_``; ``parentFilter`` (required on 5.x), ``childFilter``, ``limit`` (10),
    ``fl`` (8.x/9.x; default the request's; 5.x returns every stored field)."""
    spec = fl.child
    modern = core.solr_version.major >= 8
    if not modern and not spec.get("parentFilter"):
        raise bad_request("Parent filter should be sent as parentFilter=filterCondition")
    parent = parse(spec["parentFilter"]) if spec.get("parentFilter") else None
    child = parse(spec["childFilter"]) if spec.get("childFilter") else None
    limit = int(spec.get("limit", "10"))
    child_fl = wanted_fields([spec["fl"]]) if modern and spec.get("fl") else \
        Wanted(fl.names, fl.aliases, False) if modern else Wanted(["*"], {}, False)
    for (doc, _), out in zip(page, docs):
        if parent is not None and parent.score(doc) is None:
            continue
        found = []
        for cid in core._blocks.get(doc.fields.get(core.schema.unique_key), ()):
            kid = core.visible.get(cid)
            if kid is None or (child is not None and child.score(kid) is None):
                continue
            found.append(project(kid, child_fl, core.schema))
        if found:
            out["_childDocuments_"] = found[:limit]


def project(doc, fl, schema, score=None):
    """A document as the response lists it."""
    out = SolrDoc()
    fields = doc.fields
    for name, value in fields.items():
        f = schema.field(name)
        if name != "_version_" and f is not None and not f.stored:
            continue
        if fl.wants(name):
            out[name] = list(value) if isinstance(value, list) else value
    for _, dest in schema.copy:
        if dest in out or dest in fields or not fl.wants(dest):
            continue
        f = schema.field(dest)
        if f is not None and f.stored and "*" not in dest:
            values = doc.values(dest, schema)
            if values:
                out[dest] = list(values) if f.multi else values[0]
    for alias, field in fl.aliases.items():
        if field in fields:
            value = fields[field]
            out[alias] = list(value) if isinstance(value, list) else value
    if fl.score:
        out["score"] = score if score is not None else 1.0
    types = xml_types(schema)
    for name in out:
        if name not in types:
            f = schema.field(name)
            cls = schema.type_specs.get(f.type_name, {}).get("class", "") if f is not None else ""
            types[name] = "long" if name == "_version_" else "float" if name == "score" else \
                next((tag for key, tag in _XML if key in cls), None)
    out.types = types
    return out
