"""Faceting on a result: ``facet.field`` (limit, offset, mincount, sort, prefix, missing, per-field
``f.NAME.`` overrides), ``facet.query``, ``facet.range`` (numbers and dates; hardend, other),
``facet.pivot``, ``{!key=..}`` and ``{!ex=tag}`` (filters tagged ``{!tag=..}`` left out), and JSON
facets (``json.facet``: terms, query and range facets, nested; sum, avg, min, max, unique,
countvals, missing). Anything else
faceting can do answers "not emulated"."""
import json
import re

from .errors import bad_request, not_emulated
from .parsers import Context, parse, split_local
from .schema import date_math, format_millis, parse_date
from .writers import NamedList

UNEMULATED = ("facet.interval", "facet.heatmap", "facet.date", "facet.enum.cache.minDf", "facet.contains",
              "facet.matches", "facet.excludeTerms")


def facets(core, params, hits, extra, base):
    """Fill ``extra`` with facet_counts (and/or ``facets``). ``base(excluded_tags)``: the documents of
    the query and the filters not tagged with one of them."""
    for name in UNEMULATED:
        if name in params:
            raise not_emulated("faceting by %s" % name)
    docs = [d for d, _ in hits]
    if params.get("facet", ["false"])[0].lower() in ("true", "on", "yes"):
        out = {"facet_queries": {}, "facet_fields": {}}
        if core.solr_version.major < 6:
            out["facet_dates"] = {}
        out.update(facet_ranges={}, facet_intervals={}, facet_heatmaps={})
        for spec in params.get("facet.query", []):
            local, body = _local(spec)
            pool = _pool(docs, local, base)
            node = parse(spec if local is None or "ex" not in local else body, core.schema,
                         params.get("df", ["text"])[0], Context(params))
            out["facet_queries"][local.get("key", spec) if local else spec] = \
                sum(1 for d in pool if node.score(d) is not None)
        for spec in params.get("facet.field", []):
            local, name = _local(spec)
            counts = field_counts(core, params, name, _pool(docs, local, base))
            out["facet_fields"][local.get("key", name) if local else name] = counts
        for spec in params.get("facet.range", []):
            local, name = _local(spec)
            out["facet_ranges"][local.get("key", name) if local else name] = \
                range_counts(core, params, name, _pool(docs, local, base))
        for spec in params.get("facet.pivot", []):
            local, names = _local(spec)
            out.setdefault("facet_pivot", {})[local.get("key", names) if local else names] = \
                pivot(core, params, names.split(","), _pool(docs, local, base))
        extra["facet_counts"] = out
    if "json.facet" in params:
        try:
            spec = json.loads(params["json.facet"][0])
        except ValueError as exc:
            raise bad_request("Expected JSON in json.facet: %s" % exc)
        extra["facets"] = json_facets(core, params, spec, docs)


def _local(spec):
    local, body = split_local(spec.strip())
    return local, body.strip()


def _pool(docs, local, base):
    tags = [t for t in (local or {}).get("ex", "").split(",") if t]
    return base(tags) if tags else docs


def _param(params, field, name, default=None):
    got = params.get("f.%s.%s" % (field, name)) or params.get(name)
    return got[0] if got else default


def facet_value(f, value):
    """A value as a facet lists it (the indexed term's readable form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if f.kind == "date":
        return format_millis(parse_date(value)[0])
    return str(value)


def _terms(doc, f, name, schema):
    if f.kind == "text":
        return {t for toks in doc.tokens(name, schema) for t in toks}
    return {facet_value(f, v) for v in doc.values(name, schema)}


def _index_key(f):
    if f.kind == "int":
        return int
    if f.kind == "float":
        return float
    return lambda v: v


def field_counts(core, params, name, docs):
    schema = core.schema
    f = schema.field(name)
    if f is None:
        raise bad_request("undefined field %s" % name)
    counts = {}
    missing = 0
    for doc in docs:
        terms = _terms(doc, f, name, schema)
        if not terms:
            missing += 1
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
    prefix = _param(params, name, "facet.prefix")
    mincount = int(_param(params, name, "facet.mincount", "0"))
    if mincount == 0:  # every indexed term, the ones no document of the result has too
        for doc in core.visible.values():
            for t in _terms(doc, f, name, schema):
                counts.setdefault(t, 0)
    limit = int(_param(params, name, "facet.limit", "100"))
    offset = int(_param(params, name, "facet.offset", "0"))
    order = _param(params, name, "facet.sort", "count" if limit > 0 else "index")
    key = _index_key(f)
    items = [(t, c) for t, c in counts.items() if c >= mincount and (not prefix or t.startswith(prefix))]
    items.sort(key=lambda tc: key(tc[0]))
    if order in ("count", "true"):
        items.sort(key=lambda tc: -tc[1])
    elif order not in ("index", "false"):
        raise bad_request("Unknown facet sort value: %s" % order)
    items = items[offset:offset + limit] if limit >= 0 else items[offset:]
    out = NamedList()
    for t, c in items:
        out.extend([t, c])
    if _param(params, name, "facet.missing", "false").lower() == "true":
        out.extend([None, missing])
    return out


def range_counts(core, params, name, docs):
    schema = core.schema
    f = schema.field(name)
    if f is None:
        raise bad_request("undefined field %s" % name)
    raw = {k: _param(params, name, "facet.range." + k) for k in ("start", "end", "gap")}
    for k, v in raw.items():
        if v is None:
            raise bad_request("Missing required parameter: f.%s.facet.range.%s (or default: facet.range.%s)"
                              % (name, k, k))
    hardend = _param(params, name, "facet.range.hardend", "false").lower() == "true"
    include = set(",".join(params.get("f.%s.facet.range.include" % name) or params.get("facet.range.include")
                           or ["lower"]).split(","))
    others = set(",".join(params.get("f.%s.facet.range.other" % name) or params.get("facet.range.other")
                          or []).split(",")) - {""}
    if f.kind == "date":
        start, end = parse_date(raw["start"])[0], parse_date(raw["end"])[0]
        step = lambda lo: _date_step(lo, raw["gap"])  # noqa: E731
        label = format_millis
        value = lambda v: parse_date(v)[0]  # noqa: E731
        gap_out = raw["gap"]
    elif f.kind in ("int", "float"):
        num = int if f.kind == "int" else float
        try:
            start, end, gap = num(raw["start"]), num(raw["end"]), num(raw["gap"])
        except ValueError as exc:
            raise bad_request("Can't parse value %s for field: %s" % (exc, name))
        if gap <= 0:
            raise bad_request("range facet infinite loop (is gap negative? did the math overflow?)")
        step = lambda lo: lo + gap  # noqa: E731
        label = str
        value = num
        gap_out = gap
    else:
        raise bad_request("Unable to range facet on field:%s" % name)
    values = [[value(v) for v in doc.values(name, schema)] for doc in docs]
    buckets, lo = [], start
    while lo < end:
        hi = step(lo)
        if hardend and hi > end:
            hi = end
        buckets.append((lo, hi))
        lo = hi
    real_end = buckets[-1][1] if buckets else end

    def count(lo, hi, lo_in, hi_in):
        return sum(1 for vs in values if any((v > lo or (lo_in and v == lo)) and (v < hi or (hi_in and v == hi))
                                             for v in vs))
    counts = NamedList()
    last = len(buckets) - 1
    for i, (lo, hi) in enumerate(buckets):
        lo_in = "lower" in include or "all" in include or ("edge" in include and i == 0)
        hi_in = "upper" in include or "all" in include or ("edge" in include and i == last)
        counts.extend([label(lo), count(lo, hi, lo_in, hi_in)])
    out = {"counts": counts, "gap": gap_out}
    if others & {"before", "all"}:
        out["before"] = sum(1 for vs in values if any(v < start for v in vs))
    if others & {"after", "all"}:
        out["after"] = sum(1 for vs in values if any(v > real_end or ("upper" not in include and v == real_end)
                                                     for v in vs))
    if others & {"between", "all"}:
        out["between"] = sum(1 for vs in values if any(start <= v < real_end for v in vs))
    out["start"] = label(start) if f.kind == "date" else start
    out["end"] = label(real_end) if f.kind == "date" else real_end
    return out


def _date_step(millis, gap):
    """``+1YEAR`` / ``+7DAYS`` from a moment (date math with the moment for NOW)."""
    try:
        return date_math("NOW" + gap, now=millis)[0]
    except ValueError:
        raise bad_request("Can't add gap %s to value %s for field" % (gap, format_millis(millis)))


def pivot(core, params, names, docs):
    schema = core.schema
    name, rest = names[0], names[1:]
    f = schema.field(name)
    if f is None:
        raise bad_request("undefined field %s" % name)
    mincount = int(_param(params, name, "facet.pivot.mincount", "1"))
    counts = field_counts(core, dict(params, **{"facet.mincount": [str(mincount)]}), name, docs)
    out = []
    for i in range(0, len(counts), 2):
        term, count = counts[i], counts[i + 1]
        entry = {"field": name, "value": _typed(f, term), "count": count}
        if rest:
            subset = [d for d in docs if term in _terms(d, f, name, schema)]
            sub = pivot(core, params, rest, subset)
            if sub:
                entry["pivot"] = sub
        out.append(entry)
    return out


def _typed(f, term):
    if f.kind == "int":
        return int(term)
    if f.kind == "float":
        return float(term)
    if f.kind == "boolean":
        return term == "true"
    return term


_AGG = re.compile(r"^\s*(\w+)\((\w*)\)\s*$")


def aggregate(core, spec, docs):
    """A JSON facet aggregation: sum, avg, min, max, unique (and from 8 on countvals, missing) of a
    field. 5.x answers min/max as doubles (dates in epoch milliseconds), 8.x/9.x in the field's type."""
    m = _AGG.match(spec)
    if not m:
        raise not_emulated("the JSON facet function %s" % spec)
    fn, name = m.groups()
    modern = core.solr_version.major >= 8
    if fn not in ("sum", "avg", "min", "max", "unique") + (("countvals", "missing") if modern else ()):
        if fn in ("countvals", "missing"):
            raise bad_request("org.apache.solr.search.SyntaxError: Unknown aggregation agg_%s in ('%s', pos=%d)"
                              % (fn, spec, len(fn) + 1))
        raise not_emulated("the JSON facet function %s" % spec)
    f = core.schema.field(name)
    if f is None:
        raise bad_request("undefined field %s" % name)
    per_doc = [doc.values(name, core.schema) for doc in docs]
    if fn == "missing":
        return sum(1 for vs in per_doc if not vs)
    if fn == "countvals":
        return sum(len(vs) for vs in per_doc)
    if fn == "unique":
        return len({facet_value(f, v) for vs in per_doc for v in vs})
    values = [parse_date(v)[0] if f.kind == "date" else v for vs in per_doc for v in vs]
    if fn == "sum":
        return float(sum(values))
    if fn == "avg":
        return float(sum(values)) / len(values) if values else 0.0
    if not values:
        return None
    got = min(values) if fn == "min" else max(values)
    if not modern:
        return float(got)
    return format_millis(got) if f.kind == "date" else got


def json_facets(core, params, spec, docs):
    """JSON facets: ``{"name": {"type": "terms"|"query"|"range", ...}}``, nested ``facet``; ``count``."""
    out = {"count": len(docs)}
    for key, sub in spec.items():
        if isinstance(sub, str):
            if docs:
                out[key] = aggregate(core, sub, docs)
            continue
        kind = sub.get("type")
        nested = sub.get("facet") or {}
        if kind == "terms":
            name = sub["field"]
            f = core.schema.field(name)
            if f is None:
                raise bad_request("undefined field %s" % name)
            limit = int(sub.get("limit", 10))
            mincount = int(sub.get("mincount", 1))
            counts = field_counts(core, {"facet.limit": [str(limit)], "facet.mincount": [str(mincount)],
                                         "facet.offset": [str(sub.get("offset", 0))],
                                         "facet.sort": ["index" if str(sub.get("sort", "count")).startswith("index")
                                                        else "count"]}, name, docs)
            buckets = []
            for i in range(0, len(counts), 2):
                bucket = {"val": _typed(f, counts[i]), "count": counts[i + 1]}
                if nested:
                    subset = [d for d in docs if counts[i] in _terms(d, f, name, core.schema)]
                    bucket.update({k: v for k, v in json_facets(core, params, nested, subset).items()
                                   if k != "count"})
                buckets.append(bucket)
            out[key] = {"buckets": buckets}
        elif kind == "query":
            node = parse(sub.get("q", "*:*"), core.schema, params.get("df", ["text"])[0], Context(params))
            subset = [d for d in docs if node.score(d) is not None]
            out[key] = json_facets(core, params, nested, subset)
        elif kind == "range":
            name = sub["field"]
            ranged = range_counts(core, {"facet.range.start": [str(sub["start"])],
                                         "facet.range.end": [str(sub["end"])],
                                         "facet.range.gap": [str(sub["gap"])]}, name, docs)
            f = core.schema.field(name)
            c = ranged["counts"]
            out[key] = {"buckets": [{"val": _typed(f, c[i]) if f.kind != "date" else c[i], "count": c[i + 1]}
                                    for i in range(0, len(c), 2)]}
        else:
            raise not_emulated("the JSON facet type %s" % kind)
    return out
