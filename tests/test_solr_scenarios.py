"""Differential Solr scenarios: the same assertions run on the emulator and, with
SOLRSYNC_TEST_SOLR_URL (a core) or SOLRSYNC_TEST_SOLRCLOUD_URL (an alias) set, on a real Solr; each
twice, on a standalone core and on a SolrCloud collection behind an alias (the plugin's ``solr``).
Only what both must agree on is asserted: status codes, numFound, documents and the kind of error
(not Solr's exact wording or its score order).

Where SolrCloud answers otherwise the scenario says what each does, keyed on what the target
reports (``solr.is_cloud``), as where versions differ (``solr.major``: 5, 8 or 9, read from Solr;
the emulator answers as ``--solr-version`` tells it). SolrCloud hands each document to its shard's
leader, and what comes back depends on which core answered; 8.x/9.x answer a request to an alias
from a core that changes from request to request, so these scenarios send their updates to one
shard leader's core by name (``solr.update``: ``solr.answering_core``) and a scenario about an error
uses an id of that shard (``solr.here``) unless it is about another shard's refusal
(``test_a_bad_document_on_another_shard``). solrsync's own writes go to the alias (test_sink,
test_cloud) and cope with either answer.

The configset orders writes by ``solrsync_version`` (DocBasedVersionConstraintsProcessorFactory):
every added document needs one and every delete by id the request parameter, so ``add`` stamps a
fresh version on each document that has none and ``stamp()`` gives one for a delete.
"""
import itertools
import time

import pysolr
import pytest

pytestmark = pytest.mark.solr


def error_kind(body):
    msg = body.get("error", {}).get("msg", "")
    for needle, kind in [("unknown field", "unknown-field"), ("missing mandatory uniqueKey", "no-id"),
                         ("multiple values", "multi-value"), ("Invalid Date", "bad-date"),
                         ("Couldn't parse shape", "bad-shape"),         # 5.3.1
                         ("Unable to parse shape", "bad-shape"),         # 8.11
                         ("version conflict", "version-conflict"), ("immense term", "immense-term"),
                         ("possible analysis error", "immense-term"),    # 5.3.1 says only this
                         ("to native type", "bad-number"),
                         ("SyntaxError", "syntax"), ("undefined field", "undefined-field"),
                         ("For input string", "bad-number"), ("Cursor functionality", "cursor"),
                         ("multivalued field", "sort-multi"),
                         ("Doc does not have versionField", "no-version"),
                         ("Delete by ID must specify doc version param", "no-delete-version")]:
        if needle in msg:
            return kind
    return msg


V = "solrsync_version"
_versions = itertools.count(int(time.time() * 1e6))


def stamp():
    """A fresh version, greater than every earlier one (microseconds since the epoch, as the engine)."""
    return next(_versions)


def add(solr, docs, **params):
    """Post an update; a list of documents gets a fresh solrsync_version on each one without one
    (copies: the caller's dicts are left alone)."""
    if isinstance(docs, list):
        docs = [dict(d, **{V: stamp()}) if isinstance(d, dict) and V not in d else d for d in docs]
    return solr.update(docs, **params)


def delete(solr, ids, version=None, **params):
    """Delete by id (JSON), with the version as the request parameter (a fresh one unless given)."""
    return solr.update({"delete": ids}, **dict({V: stamp() if version is None else version}, **params))


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
    assert add(solr, {"delete": "l1"}, commit="true", **{V: stamp()})[0] == 200
    assert add(solr, {"delete": ["l2", "l3"]}, commit="true", **{V: stamp()})[0] == 200
    assert solr.ids() == ["l4", "l5"]
    assert add(solr, {"delete": {"query": "category:water"}}, commit="true")[0] == 200  # no version needed
    assert solr.ids() == ["l5"]
    assert add(solr, {"delete": {"id": "l5"}}, commit="true", **{V: stamp()})[0] == 200
    assert solr.ids() == []


def test_pysolr_client_round_trip_including_xml_delete(solr):
    client = pysolr.Solr(solr.url, always_commit=True, timeout=10)
    client.add([{"id": "p1", "title": "pysolr doc", "keywords": ["a", "b"], V: stamp()}])
    assert [d["id"] for d in client.search("title:pysolr")] == ["p1"]
    with pytest.raises(pysolr.SolrError) as err:  # pysolr's delete cannot send the version parameter
        client.delete(id="p1")
    assert "Delete by ID must specify doc version param" in str(err.value)
    status, body = solr.update("<delete><id>p1</id></delete>", content_type="text/xml",
                             commit="true", **{V: stamp()})  # the XML pysolr sends, plus the version
    assert status == 200, body
    assert client.search("*:*").hits == 0
    with pytest.raises(pysolr.SolrError) as err:
        client.add([{"id": "p2", "nope": 1, V: stamp()}])
    assert "unknown field" in str(err.value)
    client.add([{"id": "p3", V: stamp()}])
    client.delete(q="id:p3")  # delete-by-query needs no version
    assert client.search("*:*").hits == 0


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


def test_optimistic_concurrency_gives_way_to_the_version_processor(loaded):
    """Under the version chain Solr's optimistic concurrency is not the client's: the version processor
    sets each update's _version_ to the stored one (and retries on a conflict), so a _version_ sent by the
    client is ignored, never a 409; solrsync_version alone decides. (Without the chain the same requests
    answer 409, 409, 409, 200, 200, 200.)"""
    solr = loaded
    version = solr.get("get", id="l1")[1]["doc"]["_version_"]
    assert add(solr, [{"id": "l1", "title": "must not exist", "_version_": -1}])[0] == 200
    assert add(solr, [{"id": "nope", "_version_": 1}])[0] == 200
    assert add(solr, [{"id": "l1", "title": "stale _version_", "_version_": version + 12345}])[0] == 200
    assert add(solr, [{"id": "brand_new", "_version_": -1}])[0] == 200
    assert add(solr, [{"id": "l2", "_version_": 1, "title": "exists", V: 1}])[0] == 200  # older: dropped
    docs = {d["id"]: d for d in solr.get("get", ids="l1,l2,nope,brand_new")[1]["response"]["docs"]}
    assert sorted(docs) == ["brand_new", "l1", "l2", "nope"]
    assert docs["l1"]["title"] == "stale _version_" and docs["l2"]["title"] == "Coral reefs of Fiji"
    assert docs["l1"]["_version_"] > version  # Solr's own _version_ still moves on


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
    if "id" in doc:
        doc = dict(doc, id=solr.here(doc["id"]))
    status, body = add(solr, [doc], commit="true")
    assert status == 400
    assert error_kind(body) == kind
    assert body["error"]["code"] == 400


# What Solr's shape reader accepts and refuses (probed on 5.3.1, 8.11.2 and 9.4.0; where they differ,
# each major version's answer): the emulator must draw the same line.
@pytest.mark.parametrize("shape,ok", [
    ("ENVELOPE(-10, 10, 20, -20)", True),
    ("ENVELOPE(-180, 180, 90, -90)", True),
    ("ENVELOPE(180, -180, 90, -90)", True),               # minX > maxX: a box crossing the antimeridian
    ("ENVELOPE(10, -10, 20, 20)", True),                   # zero height
    ("ENVELOPE(1e1, 2E1, 3e1, 0)", True),
    ("ENVELOPE(+10, .5, 20, -20)", True),
    ("ENVELOPE(-0.0, 0.0, 0.0, -0.0)", True),
    ("envelope(-10, 10, 20, -20)", True),
    ("ENVELOPE (10, 20, 20, 0) ", True),
    ("ENVELOPE( -10 , 10 , 20 , -20 )", True),
    ("ENVELOPE(10, 20, 90.000000000000001, 0)", True),    # parses to 90.0
    ("ENVELOPE(-10, 10, -20, 20)", False),                 # maxY < minY
    ("ENVELOPE(-10, 10, -90.0, -90.0000001)", False),
    ("ENVELOPE(-10, 10, 90.0000001, 0)", False),
    ("ENVELOPE(10, 20, 90.00000000000001, 0)", False),
    ("ENVELOPE(-180.0000001, 10, 20, 0)", False),
    ("ENVELOPE(10, 180.0000001, 20, 0)", False),
    ("ENVELOPE(NaN, 10, 20, 0)", False),
    ("ENVELOPE(-10, 10, 20, Infinity)", False),
    ("ENVELOPE(-10, 10, 20, -Infinity)", False),
    ("ENVELOPE(1e400, 10, 20, 0)", False),
    ("ENVELOPE(-10, 10, 20)", False),
    ("ENVELOPE(-10, 10, 20, -20, 5)", False),
    ("ENVELOPE(0x10, 20, 20, -20)", False),
    ("ENVELOPE(10d, 20, 20, 0)", False),
    ("ENVELOPE(1_0, 20, 20, 0)", False),
    (" ENVELOPE(10, 20, 20, 0)", {5: False, 8: True, 9: True}),  # 5.3.1: "Can't parse point"
    ("ENVELOPE(10, 20, 20, 0)x", False),
])
def test_shapes_solr_accepts_and_refuses(solr, shape, ok):
    if isinstance(ok, dict):
        ok = ok[solr.major]
    status, body = add(solr, [{"id": "shape", "bbox": shape}], commit="true")
    assert status == (200 if ok else 400), body


def test_a_bad_document_stops_its_batch_where_it_stands(solr):
    """Standalone: Solr applies the documents before the bad one and drops the rest; the commit does
    not run. So does SolrCloud when the bad document is on the shard whose core answers; the
    documents of other shards before it were forwarded, and are kept too."""
    here, other = solr.here, (solr.elsewhere if solr.is_cloud else solr.here)
    batch = [{"id": here("ok1")}, {"id": other("ok2")}, {"id": here("bad"), "bogus": 1}, {"id": other("ok3")},
             {"id": here("ok4")}]
    status, body = add(solr, batch, commit="true")
    assert status == 400 and "[doc=%s]" % batch[2]["id"] in body["error"]["msg"]
    assert sorted(get_docs(solr, *(d["id"] for d in batch))) == sorted(d["id"] for d in batch[:2])
    assert solr.select()["numFound"] == 0


def test_a_bad_document_on_another_shard(solr):
    """SolrCloud only: a document refused by another shard's leader stops only what was forwarded to
    that leader; the other shards' documents, those after it included, are applied and the commit
    runs. The answer (400) names that leader's core; 8.x/9.x pass on its reason and the document
    ("Async exception during distributed update: Error from server at <core URL>/: null ... Remote
    error message: ERROR: [doc=ID] unknown field 'bogus'"), 5.3.1 neither ("Bad Request ...
    request: <core URL>/update?...")."""
    here, other = solr.here, solr.elsewhere
    batch = [{"id": here("ok1")}, {"id": other("ok2")}, {"id": other("bad"), "bogus": 1}, {"id": other("ok3")},
             {"id": here("ok4")}]
    status, body = add(solr, batch, commit="true")
    msg = body["error"]["msg"]
    leader = solr.shards()[solr.shard_of(batch[2]["id"])]
    if solr.major >= 8:
        assert status == 400 and msg.startswith("Async exception during distributed update: Error from server at "
                                                "%s/" % leader["url"]), msg
        assert "Remote error message: ERROR: [doc=%s] unknown field 'bogus'" % batch[2]["id"] in msg, msg
        assert error_kind(body) == "unknown-field"
    else:
        assert status == 400 and msg.startswith("Bad Request") and "/%s/update?" % leader["leader"] in msg, msg
        assert "[doc=" not in msg and error_kind(body) == msg
    kept = sorted(d["id"] for d in batch if d["id"] not in (batch[2]["id"], batch[3]["id"]))
    assert sorted(get_docs(solr, *(d["id"] for d in batch))) == kept
    assert solr.ids() == kept  # committed


def test_stored_values_come_back_normalised(solr):
    add(solr, [{"id": "n1", "modified_date": "2020-01-02T03:04:05.500Z", "keywords": "single",
                "views_i": "7", "name": 42}], commit="true")
    doc = solr.select("id:n1")["docs"][0]
    # 8.11 prints milliseconds in three digits (java.time); 5.3.1 dropped the trailing zeros
    assert doc["modified_date"] == ("2020-01-02T03:04:05.500Z" if solr.major >= 8 else "2020-01-02T03:04:05.5Z")
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


def test_sort_on_multivalued_field(loaded):
    """8.11 sorts a multi-valued docValues field by its minimum (asc) or maximum (desc); 5.3.1 refuses."""
    status, body = loaded.get("select", q="*:*", sort="keywords asc, id asc", fl="id,keywords", rows=10)
    if loaded.major < 8:
        assert status == 400 and error_kind(body) == "sort-multi"
        return
    assert status == 200, body
    docs = body["response"]["docs"]
    lows = [min(d["keywords"]) for d in docs if "keywords" in d]
    assert len(lows) > 1 and lows == sorted(lows)
    status, body = loaded.get("select", q="*:*", sort="keywords desc, id asc", fl="id,keywords", rows=10)
    highs = [max(d["keywords"]) for d in body["response"]["docs"] if "keywords" in d]
    assert status == 200 and highs == sorted(highs, reverse=True)


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
    """SolrCloud answers a Schema API change once the answering core has it; the other shards' cores
    get it from ZooKeeper a little later (measured on 5.3.1: a document sent at once to another shard
    was refused, ``unknown field``), unless the request waits for them with ``updateTimeoutSecs``
    (which a standalone core ignores). On 5.3.1 even that is not enough for the first change after
    a start: the core that took it refused a document at once (measured; 8.11 and 9.4 never did),
    so there the scenario waits until each shard's core lists the field."""
    status, body = solr.get("admin/ping")
    assert status == 200 and body["status"] == "OK"
    status, body = solr.get("schema/fields")
    fields = {f["name"]: f for f in body["fields"]}
    assert {"id", "title", "bbox", "keywords", "modified_date"} <= set(fields)
    assert fields["keywords"].get("multiValued") is True
    name = "added_%d" % int(time.time() * 1000)
    status, body = solr.post("schema", {"add-field": {"name": name, "type": "string", "stored": True}},
                             core=solr.answering_core, updateTimeoutSecs=30)
    assert status == 200, body
    if solr.is_cloud and solr.major < 8:
        assert all(wait_for(lambda: solr.get("schema/fields/" + name, core=shard["leader"], distrib="false")[0] == 200)
                   for shard in solr.shards())
    ids = [solr.here("sf")] + ([solr.elsewhere("sf")] if solr.is_cloud else [])
    assert add(solr, [{"id": i, name: "v"} for i in ids], commit="true")[0] == 200
    assert solr.select("%s:v" % name)["numFound"] == len(ids)


def test_a_schema_change_reaches_the_other_shards_later(solr):
    """The emulator's SolrCloud lags as real SolrCloud may: without ``updateTimeoutSecs`` a document
    sent at once to another shard is refused (on real Solr that depends on timing: not asserted)."""
    solr.need_emulator("a deterministic lag")
    name = "lagging_%d" % int(time.time() * 1000)
    assert solr.post("schema", {"add-field": {"name": name, "type": "string", "stored": True}},
                     core=solr.answering_core)[0] == 200
    assert add(solr, [{"id": solr.here("now"), name: "v"}])[0] == 200
    status, body = add(solr, [{"id": solr.elsewhere("now"), name: "v"}])
    assert status == 400  # 8.x/9.x pass the other leader's reason on, 5.x does not
    assert error_kind(body) == "unknown-field" if solr.major >= 8 else body["error"]["msg"].startswith("Bad Request")


def test_core_admin_status_create_swap_unload(solr):
    if solr.is_cloud:
        return cloud_admin_status_create_alias_delete(solr)
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
        assert solr.admin(action="UNLOAD", core=other, deleteInstanceDir="true")[0] == 200
    status, body = solr.admin(action="STATUS", core=other)
    assert body["status"][other] == {}


def cloud_admin_status_create_alias_delete(solr):
    """SolrCloud: CoreAdmin knows the shards' replica cores, not the alias (STATUS answers {}); its
    CREATE is refused on 8.x and 9.x (7.0 ended legacyCloud; each says it its own way) and on 5.x
    makes a one-shard collection of the core's name. A rebuild's swap is Collections API CREATE, CREATEALIAS (which re-points an
    alias), DELETEALIAS and DELETE."""
    status, body = solr.admin(action="STATUS", core=solr.core)
    assert status == 200 and body["status"][solr.core] == {}
    add(solr, [{"id": solr.id_on(i, "old")} for i in range(len(solr.shards()))], commit="true")
    for shard in solr.shards():
        status, body = solr.admin(action="STATUS", core=shard["leader"])
        assert status == 200 and body["status"][shard["leader"]]["name"] == shard["leader"]
        assert body["status"][shard["leader"]]["index"]["numDocs"] == 1
    other = solr.unique_core_name()
    status, body = solr.admin(action="CREATE", name=other, instanceDir=other, configSet="layers")
    if solr.major >= 8:
        refusal = {8: "non legacy mode coreNodeName missing", 9: "coreNodeName missing {configSet=layers}"}
        assert status in (400, 500) and refusal[solr.major] in body["error"]["msg"], body
    else:
        assert status == 200, body
        assert other in solr.collections(action="CLUSTERSTATUS")[1]["cluster"]["collections"]
        assert solr.collections(action="DELETE", name=other)[0] == 200
    live = solr.collections(action="CLUSTERSTATUS")[1]["cluster"]["aliases"][solr.core]
    configset = solr.collections(action="CLUSTERSTATUS")[1]["cluster"]["collections"][live]["configName"]
    status, body = solr.collections(action="CREATE", name=other, numShards=1, replicationFactor=1,
                                    maxShardsPerNode=1, **{"collection.configName": configset})
    assert status == 200, body
    alias = other + "_alias"
    try:
        assert solr.collections(action="CREATEALIAS", name=alias, collections=other)[0] == 200
        add(solr, [{"id": "fresh1"}, {"id": "fresh2"}], core=alias, commit="true")
        assert solr.ids(core=alias) == ["fresh1", "fresh2"]
        assert solr.collections(action="CREATEALIAS", name=alias, collections=live)[0] == 200  # re-pointed
        assert solr.ids(core=alias) == solr.ids()
    finally:
        assert solr.collections(action="DELETEALIAS", name=alias)[0] == 200
        assert solr.collections(action="DELETE", name=other)[0] == 200
    assert other not in solr.collections(action="CLUSTERSTATUS")[1]["cluster"]["collections"]


# ------------------------------------------------------------ versioned writes (DocBasedVersionConstraints)
def get_docs(solr, *ids):
    """/get (realtime, tombstones included): id -> stored document."""
    status, body = solr.get("get", ids=",".join(ids))
    assert status == 200, body
    return {d["id"]: d for d in body["response"]["docs"]}


def test_older_and_equal_adds_are_dropped_and_a_newer_one_wins(solr):
    assert add(solr, [{"id": "d1", "title": "v10", V: 10}], commit="true")[0] == 200
    assert add(solr, [{"id": "d1", "title": "v5", V: 5}], commit="true")[0] == 200      # older: 200, dropped
    assert add(solr, [{"id": "d1", "title": "v10 again", V: 10}], commit="true")[0] == 200  # equal: dropped
    assert solr.select("id:d1")["docs"][0]["title"] == "v10"
    assert add(solr, [{"id": "d1", "title": "v11", V: 11}], commit="true")[0] == 200
    doc = solr.select("id:d1")["docs"][0]
    assert (doc["title"], doc[V]) == ("v11", 11)


def test_a_dropped_document_is_not_even_checked_against_the_schema(solr):
    """The version processor runs before the schema: an older document is dropped, bad fields and all."""
    d1 = solr.here("d1")
    add(solr, [{"id": d1, V: 10}], commit="true")
    assert add(solr, [{"id": d1, V: 9, "bogus": 1}], commit="true")[0] == 200
    status, body = add(solr, [{"id": d1, V: 11, "bogus": 1}], commit="true")
    assert (status, error_kind(body)) == (400, "unknown-field")


def test_a_batch_judges_each_document_on_its_own(solr):
    add(solr, [{"id": "b2", "title": "stored 20", V: 20}], commit="true")
    status, body = add(solr, [
        {"id": "b1", "title": "b1 v10", V: 10},
        {"id": "b1", "title": "b1 v5", V: 5},       # older than the one just before it in the batch
        {"id": "b1", "title": "b1 v10 again", V: 10},
        {"id": "b2", "title": "b2 v15", V: 15},     # older than the stored one
        {"id": "b1", "title": "b1 v11", V: 11},
        {"id": "b3", "title": "b3 v1", V: 1},
    ], commit="true")
    assert status == 200, body
    titles = {d["id"]: d["title"] for d in solr.select(fl="id,title")["docs"]}
    assert titles == {"b1": "b1 v11", "b2": "stored 20", "b3": "b3 v1"}


def test_the_version_check_sees_uncommitted_updates(solr):
    add(solr, [{"id": "u1", "title": "v10", V: 10}])
    add(solr, [{"id": "u1", "title": "v5", V: 5}])
    assert solr.select()["numFound"] == 0
    add(solr, {"commit": {}})
    assert solr.select("id:u1")["docs"][0]["title"] == "v10"


def test_an_add_without_a_version_is_refused(solr):
    """400 on Solr 5.3.1; Solr 8.11 answers 500 (``Doc does not have versionField``)."""
    refused = (500 if solr.major >= 8 else 400, "no-version")
    nv1, nv2, nv3, nv4 = (solr.here(i) for i in ("nv1", "nv2", "nv3", "nv4"))
    status, body = solr.update([{"id": nv1, "title": "no version"}], commit="true")
    assert (status, error_kind(body)) == refused
    status, body = solr.update([{"id": nv2, V: stamp()}, {"id": nv3}, {"id": nv4, V: stamp()}])
    assert (status, error_kind(body)) == refused
    assert sorted(get_docs(solr, nv1, nv2, nv3, nv4)) == [nv2]  # stops where it stands


def test_a_delete_by_id_needs_the_version_parameter(solr):
    add(solr, [{"id": "x1", V: 10}], commit="true")
    for body, ctype in [({"delete": ["x1"]}, "application/json"), ({"delete": {"id": "x1"}}, "application/json"),
                        ("<delete><id>x1</id></delete>", "text/xml")]:
        status, answer = solr.update(body, content_type=ctype, commit="true")
        assert (status, error_kind(answer)) == (400, "no-delete-version"), body
    assert solr.ids() == ["x1"]
    status, answer = solr.update("<delete><id>x1</id></delete>", content_type="text/xml",
                               commit="true", **{V: 11})
    assert status == 200, answer
    assert solr.ids() == []


def test_a_delete_leaves_a_tombstone_that_only_get_sees(solr):
    add(solr, [{"id": "t1", "title": "doomed", V: 10}, {"id": "t2", "title": "stays", V: 10}], commit="true")
    assert delete(solr, ["t1", "never_was"], version=20, commit="true")[0] == 200
    assert solr.ids() == ["t2"]
    assert solr.select("*:*", rows=0)["numFound"] == 1
    assert solr.select("id:t1")["numFound"] == 0 and solr.select("-solrsync_live:true")["numFound"] == 0
    docs = get_docs(solr, "t1", "t2", "never_was")
    assert sorted(docs) == ["never_was", "t1", "t2"]    # a delete of an unknown id leaves one too
    tomb = {k: v for k, v in docs["t1"].items() if k != "_version_"}
    assert tomb == {"id": "t1", V: 20}                 # id and version only
    assert solr.num_docs() == 3  # the index holds them


def test_an_older_delete_is_ignored(solr):
    add(solr, [{"id": "o1", "title": "v10", V: 10}], commit="true")
    assert delete(solr, ["o1"], version=9, commit="true")[0] == 200
    assert delete(solr, ["o1"], version=10, commit="true")[0] == 200   # equal: ignored too
    assert solr.select("id:o1")["docs"][0]["title"] == "v10"


def test_after_a_tombstone_an_older_add_is_dropped_and_a_newer_one_wins(solr):
    add(solr, [{"id": "r1", "title": "v10", V: 10}], commit="true")
    delete(solr, ["r1"], version=20, commit="true")
    assert add(solr, [{"id": "r1", "title": "late v15", V: 15}], commit="true")[0] == 200
    assert add(solr, [{"id": "r1", "title": "late v20", V: 20}], commit="true")[0] == 200
    assert solr.ids() == [] and get_docs(solr, "r1")["r1"][V] == 20
    assert delete(solr, ["r1"], version=15, commit="true")[0] == 200   # an older delete changes nothing
    assert get_docs(solr, "r1")["r1"][V] == 20
    assert add(solr, [{"id": "r1", "title": "back v21", V: 21}], commit="true")[0] == 200
    doc = solr.select("id:r1")["docs"][0]
    assert (doc["title"], doc[V]) == ("back v21", 21)


def test_a_delete_in_the_same_request_as_adds(solr):
    status, body = solr.update('{"add": {"doc": {"id": "m1", "solrsync_version": 5}},'
                                       ' "delete": {"id": "m1"},'
                                       ' "add": {"doc": {"id": "m2", "solrsync_version": 5}}}',
                             commit="true", **{V: 6})
    assert status == 200, body
    assert solr.ids() == ["m2"] and get_docs(solr, "m1")["m1"][V] == 6


def test_delete_by_query_is_not_version_checked(solr):
    add(solr, [{"id": "q1", "category": "a", V: 10 ** 15}, {"id": "q2", "category": "b", V: 1}], commit="true")
    assert add(solr, {"delete": {"query": "category:a"}}, commit="true")[0] == 200
    assert solr.ids() == ["q2"] and sorted(get_docs(solr, "q1", "q2")) == ["q2"]  # gone, no tombstone


def test_the_purge_query_removes_only_old_tombstones(solr):
    add(solr, [{"id": "live_old", V: 5}, {"id": "live_new", V: 50}, {"id": "t_old", V: 1},
               {"id": "t_new", V: 1}], commit="true")
    delete(solr, ["t_old", "t_unknown"], version=10, commit="true")
    delete(solr, ["t_new"], version=60, commit="true")
    status, body = add(solr, {"delete": {"query": "+solrsync_version:[* TO 20] -solrsync_live:true"}},
                       commit="true")
    assert status == 200, body
    assert sorted(get_docs(solr, "live_old", "live_new", "t_old", "t_unknown", "t_new")) == \
        ["live_new", "live_old", "t_new"]
    assert solr.ids() == ["live_new", "live_old"]
    assert add(solr, [{"id": "t_old", V: 2}], commit="true")[0] == 200  # purged: an old add comes back
    assert solr.ids() == ["live_new", "live_old", "t_old"]


def test_atomic_updates_carry_a_version_too(solr):
    a1 = solr.here("a1")
    add(solr, [{"id": a1, "keywords": ["k1"], V: 10}], commit="true")
    status, body = solr.update([{"id": a1, "keywords": {"add": "k2"}}], commit="true")
    assert (status, error_kind(body)) == (500 if solr.major >= 8 else 400, "no-version")
    assert add(solr, [{"id": a1, "keywords": {"add": "stale"}, V: 9}], commit="true")[0] == 200
    assert add(solr, [{"id": a1, "keywords": {"add": "k2"}, V: 11}], commit="true")[0] == 200
    doc = solr.select("id:%s" % a1)["docs"][0]
    assert doc["keywords"] == ["k1", "k2"] and doc[V] == 11
    assert solr.select("solrsync_live:true")["numFound"] == 1  # still live after the atomic update


def test_versions_sent_as_strings_and_bad_versions(solr):
    assert add(solr, [{"id": "s1", V: "30"}], commit="true")[0] == 200
    assert add(solr, [{"id": "s1", V: "29", "title": "older"}], commit="true")[0] == 200
    assert get_docs(solr, "s1")["s1"][V] == 30 and "title" not in get_docs(solr, "s1")["s1"]
    assert add(solr, [{"id": "s2", V: "abc"}])[0] == 400
    assert delete(solr, ["s1"], version="abc")[0] == 400


def test_versioned_delete_with_commit_within(solr):
    add(solr, [{"id": "cw1", V: 10}], commit="true")
    assert delete(solr, ["cw1"], version=11, commitWithin=500)[0] == 200
    assert solr.ids() == ["cw1"]
    assert wait_for(lambda: solr.ids() == [], timeout=5)


# ------------------------------------------------------------ the emulator's own configuration (emulator only)
def test_faults_endpoint_takes_json_whatever_the_content_type(solr):
    solr.need_emulator()
    url = solr.base + "/_emulator/faults"
    # curl -d sends JSON as a form: still JSON, still obeyed
    r = solr.http.post(url, data='{"fail": {"status": 503, "count": 1}}',
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert solr.get("select", q="*:*")[0] == 503
    assert solr.get("select", q="*:*")[0] == 200
    for body in ("fail.status=503", '{"fial": {}}', '{"fail": {"status": 503, "bogus": 1}}', "[1]"):
        r = solr.http.post(url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400 and "faults" in r.json()["error"]["msg"], body
    assert solr.get("select", q="*:*")[0] == 200


def test_a_configset_without_a_chain_keeps_plain_updates(tmp_path):
    """No updateRequestProcessorChain: no versions needed, deletes by id without a parameter, no tombstones,
    the client's _version_ checked again; /select defaults/appends/invariants read from the file."""
    import os
    import re
    import shutil
    from solrsync.testing.emulator import CONFIGSETS, SolrEmulator
    conf = tmp_path / "conf"
    shutil.copytree(os.path.join(CONFIGSETS, "layers", "conf"), conf)
    xml = (conf / "solrconfig.xml").read_text()
    xml = re.sub(r"<updateRequestProcessorChain.*?</updateRequestProcessorChain>", "", xml, flags=re.S)
    xml = xml.replace('<lst name="appends"><str name="fq">solrsync_live:true</str></lst>',
                      '<lst name="invariants"><int name="rows">2</int></lst>')
    (conf / "solrconfig.xml").write_text(xml)
    with SolrEmulator(configset=str(conf)) as emu:
        from solrsync.testing.pytest_plugin import SolrTarget
        plain = SolrTarget(emu.core_url("layers"), emu)
        assert plain.post("update", [{"id": "a"}, {"id": "b"}, {"id": "c"}], commit="true")[0] == 200
        assert plain.select(rows=10)["numFound"] == 3 and len(plain.select(rows=10)["docs"]) == 2  # invariant
        status, body = plain.post("update", [{"id": "a", "_version_": -1}])
        assert status == 409
        assert plain.post("update", {"delete": ["a"]}, commit="true")[0] == 200
        assert plain.get("get", id="a")[1]["doc"] is None and plain.select()["numFound"] == 2


def test_an_immense_term_is_refused_alone(solr):
    """A string value over 32,766 UTF-8 bytes is one term Lucene refuses: 400 on 5.3.1 and 8.11."""
    status, body = add(solr, [{"id": solr.here("big"), "name": "x" * 40000}], commit="true")
    assert (status, error_kind(body)) == (400, "immense-term")
    assert add(solr, [{"id": "long_text", "abstract": "word " * 10000}], commit="true")[0] == 200  # tokenized


def test_an_atomic_value_that_cannot_be_converted(loaded):
    """``{"inc": "x"}`` on an int field holding a value: 8.11 answers 400; 5.3.1 answers 500 (a
    NumberFormatException from its atomic-update merger; with no value yet it is a 400 on both)."""
    assert loaded.shard_of("l1") == loaded.answering_shard  # else SolrCloud would not say why
    assert add(loaded, [{"id": "l1", "views_i": {"set": 1}}], commit="true")[0] == 200
    status, body = add(loaded, [{"id": "l1", "views_i": {"inc": "x"}}], commit="true")
    assert (status, error_kind(body)) == ((400, "bad-number") if loaded.major >= 8 else (500, "bad-number"))


def test_select_answers_say_whether_the_count_is_exact(loaded):
    """numFoundExact from 8.6 on; maxScore when scores are asked for."""
    resp = loaded.select("*:*", fl="id,score")
    assert ("numFoundExact" in resp) == (loaded.major >= 8)
    assert "maxScore" in resp
