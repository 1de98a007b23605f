"""Spatial predicates on BBoxField values: Intersects, IsWithin, Contains, IsDisjointTo of an
ENVELOPE, with the antimeridian handled as spatial4j does."""
import re

from .schema import bad_request, parse_envelope

_SPATIAL = re.compile(r"^\s*(Intersects|IsWithin|Contains|IsDisjointTo)\s*\((.*)\)\s*$", re.I | re.S)


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _x_spans(min_x, max_x):
    """A rectangle's longitude extent as spans; one crossing the antimeridian becomes two."""
    if min_x <= max_x:
        return [(min_x, max_x)]
    return [(min_x, 180.0), (-180.0, max_x)]


def rect_intersects(a, b):
    (ax0, ax1, ay1, ay0), (bx0, bx1, by1, by0) = a, b
    if ay1 < by0 or by1 < ay0:
        return False
    return any(s0 <= t1 and t0 <= s1 for s0, s1 in _x_spans(ax0, ax1) for t0, t1 in _x_spans(bx0, bx1))


def rect_within(inner, outer):
    (ix0, ix1, iy1, iy0), (ox0, ox1, oy1, oy0) = inner, outer
    if iy0 < oy0 or iy1 > oy1:
        return False
    if ox0 == -180 and ox1 == 180:
        return True
    return all(any(o0 <= s0 and s1 <= o1 for o0, o1 in _x_spans(ox0, ox1)) for s0, s1 in _x_spans(ix0, ix1))


def spatial(name, text, schema=None):
    m = _SPATIAL.match(text)
    if not m:
        raise bad_request("Unknown Spatial Operation: %s" % text.split("(")[0].strip())
    op = m.group(1).lower()
    try:
        query = parse_envelope(m.group(2).strip())
    except ValueError as exc:
        raise bad_request(str(exc))

    def test(doc):
        for value in _as_list(doc.fields.get(name)):
            box = parse_envelope(value)
            if op == "intersects" and rect_intersects(box, query):
                return True
            if op == "iswithin" and rect_within(box, query):
                return True
            if op == "contains" and rect_within(query, box):
                return True
            if op == "isdisjointto" and not rect_intersects(box, query):
                return True
        return False
    return test
