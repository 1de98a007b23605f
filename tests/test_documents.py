import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from solrsync.documents import InvalidBBox, clean_text, envelope, solr_date
from solrsync.testing.emulator.query import rect_within
from solrsync.testing.emulator.schema import parse_date, parse_envelope
from solrsync.pipelines.layers import LayerDocument


@pytest.mark.parametrize("coords,expected", [
    ((13.08, 13.76, 52.33, 52.68), "ENVELOPE(13.08, 13.76, 52.68, 52.33)"),
    ((None, None, None, None), None),
    ((13.08, 13.76, 52.68, 52.33), "ENVELOPE(13.08, 13.76, 52.68, 52.33)"),        # y swapped
    ((170.0, -170.0, -10, 10), "ENVELOPE(170.0, -170.0, 10.0, -10.0)"),          # crosses the antimeridian
    ((11.0, 10.0, 0, 1), "ENVELOPE(10.0, 11.0, 1.0, 0.0)"),                      # swapped, not a 359-degree box
    ((170.0, 190.0, 0, 1), "ENVELOPE(170.0, -170.0, 1.0, 0.0)"),                 # drawn past 180: wrapped
    ((0, 360, -90, 90), "ENVELOPE(-180.0, 180.0, 90.0, -90.0)"),                 # 0..360 world
    ((-180.0000001, 180.0000001, -90.0000001, 90.0000001), "ENVELOPE(-180.0, 180.0, 90.0, -90.0)"),
    ((5, 5, 7, 7), "ENVELOPE(5.0, 5.0, 7.0, 7.0)"),                               # a point
    (("1.5", "2.5", "3", "4"), "ENVELOPE(1.5, 2.5, 4.0, 3.0)"),
    ((-60, -30, -90.0000001, -90.0000001), "ENVELOPE(-60.0, -30.0, -90.0, -90.0)"),   # just past one pole:
    ((-60, -30, 90.0000001, 90.0000001), "ENVELOPE(-60.0, -30.0, 90.0, 90.0)"),       # clamped, not swapped
    ((-60, -30, -90.0000001, -90.0), "ENVELOPE(-60.0, -30.0, -90.0, -90.0)"),
    ((0.0, 1.0, 89.9999999996, 89.9999999996), "ENVELOPE(0.0, 1.0, 90.0, 90.0)"),    # rounds onto the pole
])
def test_envelope(coords, expected):
    assert envelope(*coords) == expected


@pytest.mark.parametrize("coords", [
    (0, 1, 0, 95), (0, 1, None, 1), (float("nan"), 1, 0, 1), (0, float("inf"), 0, 1),
    (0, 1, -91, 0), (-400, 1, 0, 1), ("x", 1, 0, 1),
    (10 ** 400, 1, 0, 1),  # too large for a float: InvalidBBox, not OverflowError
])
def test_envelope_refuses_what_cannot_be_repaired(coords):
    with pytest.raises(InvalidBBox):
        envelope(*coords)


coord = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.none() | st.integers(-1000, 1000)


@settings(max_examples=500, deadline=None)
@given(coord, coord, coord, coord)
def test_envelope_is_always_solr_valid_or_an_invalid_bbox(x0, x1, y0, y1):
    try:
        wkt = envelope(x0, x1, y0, y1)
    except InvalidBBox:
        return
    if wkt is None:
        assert (x0, x1, y0, y1) == (None, None, None, None)
        return
    min_x, max_x, max_y, min_y = parse_envelope(wkt)   # the emulator's (Solr's) rules: raises if invalid
    assert min_y <= max_y
    assert envelope(min_x, max_x, min_y, max_y) == wkt  # stable: building it again changes nothing


@settings(max_examples=300, deadline=None)
@given(st.floats(-179, 179), st.floats(0.001, 170), st.floats(-89, 0), st.floats(0.001, 89))
def test_plain_boxes_keep_their_extent(x0, width, y0, height):
    x1 = min(x0 + width, 180.0)
    y1 = min(y0 + height, 90.0)
    box = parse_envelope(envelope(x0, x1, y0, y1))
    assert rect_within(box, (x0 - 1e-6, x1 + 1e-6, y1 + 1e-6, y0 - 1e-6))
    assert box[0] <= box[1]


@pytest.mark.parametrize("value,expected", [
    (dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "2020-01-02T03:04:05Z"),
    (dt.datetime(2020, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc), "2020-01-02T03:04:05.678Z"),
    (dt.datetime(2020, 1, 2, 3, 4, 5), "2020-01-02T03:04:05Z"),                          # naive: UTC
    (dt.datetime(2020, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")), "2020-07-01T10:00:00Z"),
    (dt.date(2020, 2, 29), "2020-02-29T00:00:00Z"),
    ("2020-01-02T03:04:05+02:00", "2020-01-02T01:04:05Z"),
    ("2020-01-02T03:04:05Z", "2020-01-02T03:04:05Z"),
    (None, None),
])
def test_solr_date(value, expected):
    assert solr_date(value) == expected


def test_naive_dates_in_a_given_zone():
    assert solr_date(dt.datetime(2020, 1, 1, 12), naive_tz=ZoneInfo("America/Lima")) == "2020-01-01T17:00:00Z"


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 31),
                    timezones=st.sampled_from([dt.timezone.utc, ZoneInfo("Asia/Kathmandu"),
                                               ZoneInfo("Pacific/Kiritimati"), ZoneInfo("America/St_Johns")])))
def test_dates_are_solr_valid_and_the_same_instant(moment):
    text = solr_date(moment)
    millis, _ = parse_date(text)  # Solr's own date rules (the emulator's)
    expected = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    epoch = dt.datetime(1970, 1, 1)
    assert millis == (expected - epoch) // dt.timedelta(milliseconds=1)


def test_clean_text():
    assert clean_text("a\x00b\x1fc\td\n") == "ab" + "c\td"
    assert clean_text("  ") is None
    assert clean_text("\ud800x") == "x"


class Row:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Related:
    def __init__(self, *names):
        self.items = [Row(name=n) for n in names]

    def all(self):
        return self.items


def test_layer_document_builds_the_solr_shape():
    row = Row(pk=7, uuid="u-7", name="roads", title="Roads\x07 of Berlin", abstract="", bbox_x0=13.0, bbox_x1=14.0,
              bbox_y0=52.0, bbox_y1=53.0, category=Row(identifier="transportation"),
              date=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc), owner=Row(username="ana"),
              keywords=Related("roads", "osm", "roads"), regions=Related())
    doc, warnings = LayerDocument.build(row)
    assert doc == {"id": "u-7", "name": "roads", "title": "Roads of Berlin", "bbox": "ENVELOPE(13.0, 14.0, 53.0, 52.0)",
                   "category": "transportation", "modified_date": "2020-01-01T00:00:00Z", "username": "ana",
                   "keywords": ["roads", "osm"]}
    assert warnings == []


def test_layer_document_drops_a_bad_bbox_with_a_warning():
    row = Row(pk=8, uuid="u-8", name="x", title="t", abstract=None, bbox_x0=0, bbox_x1=1, bbox_y0=0, bbox_y1=123,
              category=None, date=None, owner=None, keywords=None, regions=None)
    doc, warnings = LayerDocument.build(row)
    assert doc == {"id": "u-8", "name": "x", "title": "t"}
    assert len(warnings) == 1 and "bbox" in warnings[0] and "123" in warnings[0]


def test_flat_rows_and_objects_build_alike_with_custom_fields():
    """Dict rows keyed by whole paths take the compiled path; a field computed by fn, or a subclass
    overriding value(), must still be called there; a dict that is not flat walks its paths."""
    from solrsync.documents import Document, Field, Text

    class Shout(Text):
        def value(self, row, doc):
            return super().value(row, doc).upper()

    class Doc(Document):
        id = Field("uuid")
        title = Shout("title")
        size = Field(fn=lambda row: len(row["title"]) if isinstance(row, dict) else len(row.title))
        owner = Field("owner.username")

    flat = {"uuid": "u1", "title": "Roads", "owner.username": "ana"}
    nested = {"uuid": "u1", "title": "Roads", "owner": {"username": "ana"}}
    obj = Row(uuid="u1", title="Roads", owner=Row(username="ana"))
    expected = ({"id": "u1", "title": "ROADS", "size": 5, "owner": "ana"}, [])
    assert Doc.build(flat) == Doc.build(nested) == Doc.build(obj) == expected
