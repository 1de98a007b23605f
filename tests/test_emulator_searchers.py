"""The emulator's searchers, as Solr's: a search runs on the searcher open when it started, and
updates go on meanwhile (it held the core's lock for the whole search: at 100,000 documents the
first scored query of each searcher held every post for up to a second)."""
import threading

import requests

from solrsync.testing.emulator import SolrEmulator
from solrsync.testing.emulator import search as search_module

V = "solrsync_version"


def test_a_post_and_its_commit_go_on_while_a_search_scores_on_its_own_searcher(monkeypatch):
    scoring, release = threading.Event(), threading.Event()
    real = search_module.FieldStats

    def held(*args, **kwargs):  # the search computing its searcher's statistics, held here
        scoring.set()
        assert release.wait(10), "never released"
        return real(*args, **kwargs)

    with SolrEmulator() as emu:
        url = emu.core_url("layers")
        http = requests.Session()
        assert http.post(url + "/update", params={"commit": "true"},
                         json=[{"id": "a", "title": "roads of berlin", V: 1}]).status_code == 200
        monkeypatch.setattr(search_module, "FieldStats", held)
        answers = []
        search = threading.Thread(target=lambda: answers.append(
            http.get(url + "/select", params={"q": "title:roads", "fl": "id", "wt": "json"}, timeout=20).json()))
        search.start()
        try:
            assert scoring.wait(10), "the search never scored"
            # the search is held with the searcher it started on; the post and its commit go on
            posted = requests.post(url + "/update", params={"commit": "true"}, timeout=5,
                                   json=[{"id": "b", "title": "roads of peru", V: 2}])
            assert posted.status_code == 200, posted.text
        finally:
            release.set()
            search.join(20)
        assert [d["id"] for d in answers[0]["response"]["docs"]] == ["a"]  # its searcher: before b
        monkeypatch.setattr(search_module, "FieldStats", real)
        now = http.get(url + "/select", params={"q": "title:roads", "fl": "id", "sort": "id asc", "wt": "json"}).json()
        assert [d["id"] for d in now["response"]["docs"]] == ["a", "b"]


def test_a_new_searcher_scores_as_one_that_counted_all_its_documents_afresh():
    """Each new searcher's statistics are the last ones counted, with the documents changed since
    counted again: after adds, overwrites and deletes (by id and by query), every score is the one
    a core holding only the final documents gives."""
    def scores(url, q):
        got = requests.get(url + "/select", params={"q": q, "fl": "id,score", "rows": 100, "wt": "json"}).json()
        return {d["id"]: d["score"] for d in got["response"]["docs"]}

    first = [{"id": "l%d" % i, "title": "roads %s" % ("of berlin " * (i % 4)), "abstract": "rivers" * (i % 2),
              V: 1} for i in range(40)]
    with SolrEmulator() as emu, SolrEmulator() as fresh:
        url, http = emu.core_url("layers"), requests.Session()
        assert http.post(url + "/update", params={"commit": "true"}, json=first).status_code == 200
        scores(url, "title:roads abstract:rivers")  # this searcher's statistics counted
        changes = [{"id": "l%d" % i, "title": "roads and rivers", V: 2} for i in range(0, 40, 3)]
        changes += [{"id": "n%d" % i, "title": "new roads %d" % i, V: 2} for i in range(5)]
        assert http.post(url + "/update", json=changes).status_code == 200
        assert http.post(url + "/update", params={"commit": "true", "solrsync_version": 3},
                         json={"delete": ["l1", "l5"]}).status_code == 200
        assert http.post(url + "/update", params={"commit": "true"},
                         json={"delete": {"query": "id:l7"}}).status_code == 200
        final = {d["id"]: d for d in first}
        final.update((d["id"], d) for d in changes)
        for gone in ("l1", "l5", "l7"):
            del final[gone]
        again = fresh.core_url("layers")
        assert requests.post(again + "/update", params={"commit": "true"}, json=list(final.values())).status_code == 200
        for q in ("title:roads abstract:rivers", "title:berlin", "{!dismax qf='title abstract'}roads rivers"):
            assert scores(url, q) == scores(again, q), q


def test_a_query_for_one_key_finds_what_a_scan_finds():
    """A query for one uniqueKey value is answered by the key (as Lucene's terms index), not by a
    scan of every document: the same documents as the scan a filter makes, none when no document
    has it, and every one of them where overwrite=false put several under the key."""
    def ids(url, **params):
        got = requests.get(url + "/select", params=dict(params, fl="id", rows=10, wt="json")).json()["response"]
        return got["numFound"], sorted(d["id"] for d in got["docs"])

    with SolrEmulator() as emu:
        url = emu.core_url("layers")
        docs = [{"id": "l%d" % i, "title": "layer %d" % i, V: 1} for i in range(50)]
        assert requests.post(url + "/update", params={"commit": "true"}, json=docs).status_code == 200
        for key in ("l7", "l49", "missing"):
            by_key = ids(url, q="{!term f=id}%s" % key)
            assert by_key == ids(url, q="*:*", fq="{!term f=id}%s" % key) == ids(url, q="id:%s" % key)
            assert by_key == ((1, [key]) if key != "missing" else (0, []))
        assert requests.post(url + "/update", params={"commit": "true", "overwrite": "false"},
                             json=[{"id": "l7", "title": "again", V: 2}]).status_code == 200
        assert ids(url, q="{!term f=id}l7") == ids(url, q="*:*", fq="{!term f=id}l7") == (2, ["l7", "l7"])
