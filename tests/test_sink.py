import pytest

from solrsync.sink import SolrRequestError, SolrSink, SolrUnavailable

pytestmark = pytest.mark.solr  # differential: on a standalone core and on a SolrCloud alias


def make_sink(solr):
    return SolrSink(solr.url, timeout=5, commit_within_ms=200)


def test_one_request_per_batch_and_bad_documents_isolated(solr):
    sink = make_sink(solr)
    docs = [{"id": "d%02d" % i, "title": "doc %d" % i} for i in range(40)]
    docs[7]["bogus"] = 1
    docs[31]["modified_date"] = "last tuesday"
    rejected = sink.add_batch(docs, commit=True)
    assert sorted(r.doc_id for r in rejected) == ["d07", "d31"]
    assert any("unknown field" in r.message for r in rejected)
    assert solr.select()["numFound"] == 38


def test_a_clean_batch_is_one_request(solr):
    """One request; on SolrCloud one per shard, each to its leader (solrsync/leaders.py)."""
    solr.need_emulator("request counting")
    sink = make_sink(solr)
    sink.add_batch([{"id": str(i)} for i in range(500)])
    assert solr.emulator.stats["update_requests"] == (len(solr.shards()) if solr.is_cloud else 1)


def test_delete_ids_and_commit_within(solr):
    sink = make_sink(solr)
    sink.add_batch([{"id": "a"}, {"id": "b"}, {"id": "c"}], commit=True)
    assert sink.delete_ids(["a", None, "", 0, "b"]) == 3  # pysolr would drop 0 and refuse ints
    from conftest import wait_until
    assert wait_until(lambda: solr.ids() == ["c"], timeout=5)


def test_server_errors_and_outages_are_retryable(solr):
    solr.need_emulator()
    sink = make_sink(solr)
    solr.emulator.faults.fail(503, count=1)
    with pytest.raises(SolrUnavailable) as err:
        sink.add_batch([{"id": "x"}])
    assert "503" in str(err.value)
    solr.emulator.faults.drop(count=1)
    with pytest.raises(SolrUnavailable):
        sink.add_batch([{"id": "x"}])
    assert sink.add_batch([{"id": "x"}]) == []


def test_unreachable_solr_is_retryable_and_masks_credentials():
    sink = SolrSink("http://admin:hunter2@127.0.0.1:9/solr/layers", timeout=2)
    with pytest.raises(SolrUnavailable) as err:
        sink.add_batch([{"id": "x"}])
    assert "hunter2" not in str(err.value) and sink.client.session.auth == ("admin", "hunter2")


def test_basic_auth_travels_as_a_header_not_in_the_url(solr):
    sink = SolrSink(solr.url.replace("http://", "http://u:pw@"), timeout=5)
    import requests
    captured = {}
    orig_send = requests.Session.send

    def spy(self, request, **kw):
        captured["auth"] = request.headers.get("Authorization")
        captured["url"] = request.url
        return orig_send(self, request, **kw)
    requests.Session.send = spy
    try:
        sink.add_batch([{"id": "a"}])
    finally:
        requests.Session.send = orig_send
    assert captured["auth"].startswith("Basic ") and "pw" not in captured["url"]


def test_missing_core_is_not_a_document_error(solr):
    sink = SolrSink(solr.core_url("no_such_core"), timeout=5)
    with pytest.raises((SolrUnavailable, SolrRequestError)):
        sink.add_batch([{"id": "x"}])


def test_stop_and_come_back_on_the_same_port(solr):
    solr.need_emulator()
    sink = make_sink(solr)
    sink.add_batch([{"id": "kept"}], commit=True)
    solr.emulator.stop()
    try:
        with pytest.raises(SolrUnavailable):
            sink.ping()
    finally:
        solr.emulator.start()
    assert sink.ping() and solr.ids() == ["kept"]
