"""The stats component (``stats=true&stats.field=F``): min, max, count, missing, and for numbers
and dates sum, sumOfSquares, mean, stddev (sample), as 5.x and 8.x/9.x print them (5.x writes a
date field's sum as a date, its sumOfSquares in overflowing longs and its stddev "NaN").
``{!key=..}`` and ``{!ex=..}``; anything else the component can do answers "not emulated"."""
import math

from .errors import bad_request, not_emulated
from .schema import format_millis, parse_date

_LOCAL_OK = ("key", "ex", "tag")


def _wrap(n):
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


def stats(core, params, docs, local_of, pool):
    """-> {"stats_fields": {...}}; ``local_of(spec)`` -> (local params, field), ``pool(local)``
    the documents a field's statistics run over (``ex`` leaves tagged filters out)."""
    for name in ("stats.facet", "stats.calcdistinct"):
        if params.get(name):
            raise not_emulated("%s in the stats component" % name)
    out = {}
    for spec in params.get("stats.field", []):
        local, name = local_of(spec)
        for k in (local or {}):
            if k not in _LOCAL_OK:
                raise not_emulated("the stats.field local parameter %s" % k)
        f = core.schema.field(name)
        if f is None:
            raise bad_request("undefined field %s" % name)
        values, missing = [], 0
        for doc in pool(local, docs):
            got = doc.values(name, core.schema)
            if not got:
                missing += 1
            values.extend(got)
        out[(local or {}).get("key", name)] = _field_stats(core, f, values, missing)
    return {"stats_fields": out}


def _field_stats(core, f, values, missing):
    count = len(values)
    if f.kind in ("string", "text", "boolean"):
        got = {"min": min(values) if values else None, "max": max(values) if values else None}
        return dict(got, count=count, missing=missing)
    if f.kind == "date":
        millis = [parse_date(v)[0] for v in values]
        if not millis:
            return {"min": None, "max": None, "count": 0, "missing": missing, "sum": 0.0, "mean": None,
                    "sumOfSquares": 0.0, "stddev": 0.0}
        total = sum(millis)
        out = {"min": format_millis(min(millis)), "max": format_millis(max(millis)), "count": count,
               "missing": missing, "mean": format_millis(total // count)}
        if core.solr_version.major < 8:
            squares = 0
            for m in millis:
                squares = _wrap(squares + _wrap(m * m))
            return dict(out, sum=format_millis(total), sumOfSquares=float(squares), stddev="NaN")
        squares = float(sum(float(m) * m for m in millis))
        return dict(out, sum=float(total), sumOfSquares=squares, stddev=_stddev(count, float(total), squares))
    nums = [float(v) for v in values]
    if not nums:
        return {"min": None, "max": None, "count": 0, "missing": missing, "sum": 0.0, "sumOfSquares": 0.0,
                "mean": "NaN", "stddev": 0.0}
    total, squares = sum(nums), sum(x * x for x in nums)
    return {"min": min(nums), "max": max(nums), "count": count, "missing": missing, "sum": total,
            "sumOfSquares": squares, "mean": total / count, "stddev": _stddev(count, total, squares)}


def _stddev(n, total, squares):
    if n <= 1:
        return 0.0
    return math.sqrt(max(0.0, (n * squares - total * total) / (n * (n - 1.0))))
