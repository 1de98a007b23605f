"""Every envelope ``envelope()`` returns is one Solr accepts, checked by Solr itself.

The boxes are what layer metadata throws at us: pole and antimeridian edges, float noise just past
them, values that round onto a limit at 9 decimals, tiny and huge numbers, swapped corners, boxes
drawn across the dateline or in 0..360. Each envelope goes to the ``solr`` fixture (the emulator, or
the real Solr named by SOLRSYNC_TEST_SOLR_URL) as a document in a batch: one refused shape fails the
batch, and the test names it. ``InvalidBBox`` must be raised for truly invalid input only.
"""
import itertools
import math
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from solrsync.documents import InvalidBBox, envelope

pytestmark = pytest.mark.solr

NOISE = 1e-6  # how far past a limit a coordinate may stray as float noise (documents._NOISE)
_versions = itertools.count(int(time.time() * 1e6))
_ids = itertools.count()


def truly_invalid(box):
    """The contract, independent of envelope()'s code: no bbox can be made of these."""
    if all(c is None for c in box):
        return False
    try:
        x0, x1, y0, y1 = (float(c) for c in box)
    except (TypeError, ValueError, OverflowError):
        return True
    if any(math.isnan(c) or math.isinf(c) for c in (x0, x1, y0, y1)):
        return True
    return max(abs(y0), abs(y1)) > 90 + NOISE or max(abs(x0), abs(x1)) > 360 + NOISE


def envelopes(boxes):
    """-> [(box, wkt)] for the boxes envelope() accepts; asserts InvalidBBox only for invalid ones."""
    out = []
    for box in boxes:
        try:
            wkt = envelope(*box)
        except InvalidBBox:
            assert truly_invalid(box), "InvalidBBox for a repairable box %r" % (box,)
            continue
        assert not truly_invalid(box), "%r is invalid, yet envelope() made %r" % (box, wkt)
        if wkt is None:
            assert all(c is None for c in box)
            continue
        out.append((box, wkt))
    return out


def post_all(solr, pairs, batch=1000):
    """Post every envelope as a versioned document, in batches; on a refusal name the culprit."""
    for i in range(0, len(pairs), batch):
        chunk = pairs[i:i + batch]
        docs = [{"id": "env%d" % next(_ids), "bbox": wkt, "solrsync_version": next(_versions)} for _, wkt in chunk]
        status, body = solr.post("update", docs)
        if status != 200:
            for (box, wkt), doc in zip(chunk, docs):
                one_status, one_body = solr.post("update", [dict(doc, solrsync_version=next(_versions))])
                assert one_status == 200, "Solr refused envelope(%r) = %r: %s" % (box, wkt, one_body)
            pytest.fail("Solr refused a batch but each document alone: %s" % body)


# ------------------------------------------------------------ edge values
def _around(limit):
    """limit itself, its neighbouring doubles, and float noise both sides (inside and beyond _NOISE)."""
    return [limit, math.nextafter(limit, math.inf), math.nextafter(limit, -math.inf),
            limit + 1e-7, limit - 1e-7, limit + 5e-10, limit - 5e-10, limit + 2e-6, limit - 2e-6]


LAT_EDGES = sorted({v for lim in (-90.0, 90.0, 0.0) for v in _around(lim)} | {89.9999999996, -89.9999999996})
LON_EDGES = sorted({v for lim in (-360.0, -180.0, 180.0, 360.0, 0.0) for v in _around(lim)}
                   | {179.9999999995, -179.9999999995, 190.0, -190.0, 170.0, -170.0})


def test_every_pole_and_antimeridian_edge_combination(solr):
    """Every pair of latitude edges with a sample of longitude edge pairs: ~10,000 boxes."""
    lon_pairs = list(itertools.product(LON_EDGES, repeat=2))[::7]
    boxes = [(x0, x1, y0, y1) for (y0, y1) in itertools.product(LAT_EDGES, repeat=2) for (x0, x1) in lon_pairs]
    assert len(boxes) > 5000
    pairs = envelopes(boxes)
    assert len(pairs) > 1000
    post_all(solr, pairs)


def test_the_reported_pole_defect(solr):
    for y in (-90.0000001, 90.0000001, math.nextafter(-90.0, -math.inf), math.nextafter(90.0, math.inf)):
        wkt = envelope(-60, -30, y, y)
        assert wkt == "ENVELOPE(-60.0, -30.0, %s, %s)" % ((("90.0",) * 2) if y > 0 else (("-90.0",) * 2))
    post_all(solr, envelopes([(-60, -30, -90.0000001, -90.0000001), (-60, -30, 90.0000001, 90.0000001)]))


# ------------------------------------------------------------ generated boxes
_limits = st.sampled_from([-360.0, -180.0, -90.0, 0.0, 90.0, 180.0, 360.0])
near_limit = st.builds(lambda base, eps: base + eps, _limits,
                       st.floats(-3e-6, 3e-6) | st.sampled_from([5e-10, -5e-10, 4.9e-10, -4.9e-10, 1e-7, -1e-7]))
neighbour = st.builds(lambda base, up: math.nextafter(base, math.inf if up else -math.inf), _limits, st.booleans())
rounding = st.sampled_from([89.9999999995, 89.9999999994, -89.9999999995, 179.9999999995, -179.9999999995,
                            85.17432500000001, 1e-10, -1e-10, 5e-10, -5e-10, -0.0])
tiny = st.floats(-1e-300, 1e-300) | st.sampled_from([5e-324, -5e-324, 2.2250738585072014e-308])
ordinary = st.floats(-400, 400)
anything = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10 ** 400, 10 ** 400)
other_types = (st.integers(-400, 400) | st.floats(-200, 200).map(lambda v: "%r" % v)
               | st.floats(-100, 100).map(lambda v: Decimal(repr(v))) | st.none()
               | st.sampled_from(["nan", "inf", "x", "", "1e999"]))
coord = st.one_of(near_limit, neighbour, rounding, tiny, ordinary, anything, other_types)
lat = st.one_of(near_limit, neighbour, rounding, tiny, st.floats(-91, 91))
dateline = st.tuples(st.floats(170, 180.000001), st.floats(-180.000001, -170), lat, lat)
box = st.one_of(st.tuples(coord, coord, coord, coord), st.tuples(coord, coord, lat, lat), dateline,
                st.tuples(ordinary, ordinary, lat, lat).map(lambda b: (b[1], b[0], b[3], b[2])))  # swapped


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.large_base_example])
@given(st.lists(box, min_size=50, max_size=300))
def test_generated_boxes_are_all_accepted_by_solr(solr, boxes):
    _seen.append(len(boxes))
    post_all(solr, envelopes(boxes))


_seen = []


def test_generated_boxes_were_thousands():
    """The property test above ran (same session) on thousands of boxes, not a handful."""
    if not _seen:
        pytest.skip("runs after test_generated_boxes_are_all_accepted_by_solr")
    assert sum(_seen) >= 2000, sum(_seen)
