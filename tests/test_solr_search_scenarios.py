"""Differential search scenarios: what a project's own search code and tests ask of Solr (relevance
order, analysis, parsers, sorting, facets, highlighting, response formats), asked of the emulator
and, with SOLRSYNC_TEST_SOLR_URL naming a core served from tests/configsets/search (Solr 8/9) or
tests/configsets/search5 (Solr 5), of a real Solr; where versions differ the scenario says what each
answers, keyed on the major version the target reports (``search.major``).

    solr9.sh start PORT $PWD/tests/configsets/search/conf search        # or realsolr.sh (5.3.1): search5
    SOLRSYNC_TEST_SOLR_URL=http://127.0.0.1:PORT/solr/search pytest tests/test_solr_search_scenarios.py

With SOLRSYNC_TEST_SOLR_URL naming another core (the layers one of ``make test-solr``) they skip.
Orders are asserted exactly (ties in index order, as Lucene's doc ids); scores are not.
"""
import ast
import json
import os
import pathlib
import uuid
import xml.etree.ElementTree as ET

import pytest

from solrsync.testing.emulator import SolrEmulator
from solrsync.testing.emulator.versions import DEFAULT_MAJOR
from solrsync.testing.pytest_plugin import SolrTarget

CONFIGSETS = pathlib.Path(__file__).resolve().parent / "configsets"

DOCS = [
    {"id": "doc_1", "title": "The cat sat on the mat", "body": "A short doc about a cat", "kind": "pet",
     "maker": "acme", "tags": ["a", "b"], "price": 10.5, "pop": 5, "when": "2020-01-01T00:00:00Z",
     "name_sn": "running runners", "code_ws": "AB-12 cd"},
    {"id": "doc_2", "title": "Dogs and cats living together", "body": "doc doc", "kind": "pet", "maker": "bolt",
     "tags": ["b"], "price": 20.0, "pop": 3, "when": "2021-06-01T00:00:00Z", "name_sn": "generously generous"},
    {"id": "doc_3", "title": "Running with the dogs", "body": "nothing here about felines", "kind": "sport",
     "tags": ["c"], "price": 5.0, "pop": 9, "when": "2019-03-01T00:00:00Z", "name_sn": "ran runs"},
    {"id": "doc_4", "title": "Doc", "body": "doc", "kind": "misc", "maker": "acme", "price": 7.25,
     "when": "2022-01-01T00:00:00Z"},
    {"id": "doc_5", "title": "A television for the cat's room", "body": "tv stand with doc and docs about the doc",
     "kind": "misc", "tags": ["a", "c"], "pop": 1},
]


@pytest.fixture(scope="module")
def search_emulator(pytestconfig):
    major = pytestconfig.getoption("solrsync_solr_version") or DEFAULT_MAJOR
    conf = CONFIGSETS / ("search5" if major == 5 else "search") / "conf"
    with SolrEmulator(cores={"search": conf}, solr_version=major) as emulator:
        yield emulator


@pytest.fixture
def search(request):
    """The search core with DOCS committed: the emulator's, or the real one named (if it is one)."""
    url = os.environ.get("SOLRSYNC_TEST_SOLR_URL")
    if url:
        target = SolrTarget(url)
        if target.get("schema/fields/title_prefix")[0] != 200:
            pytest.skip("%s is not served from tests/configsets/search (see this module's docstring)" % url)
        target.clean()
    else:
        emulator = request.getfixturevalue("search_emulator")
        emulator.reset(cores=("search",))
        target = SolrTarget(emulator.core_url("search"), emulator)
    status, body = target.post("update", DOCS, commit="true")
    assert status == 200, body
    return target


def ids(search, **params):
    params.setdefault("fl", "id,score")
    status, body = search.get("select", **params)
    assert status == 200, body
    return [d["id"] for d in body["response"]["docs"]]


def by_version(search, five, modern):
    return five if search.major == 5 else modern


# ------------------------------------------------------------ relevance (issue 24, group 3)
RANKED = [
    # (params, order on 5.x (classic TF-IDF), order on 8.x/9.x (BM25)); None: the same as 5.x
    ({"q": "doc"}, ["doc_4", "doc_2", "doc_5", "doc_1"], None),
    ({"q": "title:cat^3 body:doc"}, ["doc_2", "doc_5", "doc_1", "doc_4"], None),
    ({"q": "(doc cat)^3 kind:misc"}, ["doc_4", "doc_1", "doc_5", "doc_2"], ["doc_1", "doc_4", "doc_5", "doc_2"]),
    ({"q": "body:doc^0.5 OR title:doc"}, ["doc_4", "doc_2", "doc_5", "doc_1"], None),
    ({"q": "doc^2 cat"}, ["doc_1", "doc_4", "doc_2", "doc_5"], None),
    ({"q": "tags:a tags:b"}, ["doc_1", "doc_2", "doc_5"], None),
    ({"q": "pop:[2 TO 6] title:cat"}, ["doc_1", "doc_2", "doc_5"], None),
    ({"q": "+title:cat body:doc"}, ["doc_2", "doc_5", "doc_1"], None),
    ({"q": "kind:pet OR kind:misc"}, ["doc_1", "doc_2", "doc_4", "doc_5"], None),
    ({"q": "doc cat", "defType": "edismax", "qf": "title^2 body"},
     ["doc_4", "doc_2", "doc_1", "doc_5"], ["doc_4", "doc_1", "doc_2", "doc_5"]),
    ({"q": "doc cat", "defType": "dismax", "qf": "title body^3", "tie": "0.1"},
     ["doc_1", "doc_2", "doc_5", "doc_4"], ["doc_1", "doc_4", "doc_2", "doc_5"]),
    ({"q": "cat doc dogs", "defType": "edismax", "qf": "title body", "mm": "2"}, ["doc_2", "doc_1", "doc_5"], None),
    ({"q": "{!dismax qf=body}doc"}, ["doc_4", "doc_2", "doc_5", "doc_1"], ["doc_2", "doc_4", "doc_5", "doc_1"]),
    ({"q": "doc about cat", "defType": "edismax", "qf": "body", "pf": "body^5"},
     ["doc_1", "doc_5", "doc_4", "doc_2", "doc_3"], ["doc_1", "doc_5", "doc_3", "doc_2", "doc_4"]),
    ({"q": "{!edismax qf=title pf=body}doc about"}, ["doc_4"], None),
    ({"q": '_query_:"{!dismax qf=title}cat" kind:sport'}, ["doc_3", "doc_1", "doc_2", "doc_5"], None),
    ({"q": "doc", "bq": "kind:misc^5"}, ["doc_4", "doc_2", "doc_5", "doc_1"], None),  # bq: dismax only
    ({"q": "doc", "defType": "edismax", "qf": "body", "bq": "kind:pet^5"},
     ["doc_2", "doc_1", "doc_4", "doc_5"], None),
    ({"q": "doc", "sort": "score asc, id desc"}, ["doc_1", "doc_5", "doc_2", "doc_4"], None),
    ({"q": "title_prefix:do"}, ["doc_4", "doc_3", "doc_2"], None),
    ({"q": "title:dog~1"}, ["doc_4", "doc_2", "doc_3"], ["doc_3", "doc_4", "doc_2"]),   # fuzzy: dog, doc
    ({"q": "title:cats~"}, ["doc_1", "doc_2", "doc_5"], None),
]


@pytest.mark.parametrize("params,five,modern", RANKED, ids=[p["q"] + ("|" + p.get("defType", "")) for p, _, _ in
                                                            RANKED])
def test_relevance_orders_results_as_solr(search, params, five, modern):
    assert ids(search, **params) == by_version(search, five, modern or five)


def test_scores_are_returned_with_max_score(search):
    status, body = search.get("select", q="doc", fl="id,score")
    docs = body["response"]["docs"]
    assert [d["score"] for d in docs] == sorted((d["score"] for d in docs), reverse=True)
    assert body["response"]["maxScore"] == docs[0]["score"]
    assert docs[0]["score"] > docs[-1]["score"] > 0


# ------------------------------------------------------------ analysis (group 4)
ANALYZED = [
    ({"q": "title:cats"}, ["doc_1", "doc_2", "doc_5"]),          # Porter: cats -> cat
    ({"q": "title:running"}, ["doc_3"]),                          # running -> run
    ({"q": "name_sn:run"}, ["doc_1", "doc_3"]),                   # Snowball English: running, runs -> run
    ({"q": "name_sn:generous"}, ["doc_2"]),
    ({"q": '"the cat"'}, ["doc_1"]),                              # stop word out of the phrase
    ({"q": 'title:"cat sat"~1'}, ["doc_1"]),
    ({"q": "tv"}, ["doc_5"]),                                     # query-time synonym tv, television
    ({"q": "television"}, ["doc_5"]),
    ({"q": "code_ws:AB-12"}, ["doc_1"]),                          # whitespace tokenizer keeps case and dashes
    ({"q": "code_ws:ab-12"}, []),
    ({"q": "cat dog", "q.op": "AND"}, []),
    ({"q": "cat doc", "q.op": "AND"}, ["doc_1"]),
    ({"q": "body:/fel.*/"}, ["doc_3"]),
    ({"q": "maker:*"}, ["doc_1", "doc_2", "doc_4"]),
    ({"q": "-kind:pet"}, ["doc_3", "doc_4", "doc_5"]),
    ({"q": "title:cat AND NOT kind:misc"}, ["doc_1", "doc_2"]),
    ({"q": "{!term f=kind}pet"}, ["doc_1", "doc_2"]),
    ({"q": "{!terms f=tags}a,c"}, ["doc_1", "doc_3", "doc_5"]),
    ({"q": "{!prefix f=kind}sp"}, ["doc_3"]),
    ({"q": "when:[2020-01-01T00:00:00Z TO *]"}, ["doc_1", "doc_2", "doc_4"]),
]


@pytest.mark.parametrize("params,expected", ANALYZED, ids=[p["q"] for p, _ in ANALYZED])
def test_analysis_from_the_configset(search, params, expected):
    assert ids(search, **params) == expected


def test_an_unemulated_analysis_component_is_refused_not_approximated(search):
    search.need_emulator("an emulator-only answer")
    status, body = search.get("select", q="sound:cat")
    assert status == 400
    assert body["error"]["msg"] == "solrsync emulator: analysis component 'solr.DoubleMetaphoneFilterFactory' " \
                                   "is not emulated"


@pytest.mark.parametrize("params,feature", [
    ({"q": "{!join from=id to=id}cat"}, "the {!join} query parser"),
    ({"q": "cat", "defType": "edismax", "qf": "title", "bf": "pop"}, "the bf parameter of edismax"),
    ({"q": "cat", "mlt": "true"}, "more-like-this (mlt)"),
    ({"q": "cat", "group": "true", "group.func": "pop"}, "group.func in result grouping"),
    ({"q": "cat", "stats": "true", "stats.field": "{!percentiles='50'}price"},
     "the stats.field local parameter percentiles"),
    ({"q": "cat", "fl": "id,[explain]"}, "the document transformer [explain]"),
    ({"q": "cat", "fl": "id,[docid]"}, "the document transformer [docid]"),
    ({"q": "*:*", "sort": "div(pop,2) asc"}, "sorting by a function (div(pop,2))"),
])
def test_what_is_not_emulated_answers_400_never_a_silent_200(search, params, feature):
    search.need_emulator("an emulator-only answer")
    status, body = search.get("select", **params)
    assert (status, body["error"]["msg"]) == (400, "solrsync emulator: %s is not emulated" % feature)


# ------------------------------------------------------------ sorting and paging (group 9, 8)
SORTED = [
    ({"sort": "pop asc,id asc"}, ["doc_4", "doc_5", "doc_2", "doc_1", "doc_3"]),   # missing number: as 0
    ({"sort": "price desc"}, ["doc_2", "doc_1", "doc_4", "doc_3", "doc_5"]),
    ({"sort": "when asc,id asc"}, ["doc_5", "doc_3", "doc_1", "doc_2", "doc_4"]),
    ({"sort": "maker asc,id asc"}, ["doc_3", "doc_5", "doc_1", "doc_4", "doc_2"]),  # missing string: first
    ({"sort": "maker desc,id asc"}, ["doc_2", "doc_1", "doc_4", "doc_3", "doc_5"]),
    ({"sort": "kind asc,id desc"}, ["doc_5", "doc_4", "doc_2", "doc_1", "doc_3"]),
    ({"sort": "title asc"}, ["doc_1", "doc_2", "doc_5", "doc_4", "doc_3"]),   # a text field: its smallest term
    ({"sort": "title desc"}, ["doc_3", "doc_4", "doc_1", "doc_2", "doc_5"]),
    ({"sort": "body asc"}, ["doc_1", "doc_3", "doc_5", "doc_2", "doc_4"]),
]


@pytest.mark.parametrize("params,expected", SORTED, ids=[p["sort"] for p, _ in SORTED])
def test_sorting(search, params, expected):
    assert ids(search, q="*:*", **params) == expected


def test_sorting_on_a_multivalued_field(search):
    status, body = search.get("select", q="*:*", sort="tags asc", fl="id")
    if search.major == 5:
        assert status == 400 and "can not sort on multivalued field: tags" in body["error"]["msg"]
    else:  # docValues: by the smallest value (the largest when desc)
        assert [d["id"] for d in body["response"]["docs"]] == ["doc_1", "doc_5", "doc_2", "doc_3", "doc_4"]


@pytest.mark.parametrize("param", ["rows", "start"])
def test_negative_rows_or_start_is_refused(search, param):
    status, body = search.get("select", q="doc", **{param: "-1"})
    assert (status, body["error"]["msg"]) == (400, "'%s' parameter cannot be negative" % param)


# ------------------------------------------------------------ facets (group 5); answers read from Solr 9.4 and 5.3.1
FACETED = [  # (params, what Solr 5.3.1, 8.11 and 9.4 answer)
    ({'f.kind.facet.missing': 'true',
      'f.title.facet.limit': 3,
      'facet': 'true',
      'facet.field': ['kind', 'title', 'price', 'flag', 'when', 'pop'],
      'facet.mincount': 1,
      'facet.query': ['pop:[1 TO 5]', '{!key=cheap}price:[* TO 8]'],
      'q': '*:*'},
     {'facet_counts': {'facet_fields': {'flag': [],
                                        'kind': ['misc', 2, 'pet', 2, 'sport', 1, None, 0],
                                        'pop': ['1', 1, '3', 1, '5', 1, '9', 1],
                                        'price': ['5.0', 1, '7.25', 1, '10.5', 1, '20.0', 1],
                                        'title': ['cat', 3, 'dog', 2, 'doc', 1],
                                        'when': ['2019-03-01T00:00:00Z', 1, '2020-01-01T00:00:00Z', 1,
                                                 '2021-06-01T00:00:00Z', 1, '2022-01-01T00:00:00Z', 1]},
                       'facet_queries': {'cheap': 2, 'pop:[1 TO 5]': 3}}}),
    ({'f.when.facet.range.end': '2023-01-01T00:00:00Z',
      'f.when.facet.range.gap': '+2YEARS',
      'f.when.facet.range.start': '2019-01-01T00:00:00Z',
      'facet': 'true',
      'facet.range': ['pop', 'when'],
      'facet.range.end': 10,
      'facet.range.gap': 4,
      'facet.range.other': 'all',
      'facet.range.start': 0,
      'q': '*:*'},
     {'facet_counts': {'facet_ranges': {'pop': {'after': 0,
                                                'before': 0,
                                                'between': 4,
                                                'counts': ['0', 2, '4', 1, '8', 1],
                                                'end': 12,
                                                'gap': 4,
                                                'start': 0},
                                        'when': {'after': 0,
                                                 'before': 0,
                                                 'between': 4,
                                                 'counts': ['2019-01-01T00:00:00Z', 2, '2021-01-01T00:00:00Z', 2],
                                                 'end': '2023-01-01T00:00:00Z',
                                                 'gap': '+2YEARS',
                                                 'start': '2019-01-01T00:00:00Z'}}}}),
    ({'facet': 'true', 'facet.pivot': 'kind,tags', 'q': '*:*'},
     {'facet_counts': {'facet_pivot': {'kind,tags': [{'count': 2,
                                                      'field': 'kind',
                                                      'pivot': [{'count': 1, 'field': 'tags', 'value': 'a'},
                                                                {'count': 1, 'field': 'tags', 'value': 'c'}],
                                                      'value': 'misc'},
                                                     {'count': 2,
                                                      'field': 'kind',
                                                      'pivot': [{'count': 2, 'field': 'tags', 'value': 'b'},
                                                                {'count': 1, 'field': 'tags', 'value': 'a'}],
                                                      'value': 'pet'},
                                                     {'count': 1,
                                                      'field': 'kind',
                                                      'pivot': [{'count': 1, 'field': 'tags', 'value': 'c'}],
                                                      'value': 'sport'}]}}}),
    ({'facet': 'true', 'facet.field': ['kind', 'tags'], 'q': 'cat'},
     {'facet_counts': {'facet_fields': {'kind': ['pet', 1, 'misc', 0, 'sport', 0],
                                        'tags': ['a', 1, 'b', 1, 'c', 0]}}}),
    ({'facet': 'true', 'facet.field': ['{!ex=k}kind', 'tags'], 'fq': '{!tag=k}kind:pet', 'q': '*:*'},
     {'facet_counts': {'facet_fields': {'kind': ['misc', 2, 'pet', 2, 'sport', 1],
                                        'tags': ['b', 2, 'a', 1, 'c', 0]}}}),
    ({'facet': 'true',
      'facet.range': 'price',
      'facet.range.end': 15,
      'facet.range.gap': 5,
      'facet.range.hardend': 'true',
      'facet.range.include': 'upper',
      'facet.range.start': 0,
      'q': '*:*'},
     {'facet_counts': {'facet_ranges': {'price': {'counts': ['0.0', 1, '5.0', 1, '10.0', 1],
                                                  'end': 15.0,
                                                  'gap': 5.0,
                                                  'start': 0.0}}}}),
    ({'facet': 'true',
      'facet.field': 'tags',
      'facet.limit': 2,
      'facet.offset': 1,
      'facet.sort': 'index',
      'q': '*:*'},
     {'facet_counts': {'facet_fields': {'tags': ['b', 2, 'c', 2]}}}),
    ({'json.facet': '{"kinds": {"type": "terms", "field": "kind", "facet": {"t": {"type": "terms", "field": '
                    '"tags"}}}, "cheap": {"type": "query", "q": "price:[* TO 8]"}, "pops": {"type": "range", '
                    '"field": "pop", "start": 0, "end": 10, "gap": 5}}',
      'q': '*:*'},
     {'facets': {'cheap': {'count': 2},
                 'count': 5,
                 'kinds': {'buckets': [{'count': 2,
                                        't': {'buckets': [{'count': 1, 'val': 'a'}, {'count': 1, 'val': 'c'}]},
                                        'val': 'misc'},
                                       {'count': 2,
                                        't': {'buckets': [{'count': 2, 'val': 'b'}, {'count': 1, 'val': 'a'}]},
                                        'val': 'pet'},
                                       {'count': 1,
                                        't': {'buckets': [{'count': 1, 'val': 'c'}]},
                                        'val': 'sport'}]},
                 'pops': {'buckets': [{'count': 2, 'val': 0}, {'count': 2, 'val': 5}]}}}),
    ({'facet': 'true', 'facet.field': 'tags', 'facet.prefix': 'b', 'q': '*:*'},
     {'facet_counts': {'facet_fields': {'tags': ['b', 2]}}}),
]


@pytest.mark.parametrize("params,expected", FACETED, ids=["facets%d" % i for i in range(len(FACETED))])
def test_facets(search, params, expected):
    status, body = search.get("select", rows=0, **params)
    assert status == 200, body
    if "facet_counts" in expected:  # the sections that hold something (5.x adds an empty facet_dates)
        got = {k: v for k, v in body["facet_counts"].items() if v}
        assert got == expected["facet_counts"]
    else:
        assert body["facets"] == expected["facets"]


# ------------------------------------------------------------ highlighting (group 6)
HIGHLIGHTED = [  # (params, 5.3.1's and 8.11's answer (the original highlighter), 9.4's (unified) where it differs)
    ({'hl.fl': 'title,body', 'q': 'cat'},
     {'doc_1': {'body': ['A short doc about a <em>cat</em>'], 'title': ['The <em>cat</em> sat on the mat']}},
     None),
    ({'hl.fl': 'title', 'q': 'title:"cat sat"'},
     {'doc_1': {'title': ['The <em>cat</em> <em>sat</em> on the mat']}},
     {'doc_1': {'title': ['The <em>cat sat</em> on the mat']}}),
    ({'hl.fl': 'body', 'q': 'doc'},
     {'doc_1': {'body': ['A short <em>doc</em> about a cat']},
 'doc_2': {'body': ['<em>doc</em> <em>doc</em>']},
 'doc_4': {'body': ['<em>doc</em>']},
 'doc_5': {'body': ['tv stand with <em>doc</em> and docs about the <em>doc</em>']}},
     None),
    ({'q': 'body:doc'},
     {'doc_1': {}, 'doc_2': {}, 'doc_4': {}, 'doc_5': {}},
     None),
    ({'hl.fl': 'title', 'hl.simple.post': ']', 'hl.simple.pre': '[', 'q': 'title:dogs'},
     {'doc_2': {'title': ['[Dogs] and cats living together']}, 'doc_3': {'title': ['Running with the [dogs]']}},
     None),
    ({'hl.fl': 'title', 'hl.tag.post': '</b>', 'hl.tag.pre': '<b>', 'q': 'title:dogs'},
     {'doc_2': {'title': ['<em>Dogs</em> and cats living together']},
 'doc_3': {'title': ['Running with the <em>dogs</em>']}},
     {'doc_2': {'title': ['<b>Dogs</b> and cats living together']},
 'doc_3': {'title': ['Running with the <b>dogs</b>']}}),
    ({'hl.fl': 'title,name_sn', 'q': 'running'},
     {'doc_3': {}},
     None),
    ({'hl.fl': 'kind,title', 'q': 'kind:pet'},
     {'doc_1': {'kind': ['<em>pet</em>']}, 'doc_2': {'kind': ['<em>pet</em>']}},
     None),
    ({'hl.fl': '*', 'q': 'cat'},
     {'doc_1': {'body': ['A short doc about a <em>cat</em>'], 'title': ['The <em>cat</em> sat on the mat']}},
     None),
    ({'hl.fl': 'body', 'hl.requireFieldMatch': 'true', 'q': 'doc'},
     {'doc_1': {}, 'doc_2': {}, 'doc_4': {}, 'doc_5': {}},
     None),
    ({'hl.fl': 'title,body', 'hl.requireFieldMatch': 'true', 'q': 'title:cat'},
     {'doc_1': {'title': ['The <em>cat</em> sat on the mat']},
 'doc_2': {'title': ['Dogs and <em>cats</em> living together']},
 'doc_5': {'title': ["A television for the <em>cat's</em> room"]}},
     None),
]


@pytest.mark.parametrize("params,five,modern", HIGHLIGHTED, ids=["hl%d" % i for i in range(len(HIGHLIGHTED))])
def test_highlighting(search, params, five, modern):
    status, body = search.get("select", hl="true", fl="id", **params)
    assert status == 200, body
    assert body["highlighting"] == (five if search.major < 9 else modern or five)


# ------------------------------------------------------------ response writers, values, parameters (group 10, 8)
def raw(search, path="select", **params):
    resp = search.http.get("%s/%s" % (search.url, path), params=params, timeout=30)
    return resp.status_code, resp.text


def test_default_writer_is_the_versions(search):
    status, text = raw(search, q="id:doc_1")
    assert status == 200
    if search.major == 5:
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<response>')
    else:
        assert json.loads(text)["response"]["numFound"] == 1


def test_xml_writer_structure_and_types(search):
    status, text = raw(search, q="id:doc_1", wt="xml", fl="id,title,tags,price,pop,when,flag,score,_version_")
    assert status == 200
    root = ET.fromstring(text)
    result = root.find("result")
    assert (result.get("name"), result.get("numFound"), result.get("start")) == ("response", "1", "0")
    assert float(result.get("maxScore")) > 0
    assert (result.get("numFoundExact") == "true") == (search.major >= 8)
    doc = result.find("doc")
    assert [(el.tag, el.get("name")) for el in doc] == [
        ("str", "id"), ("str", "title"), ("arr", "tags"), ("float", "price"), ("int", "pop"), ("date", "when"),
        ("long", "_version_"), ("float", "score")]
    assert [s.text for s in doc.find("arr")] == ["a", "b"]
    assert root.find("lst").get("name") == "responseHeader"


def test_facets_in_xml_are_named_lists(search):
    status, text = raw(search, q="id:doc_1", wt="xml", fl="id", facet="true", **{"facet.field": "kind"})
    kinds = ET.fromstring(text).find("lst[@name='facet_counts']/lst[@name='facet_fields']/lst[@name='kind']")
    assert [(el.tag, el.get("name"), el.text) for el in kinds] == [("int", "pet", "1"), ("int", "misc", "0"),
                                                                  ("int", "sport", "0")]


def test_python_and_ruby_writers(search):
    status, text = raw(search, q="id:doc_1", wt="python", fl="id,tags,price,pop")
    body = ast.literal_eval(text)
    assert body["response"]["docs"] == [{"id": "doc_1", "tags": ["a", "b"], "price": 10.5, "pop": 5}]
    status, text = raw(search, q="id:doc_1", wt="ruby", fl="id")
    assert text.replace("\n", "").replace(" ", "").startswith("{'responseHeader'=>{'status'=>0,")


def test_nan_and_infinities_in_each_writer(search):
    """A stored NaN or infinite float: JSON (and PHP) write it as a string ("NaN", "Infinity",
    "-Infinity"), python and ruby in their own syntax, XML and CSV as Java's text. The same code in
    Solr's writers from 5.x to 9.x (TextResponseWriter, NaNFloatWriter); passes on real 5.3.1, 8.11.2, 9.4.0."""
    docs = [{"id": "n1", "price": "NaN"}, {"id": "n2", "price": "Infinity"}, {"id": "n3", "price": "-Infinity"}]
    assert search.post("update", docs, commit="true")[0] == 200
    query = dict(q="id:n*", fl="id,price", sort="id asc")
    got = search.get("select", **query)[1]["response"]["docs"]
    assert got == [{"id": "n1", "price": "NaN"}, {"id": "n2", "price": "Infinity"}, {"id": "n3", "price": "-Infinity"}]
    text = raw(search, wt="python", **query)[1]
    assert "'price':float('NaN')" in text.replace(" ", "") and "'price':-float('Inf')" in text.replace(" ", "")
    text = raw(search, wt="ruby", **query)[1].replace(" ", "")
    assert "'price'=>(0.0/0.0)" in text and "'price'=>(1.0/0.0)" in text and "'price'=>-(1.0/0.0)" in text
    assert "'price'=>'NaN'" in raw(search, wt="php", **query)[1].replace(" ", "")
    prices = ET.fromstring(raw(search, wt="xml", **query)[1]).findall("result/doc/float[@name='price']")
    assert [p.text for p in prices] == ["NaN", "Infinity", "-Infinity"]
    assert raw(search, wt="csv", **query)[1] == "id,price\nn1,NaN\nn2,Infinity\nn3,-Infinity\n"


def test_json_is_compact_unless_indented(search):
    # 8.x/9.x indent by default; 5.x whenever ``indent`` is there, even indent=false
    status, text = raw(search, q="id:doc_1", wt="json", fl="id", **({"indent": "false"} if search.major >= 8 else {}))
    assert '"numFound":1' in text and '"numFound": 1' not in text and "\n " not in text


def test_echo_params(search):
    status, body = search.get("select", q="doc", fl="id", echoParams="explicit")
    assert body["responseHeader"]["params"]["q"] == "doc"
    assert "params" not in search.get("select", q="doc", fl="id")[1]["responseHeader"]


def test_values_are_coerced_as_solr_does(search):
    docs = [{"id": "v1", "flag": "yes", "pop": 2.7}, {"id": "v2", "flag": "on", "price": 3},
            {"id": "v3", "flag": "TRUE"}, {"id": "v4", "flag": "1"}, {"id": "v5", "flag": "false"}]
    for doc in docs:
        assert search.post("update", [doc], commit="true")[0] == 200
    got = search.get("select", q="id:v*", fl="id,flag,pop,price", sort="id asc")[1]["response"]["docs"]
    assert got == [{"id": "v1", "flag": False, "pop": 2}, {"id": "v2", "flag": False, "price": 3.0},
                   {"id": "v3", "flag": True}, {"id": "v4", "flag": True}, {"id": "v5", "flag": False}]
    status, body = search.post("update", [{"id": "v6", "pop": "2.7"}])
    assert status == 400 and 'For input string: "2.7"' in body["error"]["msg"]


def test_stored_copy_field_destinations_are_returned(search):
    doc = search.get("select", q="id:doc_1", fl="*")[1]["response"]["docs"][0]
    assert doc["title_copy"] == ["The cat sat on the mat"]
    assert "text" not in doc  # not stored


def test_overwrite_false_keeps_both_documents(search):
    assert search.post("update", [{"id": "doc_1", "title": "dup"}], commit="true", overwrite="false")[0] == 200
    got = search.get("select", q="id:doc_1", fl="id,title")[1]["response"]
    assert got["numFound"] == 2 and [d["title"] for d in got["docs"]] == ["The cat sat on the mat", "dup"]
    assert search.get("get", id="doc_1", fl="id,title")[1]["doc"] == {"id": "doc_1", "title": "The cat sat on the mat"}


def test_no_q_finds_nothing(search):
    status, body = search.get("select", rows=0)
    assert status == 200 and body["response"]["numFound"] == 0


def test_no_score_max_score_is_zero(search):
    assert search.get("select", q="nothingmatches", fl="id,score")[1]["response"]["maxScore"] == 0.0


def test_parameters_in_a_get_body(search):
    """pysolr's SolrCoreAdmin sends its parameters in the body of a GET (form-encoded, so said);
    without that Content-Type Solr does not read them."""
    url = "%s/admin/cores" % search.base
    bare = search.http.request("GET", url, params={"wt": "json"}, data="action=STATUS&core=nosuch", timeout=30)
    assert "search" in bare.json()["status"]
    form = search.http.request("GET", url, params={"wt": "json"}, data="action=STATUS&core=nosuch", timeout=30,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.json()["status"] == {"nosuch": {}}


def test_an_unemulated_writer_is_refused(search):
    search.need_emulator("an emulator-only answer")
    status, text = raw(search, q="doc", wt="javabin")
    assert status == 400 and json.loads(text)["error"]["msg"] == \
        "solrsync emulator: the wt=javabin response writer is not emulated"
    status, text = raw(search, q="doc", wt="csv")
    assert status == 400 and json.loads(text)["error"]["msg"] == \
        "solrsync emulator: wt=csv without an explicit fl (Solr orders the columns of a glob by hash) is not emulated"


def test_csv_writer(search):
    assert search.post("update", [{"id": "q1", "title": 'He said "hi", then left', "tags": ["x,y", "z"]}],
                       commit="true")[0] == 200
    status, text = raw(search, q="*:*", wt="csv", fl="id,title,tags,price,flag,when", sort="id asc")
    assert status == 200
    assert text == (
        'id,title,tags,price,flag,when\n'
        'doc_1,The cat sat on the mat,"a,b",10.5,,2020-01-01T00:00:00Z\n'
        'doc_2,Dogs and cats living together,b,20.0,,2021-06-01T00:00:00Z\n'
        'doc_3,Running with the dogs,c,5.0,,2019-03-01T00:00:00Z\n'
        'doc_4,Doc,,7.25,,2022-01-01T00:00:00Z\n'
        'doc_5,A television for the cat\'s room,"a,c",,,\n'
        'q1,"He said ""hi"", then left","x\\,y,z",,,\n')


def test_pysolr_core_admin_is_heard(search):
    """pysolr's SolrCoreAdmin: its STATUS of one core is that core's, not every core's."""
    import pysolr
    answer = pysolr.SolrCoreAdmin("%s/admin/cores" % search.base).status(core="nosuch")  # 5.x: XML
    if search.major == 5:
        status = ET.fromstring(answer).find("lst[@name='status']")
        assert [el.get("name") for el in status] == ["nosuch"]
    else:
        assert json.loads(answer)["status"] == {"nosuch": {}}


@pytest.mark.parametrize("handler", ["admin/luke", "mlt", "update/csv", "analysis/field", "terms"])
def test_unemulated_handlers_answer_400(search, handler):
    search.need_emulator("an emulator-only answer")
    status, body = search.get(handler, q="cat")
    assert (status, body["error"]["msg"]) == (400, "solrsync emulator: the /%s request handler is not emulated"
                                              % handler)


# ------------------------------------------------------------ nested documents (group 2)
BLOCKS = [{"id": "p1", "kind": "book", "title": "Parent one", "_childDocuments_": [
              {"id": "c1", "kind": "chapter", "body": "alpha beta alpha"},
              {"id": "c2", "kind": "chapter", "body": "gamma alpha"}]},
          {"id": "p2", "kind": "book", "title": "Parent two", "_childDocuments_": [
              {"id": "c3", "kind": "chapter", "body": "alpha"}]},
          {"id": "p3", "kind": "book", "title": "Lonely one"}]
NESTED = [
    ({"q": "kind:(book OR chapter)"}, ["c1", "c2", "p1", "c3", "p2", "p3"]),   # children first, in block order
    ({"q": "{!parent which=kind:book}body:alpha"}, ["p1", "p2"]),
    ({"q": "{!parent which=kind:book score=max}body:alpha"}, (["p2", "p1"], ["p1", "p2"])),  # 8/9: a float tie
    ({"q": "{!parent which=kind:book score=total}body:alpha"}, ["p1", "p2"]),
    ({"q": "{!child of=kind:book}title:one"}, ["c1", "c2"]),
    ({"q": "_root_:p1"}, ["c1", "c2", "p1"]),
    ({"q": "*:*", "fq": ["{!parent which=kind:book}body:gamma"]}, ["p1"]),
]


@pytest.fixture
def blocks(search):
    status, body = search.post("update", BLOCKS, commit="true")
    assert status == 200, body
    return search


@pytest.mark.parametrize("params,expected", NESTED, ids=[p["q"] + str(p.get("fq", "")) for p, _ in NESTED])
def test_nested_documents(blocks, params, expected):
    if isinstance(expected, tuple):
        expected = by_version(blocks, *expected)
    assert ids(blocks, **params) == expected


def test_parent_scores_none_by_default_and_children_score_as_their_parent(blocks):
    docs = blocks.get("select", q="{!parent which=kind:book}body:alpha", fl="id,score")[1]["response"]["docs"]
    assert [d["score"] for d in docs] == [0.0, 0.0]
    docs = blocks.get("select", q="{!child of=kind:book}title:one", fl="id,score")[1]["response"]["docs"]
    assert docs[0]["score"] == docs[1]["score"] > 0


def test_a_parent_replaced_takes_its_block_along_and_deleting_it_as_each_version_does(blocks):
    block = [{"id": "p1", "kind": "book", "title": "Parent one again",
              "_childDocuments_": [{"id": "c9", "kind": "chapter", "body": "alpha"}]}]
    assert blocks.post("update", block, commit="true")[0] == 200
    assert sorted(ids(blocks, q="kind:(book OR chapter)")) == ["c3", "c9", "p1", "p2", "p3"]
    assert blocks.post("update", {"delete": {"id": "p1"}}, commit="true")[0] == 200
    left = sorted(ids(blocks, q="kind:(book OR chapter)"))
    # 8.0 on, deleting a root deletes its block; 5.x leaves the children
    assert left == (["c3", "c9", "p2", "p3"] if blocks.major == 5 else ["c3", "p2", "p3"])


# ------------------------------------------------------------ analyzers added through the Schema API
def test_a_field_type_added_with_its_analyzer_analyzes(search):
    if search.major == 5:
        pytest.skip("tests/configsets/search5 keeps a classic (immutable) schema.xml")
    suffix = uuid.uuid4().hex[:8]
    kind, field = "text_stem_" + suffix, "stem_" + suffix
    status, body = search.post("schema", {
        "add-field-type": {"name": kind, "class": "solr.TextField", "analyzer": {
            "tokenizer": {"class": "solr.StandardTokenizerFactory"},
            "filters": [{"class": "solr.LowerCaseFilterFactory"}, {"class": "solr.PorterStemFilterFactory"}]}},
        "add-field": {"name": field, "type": kind, "stored": True}})
    assert status == 200, body
    assert search.post("update", [{"id": "s1", field: "Runs quickly"}], commit="true")[0] == 200
    assert ids(search, q="%s:running" % field) == ["s1"]


def test_query_time_synonyms_score_as_each_version(search):
    """tv, television (no document says television): 6.0 on one SynonymQuery (frequencies summed,
    the commonest term's idf), before that a disjunction of the two terms, weighed against doc."""
    more = [{"id": "s1", "body": "tv tv words"}, {"id": "s2", "body": "doc"},
            {"id": "s3", "body": "tv and doc and more words here"}, {"id": "s4", "body": "a tv"}]
    assert search.post("update", more, commit="true")[0] == 200
    got = ids(search, q="body:tv body:doc")
    assert got == by_version(search, FIVE_SYNONYMS, MODERN_SYNONYMS), got


FIVE_SYNONYMS = ["s3", "doc_5", "s4", "s1", "doc_4", "s2", "doc_2", "doc_1"]
MODERN_SYNONYMS = ["s1", "s4", "s3", "doc_5", "doc_2", "doc_4", "s2", "doc_1"]


def test_json_facet_aggregations(search):
    spec = {"avg_price": "avg(price)", "sum_pop": "sum(pop)", "min_p": "min(price)", "max_w": "max(when)",
            "u": "unique(kind)",
            "kinds": {"type": "terms", "field": "kind", "facet": {"s": "sum(price)", "m": "max(pop)"}},
            "empty": {"type": "query", "q": "kind:nothing", "facet": {"a": "avg(price)"}}}
    status, body = search.get("select", q="*:*", rows=0, **{"json.facet": json.dumps(spec)})
    assert status == 200, body
    if search.major == 5:  # min and max as doubles, a date in epoch milliseconds
        top, m = {"min_p": 5.0, "max_w": 1640995200000.0}, [1.0, 5.0, 9.0]
    else:
        top, m = {"min_p": 5.0, "max_w": "2022-01-01T00:00:00Z"}, [1, 5, 9]
    assert body["facets"] == dict(top, count=5, avg_price=10.6875, sum_pop=18.0, u=3, empty={"count": 0}, kinds={
        "buckets": [{"val": "misc", "count": 2, "s": 7.25, "m": m[0]}, {"val": "pet", "count": 2, "s": 30.5, "m": m[1]},
                    {"val": "sport", "count": 1, "s": 5.0, "m": m[2]}]})


def test_stats_component(search):
    status, body = search.get("select", q="*:*", rows=0, stats="true",
                              **{"stats.field": ["price", "pop", "kind", "{!key=p2}price"]})
    assert status == 200, body
    price = {"min": 5.0, "max": 20.0, "count": 4, "missing": 1, "sum": 42.75, "sumOfSquares": 587.8125,
             "mean": 10.6875, "stddev": pytest.approx(6.606105130861906)}
    assert body["stats"]["stats_fields"] == {
        "price": price, "p2": price, "kind": {"min": "misc", "max": "sport", "count": 5, "missing": 0},
        "pop": {"min": 1.0, "max": 9.0, "count": 4, "missing": 1, "sum": 18.0, "sumOfSquares": 116.0, "mean": 4.5,
                "stddev": pytest.approx(3.415650255319866)}}
    when = search.get("select", q="*:*", rows=0, stats="true", **{"stats.field": "when"})[1]
    got = when["stats"]["stats_fields"]["when"]
    assert (got["min"], got["max"], got["mean"], got["count"]) == (
        "2019-03-01T00:00:00Z", "2022-01-01T00:00:00Z", "2020-08-23T12:00:00Z", 4)
    if search.major == 5:
        assert (got["sum"], got["sumOfSquares"], got["stddev"]) == ("2172-07-30T00:00:00Z", -6.428433105289216e18,
                                                                   "NaN")
    else:
        assert (got["sum"], got["stddev"]) == (6.392736e12, pytest.approx(4.093588477607833e10))


# ------------------------------------------------------------ result grouping (group 7)
def test_grouping_by_field_and_query(search):
    status, body = search.get("select", q="*:*", fl="id,score", sort="id desc", group="true",
                              **{"group.field": "kind", "group.limit": 2, "group.ngroups": "true",
                                 "group.query": "pop:[1 TO 5]"})
    assert status == 200, body
    kind = body["grouped"]["kind"]
    assert (kind["matches"], kind["ngroups"]) == (5, 3)
    assert [(g["groupValue"], g["doclist"]["numFound"], [d["id"] for d in g["doclist"]["docs"]])
            for g in kind["groups"]] == [("misc", 2, ["doc_5", "doc_4"]), ("sport", 1, ["doc_3"]),
                                         ("pet", 2, ["doc_2", "doc_1"])]
    query = body["grouped"]["pop:[1 TO 5]"]
    assert (query["matches"], query["doclist"]["numFound"], [d["id"] for d in query["doclist"]["docs"]]) == (
        5, 3, ["doc_5", "doc_2"])
    assert "response" not in body


def test_grouping_pages_groups_and_ranks_them_by_their_best_document(search):
    body = search.get("select", q="doc", fl="id", group="true", rows=2, start=1, **{"group.field": "maker"})[1]
    groups = body["grouped"]["maker"]["groups"]
    assert [(g["groupValue"], [d["id"] for d in g["doclist"]["docs"]]) for g in groups] == [
        ("bolt", ["doc_2"]), (None, ["doc_5"])]


def test_grouping_simple_and_main(search):
    body = search.get("select", q="doc", fl="id", group="true",
                      **{"group.field": "kind", "group.format": "simple", "group.sort": "id asc"})[1]
    simple = body["grouped"]["kind"]
    assert (simple["matches"], simple["doclist"]["numFound"], [d["id"] for d in simple["doclist"]["docs"]]) == (
        4, 4, ["doc_4", "doc_1"])
    body = search.get("select", q="*:*", fl="id", group="true", rows=3,
                      **{"group.field": "maker", "group.main": "true"})[1]
    assert (body["response"]["numFound"], [d["id"] for d in body["response"]["docs"]]) == (
        5, ["doc_1", "doc_2", "doc_3"])
    status, body = search.get("select", q="*:*", group="true", **{"group.field": "tags"})
    assert (status, body["error"]["msg"]) == (400, "can not use FieldCache on multivalued field: tags")


def test_child_transformer(blocks):
    docs = blocks.get("select", q="kind:book", fl="id,[child parentFilter=kind:book]")[1]["response"]["docs"]
    if blocks.major == 5:  # every stored field of the children
        kids = ([{"id": "c1", "kind": "chapter", "body": "alpha beta alpha"},
                 {"id": "c2", "kind": "chapter", "body": "gamma alpha"}],
                [{"id": "c3", "kind": "chapter", "body": "alpha"}])
    else:  # the request's fl
        kids = [{"id": "c1"}, {"id": "c2"}], [{"id": "c3"}]
    assert docs == [{"id": "p1", "_childDocuments_": kids[0]}, {"id": "p2", "_childDocuments_": kids[1]},
                    {"id": "p3"}]
    fl = "id,title,[child parentFilter=kind:book childFilter=body:gamma limit=5 fl=id,body]"
    docs = blocks.get("select", q="kind:book", fl=fl)[1]["response"]["docs"]
    c2 = {"id": "c2", "body": "gamma alpha"} if blocks.major >= 8 else \
        {"id": "c2", "kind": "chapter", "body": "gamma alpha"}
    assert docs == [{"id": "p1", "title": "Parent one", "_childDocuments_": [c2]},
                    {"id": "p2", "title": "Parent two"}, {"id": "p3", "title": "Lonely one"}]
