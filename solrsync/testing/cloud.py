"""The emulator as a SolrCloud node: the Collections API (CREATE, DELETE, LIST, CREATEALIAS,
DELETEALIAS, LISTALIASES, CLUSTERSTATUS), aliases resolved wherever a collection is named, the
Configsets API (UPLOAD, LIST, DELETE), /admin/info/system saying ``solrcloud``.

A collection is one emulator Core; its shards exist in what CLUSTERSTATUS reports and in the
replica core names (``C_shard1_replica1``), which answer for the documents their shard would
hold (ids hashed onto the shards) when asked with ``distrib=false``. The answers' shapes are
those of a real SolrCloud 5.3.1 (measured) and 8.x (its reference guide).
"""
import io
import re
import tempfile
import zipfile
import zlib
from pathlib import Path

from .schema import SolrHTTPError, bad_request

_REPLICA = re.compile(r"(.+)_shard(\d+)_replica\d+$")


class Cloud:
    def __init__(self, emulator):
        self.emu = emulator
        self.aliases = {}      # alias -> [collection]
        self.collections = {}  # name -> {"configName", "numShards", "replicationFactor"}

    @property
    def node(self):
        return "%s:%d_solr" % (self.emu.host, self.emu.port)

    def reset(self, names=("layers",)):
        """As ``realsolr.sh cloud`` leaves a cluster: for each name, a 2-shard collection NAME_1 from
        the configset of that name (else the default) and the alias NAME pointing at it."""
        self.aliases.clear()
        self.collections.clear()
        self.emu.cores.clear()
        for name in names:
            configset = name if name in self.emu.configsets else "layers"
            self.create(name + "_1", configset, 2, 1)
            self.aliases[name] = [name + "_1"]

    def create(self, name, configset, shards, replicas):
        if name in self.collections or name in self.aliases:
            raise bad_request("collection already exists: %s" % name)
        if configset not in self.emu.configsets:
            raise bad_request("Can not find the specified config set: %s" % configset)
        self.emu.add_core(name, self.emu.configsets[configset])
        self.collections[name] = {"configName": configset, "numShards": shards, "replicationFactor": replicas}

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
            from .emulator import VERSION
            return {"mode": "solrcloud", "lucene": {"solr-spec-version": VERSION,
                                                    "solr-impl-version": VERSION + " solrsync-emulator"}}
        if rest[:2] == ["admin", "cores"] and params.get("action", [""])[0].upper() == "CREATE":
            name = params.get("name", [""])[0]
            raise bad_request("Error CREATEing SolrCore '%s': non legacy mode coreNodeName missing {shard=null}" % name)
        return None

    def search_shard(self, core, shard, params):
        """A /select on one shard's replica with distrib=false: only the documents of that shard."""
        index, count = shard
        saved = core.visible
        core.visible = {k: v for k, v in saved.items() if zlib.crc32(k.encode()) % count == index}
        core._sorted.clear()
        try:
            return core.search(params)
        finally:
            core.visible = saved
            core._sorted.clear()

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
        out = {"collections": {}, "live_nodes": [self.node]}
        for name, c in sorted(self.collections.items()):
            n = c["numShards"]
            shards = {}
            for i in range(n):
                lo = (i * (1 << 32)) // n
                hi = ((i + 1) * (1 << 32)) // n - 1
                shards["shard%d" % (i + 1)] = {
                    "range": "%x-%x" % ((lo + (1 << 31)) % (1 << 32), (hi + (1 << 31)) % (1 << 32)),
                    "state": "active",
                    "replicas": {"core_node%d" % (i * c["replicationFactor"] + r + 1): dict(
                        {"core": "%s_shard%d_replica%d" % (name, i + 1, r + 1), "base_url": self.emu.url,
                         "node_name": self.node, "state": "active"}, **({"leader": "true"} if r == 0 else {}))
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
