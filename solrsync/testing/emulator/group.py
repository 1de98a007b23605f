"""Result grouping (``group=true``): ``group.field`` (single-valued, not text), ``group.query``,
``group.limit``, ``group.offset``, ``group.sort``, ``group.ngroups``, ``group.format=simple``,
``group.main``; groups ordered by their best document in the request's sort, ``rows``/``start``
paging the groups. Anything else of grouping answers "not emulated"."""
from .errors import bad_request, not_emulated
from .fields import project
from .scoring import as_float32
from .writers import Result

UNEMULATED = ("group.func", "group.facet", "group.truncate", "group.cache.percent")


def grouped(core, params, hits, fl, rows, start, order, parse_query):
    """-> (the ``response`` section or None, {"grouped": ...}). ``hits``: [(doc, score)] in the sort's
    order; ``order(hits, spec)``: those hits in another sort; ``parse_query(q)``: a filter node."""
    for name in UNEMULATED:
        if params.get(name):
            raise not_emulated("%s in result grouping" % name)
    schema = core.schema
    limit = int(params.get("group.limit", ["1"])[0])
    offset = int(params.get("group.offset", ["0"])[0])
    group_sort = params.get("group.sort", [None])[0]
    fmt = params.get("group.format", ["grouped"])[0]
    main = params.get("group.main", ["false"])[0] == "true"
    modern = core.solr_version.counts_exactly
    out = {}

    def doclist(members, total):
        members = order(members, group_sort) if group_sort else members
        page = members[offset:offset + limit]
        got = Result(numFound=total, start=offset)
        if fl.score:
            got["maxScore"] = as_float32(max(s for _, s in members)) if members else 0.0
        if modern:
            got["numFoundExact"] = True
        got["docs"] = [project(d, fl, schema, as_float32(s)) for d, s in page]
        return got

    flat = []
    for name in params.get("group.field", []):
        f = schema.field(name)
        if f is None:
            raise bad_request("undefined field %s" % name)
        if f.multi:
            raise bad_request("can not use FieldCache on multivalued field: %s" % name)
        if f.kind == "text":
            raise not_emulated("grouping by a text field (%s)" % name)
        groups, keys = {}, []
        for doc, score in hits:
            value = doc.fields.get(name)
            if value not in groups:
                groups[value] = []
                keys.append(value)
            groups[value].append((doc, score))
        chosen = keys[start:start + rows]
        if fmt == "simple" or main:
            members = [m for k in chosen for m in (order(groups[k], group_sort) if group_sort else groups[k])
                       [offset:offset + limit]]
            flat = members
            entry = {"matches": len(hits)}
            if params.get("group.ngroups", ["false"])[0] == "true":
                entry["ngroups"] = len(keys)
            entry["doclist"] = _flat_list(members, len(hits), start, fl, schema, modern)
        else:
            entry = {"matches": len(hits)}
            if params.get("group.ngroups", ["false"])[0] == "true":
                entry["ngroups"] = len(keys)
            entry["groups"] = [{"groupValue": k, "doclist": doclist(groups[k], len(groups[k]))} for k in chosen]
        out[name] = entry
    for q in params.get("group.query", []):
        node = parse_query(q)
        members = [(d, s) for d, s in hits if node.score(d) is not None]
        out[q] = {"matches": len(hits), "doclist": doclist(members, len(members))}
    if main:
        return _flat_list(flat, len(hits), start, fl, schema, modern), {}
    return None, {"grouped": out}


def _flat_list(members, total, start, fl, schema, modern):
    got = Result(numFound=total, start=start)
    if modern:
        got["numFoundExact"] = True
    got["docs"] = [project(d, fl, schema, as_float32(s)) for d, s in members]
    return got
