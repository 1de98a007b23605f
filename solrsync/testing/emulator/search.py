"""/select and /get on a core: the query (scored), filters, sorting (cursorMark paging too), the
field list, and the search components (facets, highlighting) on the result."""
import base64
import json
import re
import struct

from .errors import bad_request, not_emulated
from .parsers import Context, parse, split_local
from .schema import parse_date
from .scoring import FieldStats, Similarity, Terms, as_float32
from .facets import facets
from .fields import attach_children, project, wanted_fields
from .group import grouped
from .highlight import highlight
from .stats import stats
from .writers import Result, csv_fields

# parameters that change which documents match or their order (the cache key of a result)
_PAGING = ("start", "rows", "fl", "wt", "cursorMark", "omitHeader", "echoParams", "indent", "json.nl", "version")
UNEMULATED_COMPONENTS = {"mlt": "more-like-this (mlt)", "spellcheck": "spellcheck", "terms": "the terms component",

                         "debugQuery": "debug output (debugQuery)", "debug": "debug output (debug)",
                         "expand": "the expand component", "elevateIds": "query elevation",
                         "rq": "re-ranking (rq)", "clustering": "clustering", "tv": "the term vector component",
                         "suggest": "the suggester (suggest)",
                         "qt": "the qt parameter"}


def similarity(core):
    """The searcher's similarity: the schema's ``<similarity>``, else Solr's default for the
    luceneMatchVersion (classic TF-IDF before 6, BM25 from 6 on)."""
    spec = core.schema.similarity
    if spec is None:
        spec = ("classic", {}) if core.lucene_major < 6 else ("bm25", {})
    kind, args = spec
    if kind == "unsupported":
        raise not_emulated("the similarity %s" % args["class"])
    cache = core._sorted

    def stats(field):
        key = ("\0stats", field)
        got = cache.get(key)
        if got is None:
            before, counted = core.stats_base  # an earlier searcher's documents, and what was counted over them
            if field in counted:
                got = counted[field].moved(before, core.visible, core.schema)
            else:
                got = FieldStats(list(core.visible.values()), field, core.schema)
            cache[key] = got
        return got
    return Similarity(kind, core.lucene_major, stats, **{k: v for k, v in args.items() if k in ("k1", "b")})


def _check_components(params):
    for name, what in UNEMULATED_COMPONENTS.items():
        value = params.get(name, [""])[0]
        if value and value.lower() not in ("false", "off", "0", "none"):
            if name == "debug" and value == "false":
                continue
            raise not_emulated(what)


def search(core, params):
    """/select on the searcher's snapshot -> (response, extra: nextCursorMark, facets, highlighting)."""
    schema = core.schema
    _check_components(params)
    if params.get("wt", [""])[0] == "csv":
        csv_fields(params)  # refused before the search, in JSON
    q = params.get("q", [None])[0]
    def_type = params.get("defType", ["lucene"])[0]
    df = params.get("df", ["text"])[0]
    fqs = params.get("fq", [])
    sort = params.get("sort", [""])[0]
    try:
        rows = int(params.get("rows", ["10"])[0])
        start = int(params.get("start", ["0"])[0])
    except ValueError as exc:
        raise bad_request(str(exc).replace("invalid literal for int() with base 10: ", "For input string: "))
    if rows < 0:
        raise bad_request("'rows' parameter cannot be negative")
    if start < 0:
        raise bad_request("'start' parameter cannot be negative")
    cursor = params.get("cursorMark", [None])[0]
    keys = _parse_sort(sort, schema, core.solr_version)
    if cursor is not None:
        if start != 0:
            raise bad_request("Cursor functionality requires start=0")
        if not any(name == schema.unique_key for name, _ in keys):
            raise bad_request("Cursor functionality requires a sort containing a uniqueKey field tie breaker")
    cache_key = (core.generation,) + tuple(sorted((k, tuple(v)) for k, v in params.items() if k not in _PAGING))
    hits = core._sorted.get(cache_key)
    if hits is None:
        hits = _run(core, params, q, def_type, df, fqs, keys)
        if len(core._sorted) > 64:
            core._sorted.clear()
        core._sorted[cache_key] = hits
    page_from = start
    if cursor not in (None, "*"):
        try:
            after = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        except ValueError:
            raise bad_request("Unable to parse 'cursorMark' after totem: value must either be '*' "
                              "or the 'nextCursorMark' returned by a previous search: %s" % cursor)
        page_from = _after_cursor(hits, keys, after, schema)
    page = hits[page_from:page_from + rows]
    fl = wanted_fields(params.get("fl", ["*"]))
    if _on(params, "group"):
        if _on(params, "hl"):
            raise not_emulated("highlighting with result grouping")

        def order(members, spec):
            return _order(list(members), _parse_sort(spec, schema, core.solr_version), schema)
        out, extra = grouped(core, params, hits, fl, rows, start, order,
                             lambda gq: parse(gq, schema, df, Context(params)))
        return out, _components(core, params, hits, [], extra, q, def_type, df, fqs)
    out = Result(numFound=len(hits), start=start)
    if "score" in fl:
        out["maxScore"] = as_float32(max(s for _, s in hits)) if hits else 0.0
    if core.solr_version.counts_exactly:
        out["numFoundExact"] = True
    out["docs"] = [project(d, fl, schema, as_float32(score)) for d, score in page]
    if fl.child is not None:
        attach_children(core, fl, page, out["docs"], lambda fq: parse(fq, schema, df, Context(params)))
    extra = {}
    if cursor is not None:
        if page:
            last = [_sort_value(page[-1][0], name, schema, desc) for name, desc in keys]
            extra["nextCursorMark"] = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
        else:
            extra["nextCursorMark"] = cursor
    return out, _components(core, params, hits, page, extra, q, def_type, df, fqs)


def _components(core, params, hits, page, extra, q, def_type, df, fqs):
    """Facets, stats and highlighting on a result."""
    if _on(params, "facet") or "json.facet" in params:
        def base(tags):
            ctx = Context(params)
            dropped = {fq for tag in tags for fq in filter_tags(fqs, ctx).get(tag, [])}
            return [d for d, _ in _run(core, params, q, def_type, df, [fq for fq in fqs if fq not in dropped], [])]
        facets(core, params, hits, extra, base)
    if _on(params, "stats"):
        ctx = Context(params)
        tagged = filter_tags(fqs, ctx)

        def pool(local, docs):
            tags = [t for t in (local or {}).get("ex", "").split(",") if t]
            if not tags:
                return docs
            dropped = {fq for tag in tags for fq in tagged.get(tag, [])}
            return [d for d, _ in _run(core, params, q, def_type, df, [fq for fq in fqs if fq not in dropped], [])]

        def local_of(spec):
            local, body = split_local(spec.strip(), ctx)
            return local, body.strip()
        extra["stats"] = stats(core, params, [d for d, _ in hits], local_of, pool)
    if _on(params, "hl"):
        extra["highlighting"] = highlight(core, params, page, q, df)
    return extra


def _on(params, name):
    return params.get(name, ["false"])[0].lower() in ("true", "on", "yes")


def _run(core, params, q, def_type, df, fqs, keys):
    """-> [(doc, score)] of the query and filters, in the sort's order."""
    schema = core.schema
    if q is None or not q.strip():
        if def_type not in ("dismax", "edismax") or not params.get("q.alt"):
            return []
    docs = list(core.visible.values())
    ctx = Context(params, similarity(core), docs)
    main = parse(q or "", schema, df, ctx, def_type)
    filters = [parse(fq, schema, df, Context(params, None, docs)) for fq in fqs]
    hits = []
    found = _by_key(main, core)
    for doc in docs if found is None else found:
        score = main.score(doc)
        if score is None or not all(f.score(doc) is not None for f in filters):
            continue
        hits.append((doc, _f32(score)))  # Lucene's scores are floats: ties where it ties
    return _order(hits, keys, schema)


def _by_key(query, core):
    """The one document a query for one uniqueKey value can match, found by its key as Lucene's
    terms index finds it; None (scan them all) for any other query, or where overwrite=false
    left several documents under one key. A scan of 100,000 documents took 25 ms a lookup."""
    if type(query) is not Terms or query.field != core.schema.unique_key or not query.plain \
            or len(query.terms) != 1 or core.duplicates:
        return None
    doc = core.visible.get(query.terms[0])
    return [doc] if doc is not None else ()


def _order(hits, keys, schema):
    """[(doc, score)] in a sort's order (score desc when none); ties keep index order."""
    for name, desc in reversed(keys or [("score", True)]):
        if name == "score":
            hits.sort(key=lambda h: h[1], reverse=desc)
        else:
            hits.sort(key=lambda h, n=name, de=desc: _sort_key(h[0], n, schema, de), reverse=desc)
    return hits


def _f32(x):
    return _FLOAT.unpack(_FLOAT.pack(x))[0]


_FLOAT = struct.Struct(">f")


def filter_tags(fqs, ctx):
    """``{!tag=a,b}`` on filters -> {tag: [fq]} (facet ``{!ex=a}`` leaves them out)."""
    out = {}
    for fq in fqs:
        local, _ = split_local(fq.strip(), ctx)
        for tag in (local or {}).get("tag", "").split(","):
            if tag:
                out.setdefault(tag, []).append(fq)
    return out


def realtime_get(core, params):
    """/get: the latest state, uncommitted updates included."""
    schema = core.schema
    fl = wanted_fields(params.get("fl", ["*"]))
    ids = list(params.get("id", []))
    for group in params.get("ids", []):
        ids.extend(i for i in group.split(",") if i)
    found = [project(core.latest[i], fl, schema) for i in ids if i in core.latest]
    if "ids" not in params and len(ids) == 1:
        return {"doc": found[0] if found else None}
    return {"response": {"numFound": len(found), "start": 0, "docs": found}}


def _parse_sort(sort, schema, solr_version):
    keys = []
    for part in [p.strip() for p in re.split(r",(?![^()]*\))", sort) if p.strip()]:
        bits = part.rsplit(None, 1)
        if len(bits) != 2 or bits[1].lower() not in ("asc", "desc"):
            raise bad_request("Can't determine a Sort Order (asc or desc) in sort spec '%s'" % part)
        name, desc = bits[0], bits[1].lower() == "desc"
        if name == "score":
            keys.append((name, desc))
            continue
        if "(" in name:
            raise not_emulated("sorting by a function (%s)" % name)
        f = schema.field(name)
        if f is None:
            raise bad_request("sort param field can't be found: %s" % name)
        if f.multi and not solr_version.sorts_multivalued:
            raise bad_request("can not sort on multivalued field: %s" % name)
        keys.append((name, desc))  # a multi-valued field (docValues) sorts by its min / max, as Solr 8+
    return keys


def _sort_value(doc, name, schema, desc=False):
    f = schema.field(name)
    if f.kind == "text":  # an uninverted text field sorts by its smallest indexed term
        return min((t for toks in doc.tokens(name, schema) for t in toks), default=None)
    v = doc.fields.get(name)
    if isinstance(v, list):
        v = (max(v) if desc else min(v)) if v else None
    if v is not None and f.kind == "date":
        return parse_date(v)[0]
    return v


def _sort_key(doc, name, schema, desc):
    """Missing values: where sortMissingFirst/Last put them; else 0 for numbers and dates (Lucene's
    default missing value) and before everything for strings (in either direction: lowest)."""
    v = _sort_value(doc, name, schema, desc)
    f = schema.field(name)
    if v is None:
        if f.missing == "last":
            return (1 if not desc else -1, 0)
        if f.missing == "first":
            return (-1 if not desc else 1, 0)
        if f.kind in ("int", "float", "date"):
            return (0, 0)
        return (-1, "")
    return (0, v)


def _after_cursor(hits, keys, after, schema):
    def cmp_key(doc):
        return [_sort_value(doc, name, schema, desc) for name, desc in keys]
    for i, (doc, _) in enumerate(hits):
        vals = cmp_key(doc)
        for v, a, (_, desc) in zip(vals, after, keys):
            if v == a:
                continue
            if v is None or a is None:
                later = a is not None
            else:
                later = v > a if not desc else v < a
            if later:
                return i
            break
    return len(hits)
