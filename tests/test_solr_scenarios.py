"""Differential Solr scenarios: the same assertions run on the emulator and, with
SOLRSYNC_TEST_SOLR_URL set, on a real Solr. Only what both must agree on is asserted: status
codes, numFound, documents and the kind of error (not Solr's exact wording or its score order).
"""
import time

import pysolr
import pytest

pytestmark = pytest.mark.solr


def error_kind(body):
    msg = body.get("error", {}).get("msg", "")
    for needle, kind in [("unknown field", "unknown-field"), ("missing mandatory uniqueKey", "no-id"),
                         ("multiple values", "multi-value"), ("Invalid Date", "bad-date"),
                         ("Couldn't parse shape", "bad-shape"), ("version conflict", "version-conflict"),
                         ("SyntaxError", "syntax"), ("undefined field", "undefined-field"),
                         ("For input string", "bad-number"), ("Cursor functionality", "cursor"),
                         ("multivalued field", "sort-multi")]:
        if needle in msg:
            return kind
    return msg


def add(solr, docs, **params):
    return solr.post("update", docs, **params)


def wait_for(fn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return fn()


LAYERS = [
    {"id": "l1", "name": "roads_berlin", "title": "Roads of Berlin", "abstract": "Street network, 2019 survey",
     "category": "transport", "keywords": ["roads", "osm"], "regions": ["Germany"], "username": "ana",
     "modified_date": "2019-05-01T10:00:00Z", "bbox": "ENVELOPE(13.08, 13.76, 52.68, 52.33)"},
    {"id": "l2", "name": "fiji_reefs", "title": "Coral reefs of Fiji", "abstract": "Reef extent",
     "category": "environment", "keywords": ["reefs"], "regions": ["Fiji"], "username": "bo",
     "modified_date": "2021-01-15T00:00:00Z", "bbox": "ENVELOPE(177.0, -178.0, -12.0, -21.0)"},
    {"id": "l3", "name": "world_borders", "title": "World borders", "abstract": "Country boundaries",
     "category": "boundaries", "keywords": ["borders", "osm"], "regions": ["Global"], "username": "ana",
     "modified_date": "2020-07-07T07:07:07Z", "bbox": "ENVELOPE(-180, 180, 90, -90)"},
    {"id": "l4", "name": "peru_rivers", "title": "Rivers of Peru", "abstract": "Hydrography of Peru roads",
     "category": "water", "keywords": ["rivers"], "regions": ["Peru"], "username": "cy",
     "modified_date": "2018-03-03T03:03:03Z", "bbox": "ENVELOPE(-81.3, -68.7, -0.04, -18.35)"},
    {"id": "l5", "name": "alaska_ice", "title": "Alaska sea ice", "abstract": "Ice extent near the dateline",
     "category": "environment", "keywords": ["ice"], "regions": ["USA"], "username": "bo",
     "modified_date": "2022-12-31T23:59:59Z", "bbox": "ENVELOPE(172.0, -130.0, 71.5, 51.2)"},
]


@pytest.fixture
def loaded(solr):
    status, body = add(solr, LAYERS, commit="true")
    assert status == 200, body
    return solr


# ------------------------------------------------------------ visibility
def test_add_is_invisible_until_commit_but_realtime_get_sees_it(solr):
    assert add(solr, [{"id": "v1", "title": "x"}])[0] == 200
    assert solr.select()["numFound"] == 0
    status, body = solr.get("get", id="v1")
    assert status == 200 and body["doc"]["id"] == "v1"
    assert solr.get("get", id="missing")[1]["doc"] is None
    assert add(solr, {"commit": {}})[0] == 200
    assert solr.ids() == ["v1"]


def test_soft_commit_makes_docs_visible(solr):
    add(solr, [{"id": "s1"}], softCommit="true")
    assert solr.ids() == ["s1"]


def test_commit_without_opening_a_searcher_stays_invisible(solr):
    add(solr, [{"id": "o1"}], commit="true", openSearcher="false")
    assert solr.select()["numFound"] == 0


def test_commit_within_makes_docs_visible_after_the_delay(solr):
    add(solr, [{"id": "cw1"}], commitWithin=700)
    assert solr.select()["numFound"] == 0
    assert wait_for(lambda: solr.select()["numFound"] == 1, timeout=5)


# ------------------------------------------------------------ deletes
def test_deletes_by_id_list_and_query(loaded):
    solr = loaded
    assert add(solr, {"delete": "l1"}, commit="true")[0] == 200
    assert add(solr, {"delete": ["l2", "l3"]}, commit="true")[0] == 200
    assert solr.ids() == ["l4", "l5"]
    assert add(solr, {"delete": {"query": "category:water"}}, commit="true")[0] == 200
    assert solr.ids() == ["l5"]
    assert add(solr, {"delete": {"id": "l5"}}, commit="true")[0] == 200
    assert solr.ids() == []


def test_pysolr_client_round_trip_including_xml_delete(solr):
    client = pysolr.Solr(solr.url, always_commit=True, timeout=10)
    client.add([{"id": "p1", "title": "pysolr doc", "keywords": ["a", "b"]}])
    assert [d["id"] for d in client.search("title:pysolr")] == ["p1"]
    client.delete(id="p1")
    assert client.search("*:*").hits == 0
    with pytest.raises(pysolr.SolrError) as err:
        client.add([{"id": "p2", "nope": 1}])
    assert "unknown field" in str(err.value)


# ------------------------------------------------------------ atomic updates and versions
def test_atomic_updates(loaded):
    solr = loaded
    status, _ = add(solr, [{"id": "l1", "keywords": {"add": "berlin"}, "title": {"set": "Berlin roads"},
                            "views_i": {"inc": 3}}], commit="true")
    assert status == 200
    doc = solr.select("id:l1")["docs"][0]
    assert doc["keywords"] == ["roads", "osm", "berlin"]
    assert doc["title"] == "Berlin roads" and doc["views_i"] == 3
    assert doc["abstract"] == "Street network, 2019 survey"  # untouched fields survive
    add(solr, [{"id": "l1", "keywords": {"remove": "osm"}, "views_i": {"inc": 2}, "name": {"set": None}}],
        commit="true")
    doc = solr.select("id:l1")["docs"][0]
    assert doc["keywords"] == ["roads", "berlin"] and doc["views_i"] == 5 and "name" not in doc
    add(solr, [{"id": "new", "title": {"set": "made by an atomic update"}}], commit="true")
    assert solr.select("id:new")["docs"][0]["title"] == "made by an atomic update"


def test_optimistic_concurrency(loaded):
    solr = loaded
    version = solr.get("get", id="l1")[1]["doc"]["_version_"]
    status, body = add(solr, [{"id": "l1", "_version_": -1}])
    assert (status, error_kind(body)) == (409, "version-conflict")
    status, body = add(solr, [{"id": "nope", "_version_": 1}])
    assert (status, error_kind(body)) == (409, "version-conflict")
    status, body = add(solr, [{"id": "l1", "_version_": version + 12345}])
    assert (status, error_kind(body)) == (409, "version-conflict")
    assert add(solr, [{"id": "l1", "title": "ok", "_version_": version}])[0] == 200
    assert add(solr, [{"id": "brand_new", "_version_": -1}])[0] == 200
    assert add(solr, [{"id": "l2", "_version_": 1, "title": "exists"}])[0] == 200
    new_version = solr.get("get", id="l1")[1]["doc"]["_version_"]
    assert new_version > version


# ------------------------------------------------------------ schema enforcement
@pytest.mark.parametrize("doc,kind", [
    ({"id": "e1", "bogus": "x"}, "unknown-field"),
    ({"title": "no id"}, "no-id"),
    ({"id": "e1", "name": ["a", "b"]}, "multi-value"),
    ({"id": "e1", "modified_date": "yesterday"}, "bad-date"),
    ({"id": "e1", "modified_date": "2020-01-01 10:00:00"}, "bad-date"),
    ({"id": "e1", "bbox": "ENVELOPE(-10, 10, -20, 20)"}, "bad-shape"),
    ({"id": "e1", "bbox": "ENVELOPE(-10, 10, 95, 20)"}, "bad-shape"),
    ({"id": "e1", "bbox": "ENVELOPE(-190, 10, 30, 20)"}, "bad-shape"),
    ({"id": "e1", "views_i": "many"}, "bad-number"),
])
def test_schema_errors(solr, doc, kind):
    status, body = add(solr, [doc], commit="true")
    assert status == 400
    assert error_kind(body) == kind
    assert body["error"]["code"] == 400


def test_a_bad_document_stops_its_batch_where_it_stands(solr):
    """Solr applies the documents before the bad one and drops the rest; the commit does not run."""
    status, body = add(solr, [{"id": "ok1"}, {"id": "bad", "bogus": 1}, {"id": "ok2"}], commit="true")
    assert status == 400 and "[doc=bad]" in body["error"]["msg"]
    assert solr.get("get", id="ok1")[1]["doc"] is not None
    assert solr.get("get", id="ok2")[1]["doc"] is None
    assert solr.select()["numFound"] == 0


def test_stored_values_come_back_normalised(solr):
    add(solr, [{"id": "n1", "modified_date": "2020-01-02T03:04:05.500Z", "keywords": "single",
                "views_i": "7", "name": 42}], commit="true")
    doc = solr.select("id:n1")["docs"][0]
    assert doc["modified_date"] == "2020-01-02T03:04:05.5Z"
    assert doc["keywords"] == ["single"] and doc["views_i"] == 7 and doc["name"] == "42"
    assert "text" not in doc  # copyField destination is not stored


def test_null_values_are_ignored(solr):
    assert add(solr, [{"id": "nul", "name": None, "title": "t"}], commit="true")[0] == 200
    assert "name" not in solr.select("id:nul")["docs"][0]


# ------------------------------------------------------------ queries
@pytest.mark.parametrize("q,expected", [
    ("*:*", ["l1", "l2", "l3", "l4", "l5"]),
    ("name:roads_berlin", ["l1"]),
    ("title:roads", ["l1"]),
    ("roads", ["l1", "l4"]),                   # default field: the catch-all text (title + abstract)
    ('title:"coral reefs"', ["l2"]),
    ('title:"reefs coral"', []),
    ("keywords:(osm OR ice)", ["l1", "l3", "l5"]),
    ("keywords:osm AND username:ana", ["l1", "l3"]),
    ("keywords:osm -username:ana", []),
    ("-category:environment", ["l1", "l3", "l4"]),
    ("NOT category:environment", ["l1", "l3", "l4"]),
    ("+category:environment +username:bo", ["l2", "l5"]),
    ("modified_date:[2020-01-01T00:00:00Z TO *]", ["l2", "l3", "l5"]),
    ("modified_date:[* TO 2019-05-01T10:00:00Z}", ["l4"]),
    ("name:*_r*", ["l2", "l4"]),
    ("regions:*", ["l1", "l2", "l3", "l4", "l5"]),
    ("(title:rivers OR title:ice) AND category:water", ["l4"]),
])
def test_query_syntax(loaded, q, expected):
    assert loaded.ids(q) == expected


def test_filter_queries_combine(loaded):
    assert loaded.ids("*:*", fq=["username:ana", "keywords:roads"]) == ["l1"]


@pytest.mark.parametrize("q,kind", [("bogus_field:x", "undefined-field"), ("title:(", "syntax")])
def test_query_errors(loaded, q, kind):
    status, body = loaded.get("select", q=q)
    assert status == 400 and error_kind(body) == kind


# ------------------------------------------------------------ spatial
@pytest.mark.parametrize("op,envelope,expected", [
    ("Intersects", "ENVELOPE(13.3, 13.5, 52.6, 52.4)", ["l1", "l3"]),
    ("Intersects", "ENVELOPE(179, -179, -15, -20)", ["l2", "l3"]),      # query crosses the dateline
    ("Intersects", "ENVELOPE(-179.5, -179, -15, -20)", ["l2", "l3"]),   # doc crosses, query east of it
    ("Intersects", "ENVELOPE(-140, -135, 60, 55)", ["l3", "l5"]),
    ("Intersects", "ENVELOPE(0, 10, 10, 0)", ["l3"]),
    ("IsWithin", "ENVELOPE(10, 20, 60, 50)", ["l1"]),
    ("IsWithin", "ENVELOPE(170, -170, 0, -30)", ["l2"]),
    ("IsWithin", "ENVELOPE(-90, -60, 5, -20)", ["l4"]),
    ("IsWithin", "ENVELOPE(-180, 180, 90, -90)", ["l1", "l2", "l3", "l4", "l5"]),
])
def test_spatial_filters(loaded, op, envelope, expected):
    assert loaded.ids("*:*", fq="{!field f=bbox}%s(%s)" % (op, envelope)) == expected


def test_spatial_query_with_a_bad_envelope_is_a_400(loaded):
    status, body = loaded.get("select", q="*:*", fq="{!field f=bbox}Intersects(ENVELOPE(0, 10, 0, 10))")
    assert status == 400


# ------------------------------------------------------------ sorting and paging
def test_sort_rows_start(loaded):
    resp = loaded.select("*:*", sort="modified_date desc", rows=2, start=1, fl="id")
    assert resp["numFound"] == 5 and resp["start"] == 1
    assert [d["id"] for d in resp["docs"]] == ["l2", "l3"]
    resp = loaded.select("*:*", sort="username asc, id desc", fl="id", rows=10)
    assert [d["id"] for d in resp["docs"]] == ["l3", "l1", "l5", "l2", "l4"]


def test_sort_on_multivalued_field_is_refused(loaded):
    status, body = loaded.get("select", q="*:*", sort="keywords asc")
    assert status == 400 and error_kind(body) == "sort-multi"


def test_cursor_mark_pages_through_everything_once(solr):
    add(solr, [{"id": "c%03d" % i, "views_i": i % 7} for i in range(57)], commit="true")
    seen, cursor = [], "*"
    while True:
        status, body = solr.get("select", q="*:*", sort="views_i asc, id asc", rows=10, fl="id",
                                cursorMark=cursor)
        assert status == 200 and body["response"]["numFound"] == 57
        seen.extend(d["id"] for d in body["response"]["docs"])
        if body["nextCursorMark"] == cursor:
            break
        cursor = body["nextCursorMark"]
    assert len(seen) == 57 and sorted(seen) == sorted(set(seen))
    status, body = solr.get("select", q="*:*", sort="views_i asc", cursorMark="*")
    assert status == 400 and error_kind(body) == "cursor"
    status, body = solr.get("select", q="*:*", sort="id asc", cursorMark="*", start=5)
    assert status == 400 and error_kind(body) == "cursor"


# ------------------------------------------------------------ admin endpoints
def test_ping_and_schema_api(solr):
    status, body = solr.get("admin/ping")
    assert status == 200 and body["status"] == "OK"
    status, body = solr.get("schema/fields")
    fields = {f["name"]: f for f in body["fields"]}
    assert {"id", "title", "bbox", "keywords", "modified_date"} <= set(fields)
    assert fields["keywords"].get("multiValued") is True
    name = "added_%d" % int(time.time() * 1000)
    status, body = solr.post("schema", {"add-field": {"name": name, "type": "string", "stored": True}})
    assert status == 200, body
    assert add(solr, [{"id": "sf", name: "v"}], commit="true")[0] == 200
    assert solr.select("%s:v" % name)["numFound"] == 1


def test_core_admin_status_create_swap_unload(solr):
    status, body = solr.admin(action="STATUS", core=solr.core)
    assert status == 200 and body["status"][solr.core]["name"] == solr.core
    other = solr.unique_core_name()
    status, body = solr.admin(action="CREATE", name=other, instanceDir=other, configSet="layers")
    if status != 200 and solr.is_real:
        pytest.skip("real Solr has no 'layers' configset under <solr_home>/configsets: %s" % body["error"]["msg"])
    assert status == 200, body
    try:
        add(solr, [{"id": "old"}], commit="true")
        add(solr, [{"id": "fresh1"}, {"id": "fresh2"}], core=other, commit="true")
        assert solr.admin(action="SWAP", core=solr.core, other=other)[0] == 200
        assert solr.ids() == ["fresh1", "fresh2"]
        assert solr.ids(core=other) == ["old"]
    finally:
        assert solr.admin(action="UNLOAD", core=other)[0] == 200
    status, body = solr.admin(action="STATUS", core=other)
    assert body["status"][other] == {}
