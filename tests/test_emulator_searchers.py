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
