"""pytest fixtures: a clean Solr core per test, on the emulator or on the real Solr named by
``SOLRSYNC_TEST_SOLR_URL`` (a core URL such as ``http://127.0.0.1:8983/solr/layers``); ``solrcloud``:
a clean collection behind the alias ``layers``, on the emulator in SolrCloud mode or on the real
SolrCloud named by ``SOLRSYNC_TEST_SOLRCLOUD_URL`` (an alias URL).

Loaded automatically once solrsync is installed (a ``pytest11`` entry point), so projects using
solrsync get the same ``solr`` fixture. The emulator's CoreAdmin CREATE ``configSet=NAME`` reads the
configsets (``NAME/conf``) in the directory named by the ini option ``solrsync_configsets`` or
``--solrsync-configsets`` (default: the ones solrsync ships).
"""
import os
import uuid

import pytest
import requests

from .emulator import SolrEmulator


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
        differ state what each does, keyed on it. The emulator reports 8 and behaves as 8.11."""
        if "_major" not in self.__dict__:
            resp = self.http.get("%s/admin/info/system" % self.base, params={"wt": "json"}, timeout=30)
            self._major = int(resp.json()["lucene"]["solr-spec-version"].split(".")[0])
        return self._major

    @property
    def is_real(self):
        return self.emulator is None

    def need_emulator(self, why="fault injection"):
        if self.emulator is None:
            pytest.skip("%s needs the emulator (SOLRSYNC_TEST_SOLR_URL names a real Solr)" % why)

    def core_url(self, core):
        return "%s/%s" % (self.base, core)

    def get(self, path, core=None, **params):
        params.setdefault("wt", "json")
        resp = self.http.get("%s/%s" % (self.core_url(core or self.core), path), params=params, timeout=30)
        return resp.status_code, resp.json()

    def post(self, path, body, core=None, content_type="application/json", **params):
        params.setdefault("wt", "json")
        if not isinstance(body, (str, bytes)):
            import json
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


@pytest.fixture(scope="session")
def solr_emulator(pytestconfig):
    configsets = pytestconfig.getoption("solrsync_configsets") or pytestconfig.getini("solrsync_configsets")
    if configsets and pytestconfig.inipath and not os.path.isabs(configsets) and \
            not pytestconfig.getoption("solrsync_configsets"):
        configsets = os.path.join(os.path.dirname(str(pytestconfig.inipath)), configsets)  # ini: from its file
    with SolrEmulator(configsets=configsets or None) as emulator:
        yield emulator


@pytest.fixture
def solr(request):
    """A clean ``layers`` core: the emulator's (reset per test) or the real one, emptied."""
    yield from _clean_target(request, "SOLRSYNC_TEST_SOLR_URL", "solr_emulator")


@pytest.fixture(scope="session")
def solrcloud_emulator():
    with SolrEmulator(cloud=True) as emulator:
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
