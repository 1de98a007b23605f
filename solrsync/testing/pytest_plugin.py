"""pytest fixtures: a clean Solr core per test, on the emulator or on the real Solr named by
``SOLRSYNC_TEST_SOLR_URL`` (a core URL such as ``http://127.0.0.1:8983/solr/layers``); ``solrcloud``:
a clean collection behind the alias ``layers``, on the emulator in SolrCloud mode or on the real
SolrCloud named by ``SOLRSYNC_TEST_SOLRCLOUD_URL`` (an alias URL).

A test marked ``solr`` (a differential scenario) runs twice, its ``solr`` being each kind of
target in turn: ``[standalone]`` (as ``solr``) and ``[cloud]`` (as ``solrcloud``). With one of the
two variables set, only the real Solr it names is tested (the other kind is skipped).

Loaded automatically once solrsync is installed (a ``pytest11`` entry point), so projects using
solrsync get the same ``solr`` fixture. The emulator's CoreAdmin CREATE ``configSet=NAME`` reads the
configsets (``NAME/conf``) in the directory named by the ini option ``solrsync_configsets`` or
``--solrsync-configsets`` (default: the ones solrsync ships); the emulator answers as the Solr
major version ``solrsync_solr_version`` / ``--solrsync-solr-version`` names (5, 8 or 9; default 9).
"""
import json
import os
import uuid

import pytest
import requests

from .emulator import SolrEmulator
from .emulator.cloud import route_hash
from .emulator.versions import DEFAULT_MAJOR, SPEC

TARGETS = {"standalone": ("SOLRSYNC_TEST_SOLR_URL", "solr_emulator"),
           "cloud": ("SOLRSYNC_TEST_SOLRCLOUD_URL", "solrcloud_emulator")}


class SolrTarget:
    """The Solr core a test talks to, with small raw-HTTP helpers for asserting on the wire."""

    def __init__(self, url, emulator=None):
        self.url = url.rstrip("/")
        self.base, _, self.core = self.url.rpartition("/")
        self.emulator = emulator
        self.http = requests.Session()

    @property
    def major(self):
        """The major version the target reports (/admin/info/system): scenarios where Solr versions
        differ state what each does, keyed on it. The emulator answers as the version it is told
        (``--solrsync-solr-version``: 5, 8 or 9, default 9) and reports it."""
        if "_major" not in self.__dict__:
            resp = self.http.get("%s/admin/info/system" % self.base, params={"wt": "json"}, timeout=30)
            self._major = int(resp.json()["lucene"]["solr-spec-version"].split(".")[0])
        return self._major

    @property
    def is_real(self):
        return self.emulator is None

    def need_emulator(self, why="fault injection"):
        if self.emulator is None:
            pytest.skip("%s needs the emulator (a real Solr is named)" % why)

    def core_url(self, core):
        return "%s/%s" % (self.base, core)

    def get(self, path, core=None, **params):
        params.setdefault("wt", "json")
        resp = self.http.get("%s/%s" % (self.core_url(core or self.core), path), params=params, timeout=30)
        return resp.status_code, resp.json()

    def post(self, path, body, core=None, content_type="application/json", **params):
        params.setdefault("wt", "json")
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        resp = self.http.post("%s/%s" % (self.core_url(core or self.core), path), data=body, params=params,
                              headers={"Content-Type": content_type}, timeout=30)
        return resp.status_code, resp.json()

    @property
    def is_cloud(self):
        """Does the target run SolrCloud (/admin/info/system ``mode``)?"""
        if getattr(self, "_cloud", None) is None:
            info = self.http.get("%s/admin/info/system" % self.base, params={"wt": "json"}, timeout=30).json()
            self._cloud = info.get("mode") == "solrcloud"
        return self._cloud

    # ------------------------------------------------------------ SolrCloud: where documents go
    def shards(self, fresh=False):
        """SolrCloud: the shards of the collection behind the alias, in hash-range order, each as
        {"name", "leader": core name, "url": leader core URL}; ``fresh``: read again (after a
        swap re-pointed the alias)."""
        if fresh or "_shards" not in self.__dict__:
            cluster = self.collections(action="CLUSTERSTATUS")[1]["cluster"]
            collection = cluster.get("aliases", {}).get(self.core, self.core).split(",")[0]
            found = []
            for name, shard in cluster["collections"][collection]["shards"].items():
                lo, hi = (int(x, 16) for x in shard["range"].split("-"))
                leader = next((r for r in shard["replicas"].values() if r.get("leader") == "true"),
                              next(iter(shard["replicas"].values())))
                found.append({"name": name, "leader": leader["core"],
                              "url": "%s/%s" % (leader["base_url"], leader["core"]),
                              "range": tuple(x - (1 << 32) if x >= 1 << 31 else x for x in (lo, hi))})
            self._shards = sorted(found, key=lambda f: f["range"])
        return self._shards

    def shard_of(self, doc_id):
        """The index (into ``shards()``) of the shard that holds ``doc_id``; 0 on standalone."""
        if not self.is_cloud:
            return 0
        h = route_hash(doc_id)
        return next(i for i, s in enumerate(self.shards()) if s["range"][0] <= h <= s["range"][1])

    @property
    def answering_shard(self):
        """SolrCloud: the shard whose leader core answers the updates sent with ``update()`` (the
        documents of the other shards are forwarded to their leaders): the last one (the one 5.x
        answers a request to the alias from). Named, never probed: 8.x/9.x answer a request to an
        alias from a core that changes from request to request (the emulator as them too)."""
        return len(self.shards()) - 1 if self.is_cloud else 0

    @property
    def answering_core(self):
        """The core ``update()`` addresses: on SolrCloud the answering shard's leader, by name."""
        return self.shards()[self.answering_shard]["leader"] if self.is_cloud else self.core

    def update(self, body, core=None, **params):
        """POST /update, answered by ``answering_core`` (or ``core``): a scenario whose answer
        depends on which core answers (an error's text, where a batch stops) knows which does."""
        return self.post("update", body, core=core or self.answering_core, **params)

    def id_on(self, index, prefix):
        """An id starting with ``prefix`` that lands on shard ``index`` (standalone: ``prefix``)."""
        if not self.is_cloud:
            return prefix
        for i in range(10000):
            candidate = prefix if i == 0 else "%s_%d" % (prefix, i)
            if self.shard_of(candidate) == index:
                return candidate
        raise AssertionError("no id for shard %d" % index)

    def here(self, prefix):
        """An id whose document the answering core handles itself (Solr's own error text comes back)."""
        return self.id_on(self.answering_shard, prefix)

    def elsewhere(self, prefix):
        """SolrCloud: an id whose document is forwarded to another shard's leader."""
        others = [i for i in range(len(self.shards())) if i != self.answering_shard] if self.is_cloud else []
        if not others:
            pytest.skip("a single shard: every document is handled by the core that answers")
        return self.id_on(others[0], prefix)

    def num_docs(self):
        """What the index holds (CoreAdmin STATUS numDocs, tombstones included): the core's, or on
        SolrCloud the sum over the shard leaders' cores (STATUS knows no alias)."""
        cores = [s["leader"] for s in self.shards()] if self.is_cloud else [self.core]
        total = 0
        for core in cores:
            status, body = self.admin(action="STATUS", core=core)
            assert status == 200, body
            total += body["status"][core]["index"]["numDocs"]
        return total

    def rebuild_leftovers(self):
        """What finished rebuilds left behind: cores named ``_rebuild_`` (standalone); collections
        no alias points at (SolrCloud)."""
        if not self.is_cloud:
            return [name for name in self.admin(action="STATUS")[1]["status"] if "_rebuild_" in name]
        cluster = self.collections(action="CLUSTERSTATUS")[1]["cluster"]
        aliased = {c for target in cluster.get("aliases", {}).values() for c in target.split(",")}
        return sorted(set(cluster["collections"]) - aliased)

    def collections(self, **params):
        """One Collections API action (SolrCloud)."""
        params.setdefault("wt", "json")
        resp = self.http.get("%s/admin/collections" % self.base, params=params, timeout=120)
        return resp.status_code, resp.json()

    def admin(self, **params):
        params.setdefault("wt", "json")
        resp = self.http.get("%s/admin/cores" % self.base, params=params, timeout=60)
        return resp.status_code, resp.json()

    def select(self, q="*:*", core=None, **params):
        status, body = self.get("select", core=core, q=q, **params)
        assert status == 200, body
        return body["response"]

    def ids(self, q="*:*", core=None, **params):
        params.setdefault("rows", 10000)
        return sorted(d["id"] for d in self.select(q, core=core, fl="id", **params)["docs"])

    def clean(self):
        status, body = self.post("update", {"delete": {"query": "*:*"}, "commit": {}})
        assert status == 200, "cannot clean %s: %s" % (self.url, body)

    def unique_core_name(self, prefix="solrsync_test"):
        return "%s_%s" % (prefix, uuid.uuid4().hex[:8])


def pytest_addoption(parser):
    help = "directory of configsets (NAME/conf) the Solr emulator serves (default: solrsync's own)"
    parser.addini("solrsync_configsets", help)
    parser.addoption("--solrsync-configsets", metavar="DIR", help=help)
    help = "the Solr major version the emulator answers as: %s (default %d)" % (
        ", ".join(str(m) for m in sorted(SPEC)), DEFAULT_MAJOR)
    parser.addini("solrsync_solr_version", help)
    parser.addoption("--solrsync-solr-version", type=int, choices=sorted(SPEC), metavar="MAJOR", help=help)


def _emulated_version(config):
    return config.getoption("solrsync_solr_version") or int(config.getini("solrsync_solr_version") or DEFAULT_MAJOR)


@pytest.fixture(scope="session")
def solr_emulator(pytestconfig):
    configsets = pytestconfig.getoption("solrsync_configsets") or pytestconfig.getini("solrsync_configsets")
    if configsets and pytestconfig.inipath and not os.path.isabs(configsets) and \
            not pytestconfig.getoption("solrsync_configsets"):
        configsets = os.path.join(os.path.dirname(str(pytestconfig.inipath)), configsets)  # ini: from its file
    with SolrEmulator(configsets=configsets or None, solr_version=_emulated_version(pytestconfig)) as emulator:
        yield emulator


def pytest_generate_tests(metafunc):
    """A differential scenario (marked ``solr``) runs on both kinds of target."""
    if "solr" in metafunc.fixturenames and metafunc.definition.get_closest_marker("solr"):
        metafunc.parametrize("solr", list(TARGETS), indirect=True)


@pytest.fixture
def solr(request):
    """A clean ``layers`` core: the emulator's (reset per test) or the real one, emptied. In a
    differential scenario, in turn a standalone core and a SolrCloud alias (``solrcloud``)."""
    kind = getattr(request, "param", "standalone")
    env_var, emulator_fixture = TARGETS[kind]
    named = [v for v, _ in TARGETS.values() if os.environ.get(v)]
    if hasattr(request, "param") and named and env_var not in named:
        pytest.skip("%s names the real Solr to test; no %s is named (%s)" % (named[0], kind, env_var))
    yield from _clean_target(request, env_var, emulator_fixture)


@pytest.fixture(scope="session")
def solrcloud_emulator(pytestconfig):
    with SolrEmulator(cloud=True, solr_version=_emulated_version(pytestconfig)) as emulator:
        yield emulator


@pytest.fixture
def solrcloud(request):
    """The alias ``layers`` of a clean collection: the SolrCloud-mode emulator's (reset per test:
    collection ``layers_1``, 2 shards) or the real SolrCloud's named by SOLRSYNC_TEST_SOLRCLOUD_URL,
    emptied (whatever collection the alias points at)."""
    yield from _clean_target(request, "SOLRSYNC_TEST_SOLRCLOUD_URL", "solrcloud_emulator")


def _clean_target(request, env_var, emulator_fixture):
    """The real Solr named by ``env_var``, emptied, or the emulator fixture's ``layers``, reset."""
    url = os.environ.get(env_var)
    if url:
        target = SolrTarget(url)
        target.clean()
        yield target
        return
    emulator = request.getfixturevalue(emulator_fixture)
    emulator.reset()
    yield SolrTarget(emulator.core_url("layers"), emulator)
    emulator.faults.clear()
