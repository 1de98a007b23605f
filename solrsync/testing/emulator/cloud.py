"""The emulator as a SolrCloud node: the Collections API (CREATE, DELETE, LIST, CREATEALIAS,
DELETEALIAS, LISTALIASES, CLUSTERSTATUS), aliases resolved wherever a collection is named, the
Configsets API (UPLOAD, LIST, DELETE), /admin/info/system saying ``solrcloud``.

A collection is one emulator Core; its shards exist in what CLUSTERSTATUS reports and in the
replica core names (``C_shard1_replica1``), which answer for the documents their shard holds
(the compositeId router: MurmurHash3 of the id onto the shards' hash ranges, as Solr) when
asked with ``distrib=false`` or by CoreAdmin STATUS. The answers' shapes are those of a real
SolrCloud 5.3.1, 8.11.2 and 9.4.0 (measured), as the emulator's ``solr_version`` says.

Where a SolrCloud node answers differently from a standalone core, so does the emulator (each
measured on a real SolrCloud, one node, 2 shards):

* An update is answered by one shard's core and each document of another shard is forwarded to
  that shard's leader. Which core answers a request to an alias: on 5.3.1 always the same one (the
  emulator: the last shard's), on 8.x/9.x one that changes from request to request (the emulator:
  each shard's in turn); a request to a replica core's name is answered by that core. A document
  refused by another leader comes back (versions.py) on 8.x/9.x as ``Async exception during
  distributed update: Error from server at <leader>/: ... Remote error message: <its reason>``, on
  5.3.1 as ``Bad Request\n\n\n\nrequest: <leader>/update?update.distrib=TOLEADER...`` (the reason
  lost; 500 as ``Server Error``), and the batch does not stop: the forwarded stream to that leader
  stops at the bad document, every other document is applied and the commit runs. A document
  refused on the answering shard stops the request where it stands, the documents forwarded
  before it kept, without the commit (as standalone). A delete by id without its version
  parameter is refused before any forwarding.
* A Schema API change reaches the answering shard's core at once and the other shards' cores
  later (ZooKeeper watches), unless the request says ``updateTimeoutSecs``: then Solr answers
  once every core has it.
* With ``nodes=N`` (N HTTP servers, one port each, one index behind them) shard i's leader is on
  node i % N, as CLUSTERSTATUS says (base_url, node_name). ``refuse_as_leader(node)`` makes a node
  act as a shard leader back from a long pause (its ZooKeeper session expired, re-registering), as
  measured on SolrCloud 5.3.1 (issue 25): an update sent to it is refused with 503 "ClusterState
  says we are the leader (...), but locally we don't think so", and the documents another node
  forwards to it are dropped while that node logs "forwarding update ... failed - retrying"
  (``Cloud.log``) and answers status 0.
* CoreAdmin STATUS knows the replica cores (``C_shardN_replica1``), not the alias or collection;
  CoreAdmin CREATE is refused on 8.x/9.x and makes a one-shard collection on 5.x.
"""
import io
import itertools
import re
import tempfile
import time
import zipfile
from pathlib import Path

from ...leaders import murmur3, route_hash  # noqa: F401 (one hash for the emulator and the sink)
from .schema import SolrHTTPError, bad_request

_REPLICA = re.compile(r"(.+)_shard(\d+)_replica\d+$")
SCHEMA_LAG = 1.0  # seconds before a Schema API change reaches the other shards' cores (real: ~50 ms)


def shard_ranges(count):
    """The compositeId router's hash range of each of ``count`` shards, as signed 32-bit ints
    (shard1 starts at the smallest: 80000000-ffffffff, then 0-7fffffff for two)."""
    return [(-(1 << 31) + (i * (1 << 32)) // count, -(1 << 31) + ((i + 1) * (1 << 32)) // count - 1)
            for i in range(count)]


def shard_of(doc_id, count):
    """The index of the shard that holds ``doc_id`` among ``count``."""
    h = route_hash(doc_id)
    return next(i for i, (lo, hi) in enumerate(shard_ranges(count)) if lo <= h <= hi)


class Cloud:
    def __init__(self, emulator):
        self.emu = emulator
        self.aliases = {}      # alias -> [collection]
        self.collections = {}  # name -> {"configName", "numShards", "replicationFactor"}
        self.lagging = {}      # collection -> (the schema before a change, when the other shards get it)
        self._turns = itertools.count()  # 8.x/9.x: which shard's core answers the next request to an alias
        self.refusing = set()  # nodes acting as a leader back from a pause (module docstring)
        self.log = []          # the errors the nodes logged (a forward that failed)
        # collection -> CLUSTERSTATUS answers still to give with its shards leaderless: 5.3.1's CREATE
        # returns before the new shards have elected leaders (8.x/9.x wait for them)
        self.electing = {}

    @property
    def node(self):
        return self.node_name(0)

    def node_name(self, index):
        return "%s:%d_solr" % (self.emu.host, self.emu.node_port(index))

    def leader_node(self, shard_index):
        """The node that leads shard ``shard_index``."""
        return shard_index % self.emu.node_count

    def wait_for_nodes(self, core, node):
        """A distributed query on ``node`` waits for every other node holding a shard of ``core``'s
        collection: one that hangs (``node_faults[k].hang()``) holds the query up as well."""
        if core.name not in self.collections or self.emu.node_count < 1:
            return
        for index in range(self.collections[core.name]["numShards"]):
            other = self.leader_node(index)
            hung = self.emu.node_faults[other].hung if other != node else None
            if hung is not None:
                hung.wait()

    def refuse_as_leader(self, node, refusing=True):
        """Make ``node`` refuse updates as a leader back from a pause would (module docstring)."""
        (self.refusing.add if refusing else self.refusing.discard)(node)

    def reset(self, names=("layers",)):
        """As ``realsolr.sh cloud`` leaves a cluster: for each name, a 2-shard collection NAME_1 from
        the configset of that name (else the default) and the alias NAME pointing at it."""
        self.aliases.clear()
        self.collections.clear()
        self.lagging.clear()
        self.refusing.clear()
        self.log.clear()
        self._turns = itertools.count()
        self.emu.cores.clear()
        for name in names:
            configset = name if name in self.emu.configsets else "layers"
            self.create(name + "_1", configset, 2, 1)
            self.aliases[name] = [name + "_1"]
        self.electing.clear()  # the launch script waits for its collections' leaders

    def create(self, name, configset, shards, replicas):
        if name in self.collections or name in self.aliases:
            raise bad_request("collection already exists: %s" % name)
        if configset not in self.emu.configsets:
            raise bad_request("Can not find the specified config set: %s" % configset)
        self.emu.add_core(name, self.emu.configsets[configset])
        self.collections[name] = {"configName": configset, "numShards": shards, "replicationFactor": replicas}
        if not self.emu.solr_version.modern:
            self.electing[name] = 1

    # ------------------------------------------------------------ routing
    def resolve(self, name):
        """-> (core name, (shard index, shard count) or None): an alias names its first collection;
        a replica core name its collection and shard."""
        if name in self.aliases:
            return self.aliases[name][0], None
        m = _REPLICA.match(name)
        if m and m.group(1) in self.collections:
            return m.group(1), (int(m.group(2)) - 1, self.collections[m.group(1)]["numShards"])
        return name, None

    def route(self, rest, params, body):
        """Answer a node-level request, or None when it is not one."""
        if rest[:2] == ["admin", "collections"]:
            return self.collections_api(params)
        if rest[:2] == ["admin", "configs"]:
            return self.configsets_api(params, body)
        if rest[:3] == ["admin", "info", "system"]:
            return self.emu.solr_version.info("solrcloud")
        if rest[:2] == ["admin", "cores"] and params.get("action", [""])[0].upper() == "CREATE":
            name = params.get("name", [""])[0]
            refusal = self.emu.solr_version.cloud_core_create_refusal(name, {k: v[0] for k, v in params.items()})
            if refusal:
                raise bad_request(refusal)
            with self.emu.lock:  # 5.x: a one-shard collection of the core's name
                self.create(name, params.get("configSet", ["layers"])[0], 1, 1)
            return {"core": name}
        return None

    def shard_searcher(self, core, shard):
        """A /select on one shard's replica with distrib=false: only the documents of that shard."""
        index, count = shard
        return core.searcher({k: v for k, v in core.visible.items() if shard_of(k, count) == index})

    def replica(self, collection, index):
        return "%s_shard%d_replica1" % (collection, index + 1)

    def core_status(self, names):
        """CoreAdmin STATUS: the replica cores, each counting its shard's documents."""
        if not names:
            names = [self.replica(c, i) for c, v in sorted(self.collections.items()) for i in range(v["numShards"])]
        out = {}
        for name in names:
            m = _REPLICA.match(name)
            core = self.emu.cores.get(m.group(1)) if m and m.group(1) in self.collections else None
            if core is None:
                out[name] = {}
                continue
            index, count = int(m.group(2)) - 1, self.collections[m.group(1)]["numShards"]
            status = core.status()
            mine = lambda docs: [k for k in docs if shard_of(k, count) == index]  # noqa: E731
            status["index"].update(numDocs=len(mine(core.visible)), maxDoc=len(mine(core.visible)))
            out[name] = dict(status, name=name, instanceDir="%s/%s/" % (status["instanceDir"].rstrip("/"), name))
        return out

    # ------------------------------------------------------------ updates and schema changes on a collection
    def answering_shard(self, count, node=0):
        """The shard whose core answers an update sent to an alias or collection (module docstring);
        with several nodes, one the receiving node leads."""
        if self.emu.node_count > 1:
            return next((i for i in range(count) if self.leader_node(i) == node), 0)
        return next(self._turns) % count if self.emu.solr_version.modern else count - 1

    def forwarding(self, core, shard, node=0):
        """How one update request to a collection runs: see the module's docstring."""
        if node in self.refusing:
            raise SolrHTTPError(503, "ClusterState says we are the leader (%s/%s), but locally we don't think so. "
                                     "Request came from null" % (self.emu.node_url(node), core.name))
        return _Forwarding(self, core, shard, node)

    def schema_changed(self, core, before, params):
        """A Schema API change through one core: the other shards' cores keep ``before`` for a while
        unless the request waits for them (updateTimeoutSecs)."""
        if core.name in self.collections and not params.get("updateTimeoutSecs", [""])[0]:
            self.lagging[core.name] = (before, time.monotonic() + SCHEMA_LAG)
        else:
            self.lagging.pop(core.name, None)

    # ------------------------------------------------------------ Collections API
    def collections_api(self, params):
        one = lambda key, default=None: params.get(key, [default])[0]  # noqa: E731
        action = (one("action") or "").upper()
        name = one("name")
        with self.emu.lock:
            if action == "CLUSTERSTATUS":
                return {"cluster": self.cluster_status()}
            if action == "LIST":
                return {"collections": sorted(self.collections)}
            if action == "LISTALIASES":
                return {"aliases": {a: ",".join(c) for a, c in self.aliases.items()}}
            if not name:
                raise bad_request("Missing required parameter: name")
            if action == "CREATE":
                try:
                    shards = int(one("numShards", "1"))
                    replicas = int(one("replicationFactor", "1"))
                except ValueError as exc:
                    raise bad_request(str(exc))
                configset = one("collection.configName") or name
                max_per_node = int(one("maxShardsPerNode", "1"))
                if shards * replicas > max_per_node:  # one node: as 5.x-8.x refuse
                    raise bad_request("Cannot create collection %s. Value of maxShardsPerNode is %d, and the number "
                                      "of nodes currently live or live and part of your createNodeSet is 1. This "
                                      "allows a maximum of %d to be created. Value of numShards is %d and value of "
                                      "replicationFactor is %d. This requires %d shards to be created (higher than "
                                      "the allowed number)" % (name, max_per_node, max_per_node, shards, replicas,
                                                               shards * replicas))
                self.create(name, configset, shards, replicas)
                return {"success": {self.node: {"responseHeader": {"status": 0, "QTime": 0},
                                                "core": "%s_shard1_replica1" % name}}}
            if action == "DELETE":
                if name not in self.collections:
                    raise bad_request("Could not find collection : %s" % name)
                users = sorted(a for a, c in self.aliases.items() if name in c)
                if users:
                    raise bad_request("Collection : %s is part of alias %s remove or modify the alias before "
                                      "removing this collection." % (name, ", ".join(users)))
                del self.collections[name]
                self.emu.cores.pop(name, None)
                return {"success": {self.node: {"responseHeader": {"status": 0, "QTime": 0}}}}
            if action == "CREATEALIAS":
                targets = [c for c in (one("collections") or "").split(",") if c]
                missing = [c for c in targets if c not in self.collections]
                if not targets or missing:
                    raise bad_request("Can't create collection alias for collections='%s', '%s' is not an existing "
                                      "collection or alias" % (one("collections"), (missing or [""])[0]))
                if name in self.collections:
                    raise bad_request("Can't create alias %s: a collection has that name" % name)
                self.aliases[name] = targets
                return {}
            if action == "DELETEALIAS":
                self.aliases.pop(name, None)
                return {}
        raise bad_request("Unknown action: %s" % action)

    def cluster_status(self):
        out = {"collections": {}, "live_nodes": [self.node_name(k) for k in range(self.emu.node_count)]}
        for name, c in sorted(self.collections.items()):
            n = c["numShards"]
            electing = self.electing.get(name, 0) > 0
            if electing:
                self.electing[name] -= 1
            shards = {}
            for i in range(n):
                lo = (i * (1 << 32)) // n
                hi = ((i + 1) * (1 << 32)) // n - 1
                shards["shard%d" % (i + 1)] = {
                    "range": "%x-%x" % ((lo + (1 << 31)) % (1 << 32), (hi + (1 << 31)) % (1 << 32)),
                    "state": "active",
                    "replicas": {"core_node%d" % (i * c["replicationFactor"] + r + 1): dict(
                        {"core": "%s_shard%d_replica%d" % (name, i + 1, r + 1),
                         "base_url": self.emu.node_url(self.leader_node(i)),
                         "node_name": self.node_name(self.leader_node(i)), "state": "down" if electing else "active"},
                        **({"leader": "true"} if r == 0 and not electing else {}))
                        for r in range(c["replicationFactor"])}}
            aliases = sorted(a for a, cs in self.aliases.items() if name in cs)
            out["collections"][name] = dict({"replicationFactor": str(c["replicationFactor"]), "shards": shards,
                                             "router": {"name": "compositeId"}, "maxShardsPerNode": str(n),
                                             "autoAddReplicas": "false", "znodeVersion": 1,
                                             "configName": c["configName"]},
                                            **({"aliases": aliases} if aliases else {}))
        if self.aliases:
            out["aliases"] = {a: ",".join(c) for a, c in self.aliases.items()}
        return out

    # ------------------------------------------------------------ Configsets API
    def configsets_api(self, params, body):
        action = params.get("action", [""])[0].upper()
        name = params.get("name", [None])[0]
        with self.emu.lock:
            if action == "LIST":
                return {"configSets": sorted(self.emu.configsets)}
            if not name:
                raise bad_request("ConfigSet name not specified")
            if action == "UPLOAD":
                overwrite = params.get("overwrite", ["false"])[0] == "true"
                if name in self.emu.configsets and not overwrite:
                    raise bad_request("The configuration %s already exists in zookeeper" % name)
                try:
                    archive = zipfile.ZipFile(io.BytesIO(body))
                    target = Path(tempfile.mkdtemp(prefix="emulator-configset-%s-" % name))
                    archive.extractall(target)
                except (zipfile.BadZipFile, ValueError):
                    raise bad_request("Either the uploaded file is not a valid zip or the contents are not valid")
                if not (target / "solrconfig.xml").is_file():
                    raise bad_request("Error loading solr config from solrconfig.xml: not in the uploaded zip")
                self.emu.configsets[name] = target
                return {}
            if action == "DELETE":
                if name not in self.emu.configsets:
                    raise bad_request("ConfigSet does not exist to delete: %s" % name)
                users = sorted(c for c, v in self.collections.items() if v["configName"] == name)
                if users:
                    raise bad_request("Can not delete ConfigSet as it is currently being used by collection [%s]"
                                      % users[0])
                del self.emu.configsets[name]
                return {}
        raise SolrHTTPError(400, "Unknown action: %s" % action)


class _Forwarding:
    """One update request to a collection, as its node runs it (measured on SolrCloud 5.3.1)."""
    _REASON = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
               500: "Server Error", 503: "Service Unavailable"}

    def __init__(self, cloud, core, shard, node=0):
        self.cloud, self.core, self.node = cloud, core, node
        self.count = cloud.collections[core.name]["numShards"]
        # a replica core named: that one
        self.here = shard[0] if shard else cloud.answering_shard(self.count, node)
        self.failed = {}  # shard index -> the error its leader answered

    def run(self, doc_id, op):
        """Apply one document's add or delete: at once on this shard (an error stops the request),
        else as the other shard's leader would (an error stops only that leader's stream)."""
        if doc_id is None or isinstance(doc_id, (dict, list)):
            return op()  # no id to route by: refused here, before any forwarding
        index = shard_of(doc_id, self.count)
        if index == self.here:
            return op()
        if index in self.failed:
            return None
        leader = self.cloud.leader_node(index)
        if leader in self.cloud.refusing:  # logged; the request still answers status 0
            self.cloud.log.append("forwarding update to %s failed - retrying ... : ClusterState says we are the "
                                  "leader, but locally we don't think so" % self.cloud.emu.node_url(leader))
            return None
        lagging = self.cloud.lagging.get(self.core.name)
        saved = self.core.schema
        if lagging and time.monotonic() < lagging[1]:
            self.core.schema = lagging[0]  # that core has not seen the last schema change yet
        try:
            return op()
        except SolrHTTPError as exc:
            self.failed[index] = exc
            return None
        finally:
            self.core.schema = saved

    def raise_failure(self):
        """After the request's commits: the first failed leader's answer, in the form a node passes on."""
        if not self.failed:
            return
        index = min(self.failed)
        error = self.failed[index]
        base = self.cloud.emu.url
        raise SolrHTTPError(error.code, self.cloud.emu.solr_version.forwarded_error(
            self._REASON.get(error.code, "Error"), "%s/%s" % (base, self.cloud.replica(self.core.name, index)),
            "%s/%s" % (base, self.cloud.replica(self.core.name, self.here)), error.msg))
