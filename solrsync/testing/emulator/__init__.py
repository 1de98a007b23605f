"""A Solr emulator: a real HTTP server speaking the part of Solr's wire format solrsync uses.

    with SolrEmulator() as solr:             # free port on 127.0.0.1, core "layers"
        url = solr.core_url("layers")         # http://127.0.0.1:PORT/solr/layers
        solr.faults.fail(503, seconds=2)      # fault injection
        solr.stats["docs_added"]

    python -m solrsync.testing.emulator --port 8983 --core layers --core books=configsets/books/conf

Each core is served from its own configset (default: the layers one solrsync ships), so schema errors match
production; so do the default update chain (DefaultValue and DocBasedVersionConstraints processors:
versioned adds, versioned deletes leaving tombstones) and the /select handler's defaults, appends
and invariants, read from its solrconfig.xml. CoreAdmin CREATE finds ``configSet=NAME`` in a directory
of configsets (``NAME/conf``; default: solrsync/configsets), as Solr does in ``<solr_home>/configsets``.
Visibility follows Solr: adds are seen by /select only after a commit, a soft commit
or commitWithin; /get sees them at once. Where this and a real Solr disagree, Solr is right.

Searches are answered as Solr answers them (checked against 5.3.1, 8.11.2 and 9.4.0): relevance by
the configset's similarity (classic TF-IDF on 5.x, BM25 from 6 on), text analysis by its analyzers,
dismax/edismax, facets, highlighting, grouping, stats, nested documents, response writers; what it
does not emulate answers 400 "solrsync emulator: <feature> is not emulated", never a silent 200.

The modules: server (HTTP, routing), core (a core's state and update chain), updates (/update),
nested (nested documents, block joins), index (a document's analyzed fields), analysis (tokenizers
and filters), query (the Lucene parser), parsers (local params, dismax/edismax), scoring (BM25,
classic TF-IDF), search (/select, /get), fields (fl), facets, highlight, stats, group, spatial,
schema (managed-schema, solrconfig.xml), schema_api (/schema), writers (wt), errors, coreadmin,
faults (and /_emulator), cloud (SolrCloud mode), versions (what 5, 8 and 9 answer differently).
"""
import pathlib
import shutil
import threading
import time

from .cloud import Cloud
from .coreadmin import core_admin, read_configsets
from .core import Core
from .faults import Faults
from .schema import CONFIGSETS
from .server import Server, free_port
from .versions import DEFAULT_MAJOR, SolrVersion

__all__ = ["SolrEmulator", "free_port", "CONFIGSETS"]


class SolrEmulator:
    """The server: a set of cores on 127.0.0.1:port under /solr, plus faults and counters."""

    def __init__(self, port=0, cores=("layers",), configset=None, host="127.0.0.1", configsets=None, cloud=False,
                 record_updates=False, solr_version=DEFAULT_MAJOR, nodes=1):
        """``cores``: names (served from ``configset``, a conf dir; default the shipped layers one) or a
        dict {name: conf dir or None}; ``configsets``: the directory of configsets ``NAME/conf`` that
        CoreAdmin CREATE ``configSet=NAME`` reads (default: the ones solrsync ships). ``cloud``: act
        as a SolrCloud node, each name an alias of a collection (cloud.py).
        ``record_updates``: keep, per update request, when it arrived and ended, the client's
        address and the ids it added (with their versions) and deleted, in ``updates`` (and at
        GET /solr/_emulator/updates): the tests with several hosts find there whether two workers
        pushed one document at once. ``solr_version``: the major version (5, 8 or 9) it answers as,
        where those differ (versions.py). ``nodes``: in cloud mode, how many SolrCloud nodes (each
        its own port and ``faults``; the shard leaders spread over them, cloud.py)."""
        self.host, self.port = host, port
        self.solr_version = SolrVersion(solr_version)
        self.record_updates = record_updates
        self.updates = []
        self.configsets = read_configsets(configsets or CONFIGSETS)
        self.default_conf = pathlib.Path(configset) if configset else \
            self.configsets.get("layers", CONFIGSETS / "layers" / "conf")
        confs = cores if isinstance(cores, dict) else dict.fromkeys(cores)
        self.core_confs = {name: pathlib.Path(conf) if conf else self.default_conf for name, conf in confs.items()}
        self.cores = {}
        self.lock = threading.RLock()
        self.cloud = None
        if cloud:
            self.cloud = Cloud(self)
            self.cloud.reset(list(self.core_confs))
        else:
            for name, conf in self.core_confs.items():
                self.add_core(name, conf)
        self.faults = Faults()
        self.node_count = max(1, int(nodes)) if cloud else 1
        self.node_faults = [self.faults] + [Faults() for _ in range(self.node_count - 1)]
        self._node_ports = [0] * self.node_count
        self._node_servers = []
        self.stats = {}
        self.reset_stats()
        self.home = None  # the Solr home where CoreAdmin CREATE makes instance dirs (on first use)
        self._server = None
        self._thread = None

    def add_core(self, name, conf_dir):
        """A new core ``name`` served from the configset in ``conf_dir`` (replacing any core so named)."""
        core = Core(name, conf_dir, solr_version=self.solr_version)
        with self.lock:
            self.cores[name] = core
        return core

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self._server = Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        for k in range(1, self.node_count):  # the other SolrCloud nodes: the same index, their own port
            server = Server((self.host, self._node_ports[k]), self, node=k, faults=self.node_faults[k])
            self._node_ports[k] = server.server_address[1]
            self._node_servers.append(server)
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                             name="solr-emulator:%d" % self._node_ports[k], daemon=True).start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="solr-emulator:%d" % self.port, daemon=True)
        self._thread.start()
        if getattr(self, "_ticker", None) is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(target=self._tick_forever, name="solr-emulator-commits", daemon=True)
            self._ticker.start()
        return self

    def _tick_forever(self):
        """Open searchers when commitWithin falls due, as Solr's commit tracker does, even when no
        request arrives (freshness measurements depend on it)."""
        while self._server is not None:
            with self.lock:
                cores = list(self.cores.values())
            for core in cores:
                if core.commit_due is not None:
                    with core.lock:
                        core.tick()
            time.sleep(0.02)

    def stop(self):
        """Stop listening and cut open connections; data stays, so start() brings the same index back."""
        for server in self._node_servers:
            server.shutdown()
            server.close_all()
            server.server_close()
        self._node_servers = []
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.home is not None:  # the instance dirs CoreAdmin CREATE made
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def url(self):
        return "http://%s:%d/solr" % ("[%s]" % self.host if ":" in self.host else self.host, self.port)

    def node_port(self, index):
        return self.port if index == 0 else self._node_ports[index]

    def node_url(self, index):
        """The base URL (…/solr) of SolrCloud node ``index`` (0: ``url``)."""
        return self.url if index == 0 else "http://%s:%d/solr" % (
            "[%s]" % self.host if ":" in self.host else self.host, self._node_ports[index])

    def core_url(self, name="layers"):
        return "%s/%s" % (self.url, name)

    def core(self, name="layers"):
        return self.cores[name]

    def reset(self, cores=("layers",)):
        """A clean server: fresh cores, no faults, zeroed counters (what a test fixture wants)."""
        with self.lock:
            if self.cloud is not None:
                self.cloud.reset(cores)
            else:
                self.cores = {name: Core(name, self.core_confs.get(name, self.default_conf),
                                         solr_version=self.solr_version) for name in cores}
        for faults in self.node_faults:
            faults.clear()
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.updates = []
        self.stats.update(requests=0, update_requests=0, select_requests=0, docs_added=0,
                          docs_dropped=0, docs_deleted=0, errors=0, faults=0)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    def core_admin(self, params):
        """/admin/cores (coreadmin.py)."""
        return core_admin(self, params)
