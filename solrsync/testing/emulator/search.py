"""/select and /get on a core: filters, sorting (cursorMark paging too) and the field list."""
import base64
import fnmatch
import json

from .query import parse
from .schema import bad_request, parse_date


def search(core, params):
    """/select on the searcher's snapshot -> (response, extra: nextCursorMark)."""
    schema = core.schema
    q = params.get("q", ["*:*"])[0]
    df = params.get("df", ["text"])[0]
    fqs = params.get("fq", [])
    sort = params.get("sort", [""])[0]
    rows = int(params.get("rows", ["10"])[0])
    start = int(params.get("start", ["0"])[0])
    cursor = params.get("cursorMark", [None])[0]
    keys = _parse_sort(sort, schema, core.solr_version)
    if cursor is not None:
        if start != 0:
            raise bad_request("Cursor functionality requires start=0")
        if not any(name == schema.unique_key for name, _ in keys):
            raise bad_request("Cursor functionality requires a sort containing a uniqueKey field tie breaker")
    cache_key = (core.generation, q, df, tuple(fqs), sort)
    hits = core._sorted.get(cache_key)
    if hits is None:
        preds = [parse(q, schema, df)] + [parse(fq, schema, df) for fq in fqs]
        hits = [d for d in core.visible.values() if all(p(d) for p in preds)]
        if keys:
            for name, desc in reversed(keys):
                hits.sort(key=lambda d, n=name, de=desc: _sort_key(d, n, schema, de), reverse=desc)
        if len(core._sorted) > 32:
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
    fl = params.get("fl", ["*"])
    out = {"numFound": len(hits), "start": start, "docs": [_project(d, fl, schema) for d in page]}
    if core.solr_version.counts_exactly:
        out["numFoundExact"] = True
    if any("score" in entry for entry in fl):
        out["maxScore"] = 1.0
    extra = {}
    if cursor is not None:
        if page:
            last = [_sort_value(page[-1], name, schema, desc) for name, desc in keys]
            extra["nextCursorMark"] = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
        else:
            extra["nextCursorMark"] = cursor
    return out, extra


def realtime_get(core, params):
    """/get: the latest state, uncommitted updates included."""
    schema = core.schema
    fl = params.get("fl", ["*"])
    ids = list(params.get("id", []))
    for group in params.get("ids", []):
        ids.extend(i for i in group.split(",") if i)
    found = [_project(core.latest[i], fl, schema) for i in ids if i in core.latest]
    if "ids" not in params and len(ids) == 1:
        return {"doc": found[0] if found else None}
    return {"response": {"numFound": len(found), "start": 0, "docs": found}}


def _parse_sort(sort, schema, solr_version):
    keys = []
    for part in [p.strip() for p in sort.split(",") if p.strip()]:
        bits = part.split()
        if len(bits) != 2 or bits[1].lower() not in ("asc", "desc"):
            raise bad_request("Can't determine a Sort Order (asc or desc) in sort spec '%s'" % part)
        name, desc = bits[0], bits[1].lower() == "desc"
        if name == "score":
            continue
        f = schema.field(name)
        if f is None:
            raise bad_request("sort param field can't be found: %s" % name)
        if f.multi and not solr_version.sorts_multivalued:
            raise bad_request("can not sort on multivalued field: %s" % name)
        keys.append((name, desc))  # a multi-valued field (docValues) sorts by its min / max, as Solr 8+
    return keys


def _sort_value(doc, name, schema, desc=False):
    v = doc.fields.get(name)
    f = schema.field(name)
    if isinstance(v, list):
        v = (max(v) if desc else min(v)) if v else None
    if v is not None and f.kind == "date":
        return parse_date(v)[0]
    return v


def _sort_key(doc, name, schema, desc):
    v = _sort_value(doc, name, schema, desc)
    missing = v is None
    # missing values sort last in both directions (sortMissingLast)
    return (not missing if desc else missing, v if not missing else 0)


def _after_cursor(hits, keys, after, schema):
    def cmp_key(doc):
        return [_sort_value(doc, name, schema, desc) for name, desc in keys]
    for i, doc in enumerate(hits):
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


def _project(doc, fl, schema):
    wanted = []
    for entry in fl:
        wanted.extend(w for w in entry.replace(",", " ").split() if w)
    if not wanted:
        wanted = ["*"]
    out = {}
    for name, value in doc.fields.items():
        f = schema.field(name)
        if name != "_version_" and f is not None and not f.stored:
            continue
        if any(w == "*" or w == name or ("*" in w and _glob(w, name)) for w in wanted):
            out[name] = list(value) if isinstance(value, list) else value
    if "score" in wanted:
        out["score"] = 1.0
    return out


def _glob(pattern, name):
    return fnmatch.fnmatchcase(name, pattern)
