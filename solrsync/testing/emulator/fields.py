"""The field list (``fl``): stored fields (globs), stored copyField destinations, ``score`` and the
``alias:field`` form; document transformers and functions answer "not emulated"."""
import fnmatch

from .errors import not_emulated
from .writers import SolrDoc

_XML = (("Long", "long"), ("Int", "int"), ("Float", "float"), ("Double", "double"), ("Date", "date"),
        ("Bool", "bool"))


def xml_types(schema):
    """field name -> the XML writer's element for its values (cached on the schema)."""
    cache = schema.__dict__.setdefault("_xml_types", {})
    return cache


class Wanted:
    """A parsed ``fl``: names and globs, ``score``, aliases {alias: field}."""

    def __init__(self, names, aliases, score):
        self.names, self.aliases, self.score = names, aliases, score
        self.all = "*" in names or not (names or aliases or score)

    def __contains__(self, name):
        return name == "score" and self.score

    def wants(self, name):
        if self.all or name in self.names:
            return True
        return any("*" in w and fnmatch.fnmatchcase(name, w) for w in self.names)


def wanted_fields(fl):
    names, aliases, score = [], {}, False
    for entry in fl:
        for w in entry.replace(",", " ").split():
            if w == "score":
                score = True
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
    return Wanted(names, aliases, score)


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
