"""Response writers: ``wt=json`` (``json.nl``, ``indent``), ``xml`` (Solr's structure: ``<result
numFound=..>``, typed ``<doc>`` fields), ``python``, ``ruby``, ``php``, ``csv`` (an explicit ``fl``). The default ``wt`` is Solr's
for the version (5.x: xml; 7 on: json); 8.x/9.x indent unless ``indent=false``. Any other
writer answers 400 "not emulated"."""
import json
import math
from xml.sax.saxutils import escape, quoteattr

from .errors import not_emulated

WRITERS = ("json", "xml", "python", "ruby", "php", "csv")


class NamedList(list):
    """Solr's NamedList as ``json.nl=flat`` writes it: [name, value, name, value, ...]."""


class Result(dict):
    """A ``response`` section (``<result numFound=..>`` in XML)."""


class NonFinite(str):
    """A NaN or infinite float in a text writer's own syntax, written as is (not quoted). Solr's
    writers, alike on 5.3.1, 8.11.2 and 9.4.0 (measured; TextResponseWriter and NaNFloatWriter in
    its source): JSON and PHP a string ("NaN", "Infinity", "-Infinity"), python ``float('NaN')``
    and ``-float('Inf')``, ruby ``(0.0/0.0)`` and ``-(1.0/0.0)``; XML and CSV Java's text."""


NON_FINITE = {"python": ("float('NaN')", "float('Inf')"), "ruby": ("(0.0/0.0)", "(1.0/0.0)")}


def _java_float(value):
    """Java's Double.toString for the values Python spells otherwise (nan, inf) -- the rest as repr."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


class SolrDoc(dict):
    """A returned document; ``types``: field -> XML element name (int, long, float, ...)."""
    types = {}


def write(payload, status, wt, major=9, params=None):
    """-> (body bytes, Content-Type) of a response in the writer ``wt`` names."""
    params = params or {}
    indent = params.get("indent", [None])[0]
    if major < 7:  # 5.x indents whenever the parameter is there, even indent=false
        indented = indent is not None
    else:
        indented = indent in ("true", "on", "yes") if indent is not None else True
    if wt == "xml":
        return _to_xml(payload, indented).encode(), "application/xml; charset=UTF-8"
    nl = params.get("json.nl", ["flat"])[0]
    data = _plain(payload, nl, NON_FINITE.get(wt))
    if wt == "python":
        return _literal(data, "'", ":", "True", "False", "None").encode(), "text/plain; charset=UTF-8"
    if wt == "ruby":
        return _literal(data, "'", "=>", "true", "false", "nil").encode(), "text/plain; charset=UTF-8"
    if wt == "php":
        return _php(data).encode(), "text/plain; charset=UTF-8"
    if wt == "csv" and status == 200 and isinstance(payload.get("response"), Result):
        return _csv(payload["response"], params).encode("utf-8"), "text/plain; charset=UTF-8"
    if indented:
        body = json.dumps(data, indent=2, separators=(",", ":"), ensure_ascii=False)
    else:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return body.encode("utf-8"), "application/json; charset=UTF-8"


def _plain(value, nl, non_finite=None):
    """``value`` as the JSON-like writers see it; ``non_finite``: (NaN, Inf) in the writer's syntax,
    or None for a string."""
    if isinstance(value, NamedList):
        pairs = [(value[i], _plain(value[i + 1], nl, non_finite)) for i in range(0, len(value), 2)]
        if nl == "map":
            return {("null" if k is None else k): v for k, v in pairs}
        if nl == "arrarr":
            return [[k, v] for k, v in pairs]
        if nl == "arrmap":
            return [{k: v} if k is not None else v for k, v in pairs]
        if nl == "arrntv":
            return [{"name": k, "type": _xml_type(v)[0], "value": v} for k, v in pairs]
        return [x for k, v in pairs for x in (k, v)]
    if isinstance(value, dict):
        return {k: _plain(v, nl, non_finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, nl, non_finite) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        if non_finite is None:
            return _java_float(value)
        nan, inf = non_finite
        return NonFinite(nan if math.isnan(value) else (inf if value > 0 else "-" + inf))
    return value


def csv_fields(params):
    """``wt=csv`` lists the ``fl`` fields in their order; a glob would need Solr's hash order."""
    names = [w for entry in params.get("fl", ["*"]) for w in entry.replace(",", " ").split()]
    if not names or any("*" in w or ":" in w or "[" in w for w in names):
        raise not_emulated("wt=csv without an explicit fl (Solr orders the columns of a glob by hash)")
    if any(k.startswith("csv.") for k in params):
        raise not_emulated("the csv.* parameters")
    return names


def _csv(result, params):
    names = csv_fields(params)

    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return _java_float(v) if isinstance(v, float) else str(v)

    lines = [",".join(names)]
    for doc in result.get("docs", []):
        row = []
        for name in names:
            v = doc.get(name)
            cell = "" if v is None else ",".join(text(x).replace(",", "\\,") for x in v) if isinstance(v, list) \
                else text(v)
            if any(c in cell for c in ',"\n\r'):
                cell = '"' + cell.replace('"', '""') + '"'
            row.append(cell)
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def _literal(value, quote, colon, true, false, null):
    if isinstance(value, bool):
        return true if value else false
    if value is None:
        return null
    if isinstance(value, (int, float, NonFinite)):
        return str(value) if isinstance(value, NonFinite) else repr(value)
    if isinstance(value, str):
        return quote + value.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote
    if isinstance(value, dict):
        return "{" + ",".join("%s%s%s" % (_literal(k, quote, colon, true, false, null), colon,
                                          _literal(v, quote, colon, true, false, null))
                              for k, v in value.items()) + "}"
    return "[" + ",".join(_literal(v, quote, colon, true, false, null) for v in value) + "]"


def _php(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, dict):
        return "array(" + ",".join("%s=>%s" % (_php(k), _php(v)) for k, v in value.items()) + ")"
    return "array(" + ",".join(_php(v) for v in value) + ")"


def _xml_type(value):
    if isinstance(value, bool):
        return "bool", str(value).lower()
    if isinstance(value, int):
        return ("int" if -(1 << 31) <= value < (1 << 31) else "long"), str(value)
    if isinstance(value, float):
        return "double", _java_float(value)
    return "str", escape(str(value))


def _to_xml(payload, indented):
    nl = "\n" if indented else ""

    def node(name, value, kind=None):
        attr = " name=%s" % quoteattr(name) if name is not None else ""
        if value is None:
            return "<null%s/>" % attr
        if isinstance(value, Result):
            attrs = " ".join("%s=%s" % (k, quoteattr(_xml_type(v)[1] if not isinstance(v, bool) else
                                                     str(v).lower()))
                             for k, v in value.items() if k != "docs")
            docs = "".join(node(None, d) for d in value.get("docs", []))
            return "<result%s %s>%s%s</result>%s" % (attr, attrs, docs, nl, nl)
        if isinstance(value, SolrDoc):
            inner = "".join(node(k, v, value.types.get(k)) for k, v in value.items())
            return "%s<doc%s>%s</doc>" % (nl, attr, inner)
        if isinstance(value, NamedList):
            return "<lst%s>%s</lst>" % (attr, "".join(node("null" if value[i] is None else value[i], value[i + 1])
                                                      if value[i] is not None else node(None, value[i + 1])
                                                      for i in range(0, len(value), 2)))
        if isinstance(value, dict):
            return "<lst%s>%s</lst>%s" % (attr, "".join(node(k, v) for k, v in value.items()), nl)
        if isinstance(value, list):
            return "<arr%s>%s</arr>" % (attr, "".join(node(None, v, kind) for v in value))
        tag, text = _xml_type(value)
        if kind is not None and not isinstance(value, bool):
            tag = kind
            text = _java_float(float(value)) if kind in ("float", "double") else escape(str(value))
        return "<%s%s>%s</%s>" % (tag, attr, text, tag)
    return '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n%s\n</response>\n' % "".join(
        node(k, v) for k, v in payload.items())
