"""Solr administration: what kind of Solr this is (standalone or SolrCloud, its version), cores
(CoreAdmin) and collections, aliases and configsets (Collections and Configsets APIs) -- what a
rebuild and ``status`` need.

Over plain requests: pysolr's SolrCoreAdmin sends its parameters in a GET body, so every action
acts as STATUS (../shared/notes/huey-pysolr-facts.md). CLUSTERSTATUS is the one Collections
action every version answers alike (Solr 5.x has no LISTALIASES, and no Configsets API before 7).
"""
import io
import os
import time
import zipfile
from dataclasses import dataclass

import requests

from .leaders import leaders_from
from .sink import SolrRequestError, SolrUnavailable

CONFIGSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configsets")


def _admin(settings, path, what, params, data=None):
    """One admin request; SolrUnavailable when Solr does not answer, SolrRequestError with Solr's
    own message when it refuses."""
    params = dict(params, wt="json")
    kwargs = dict(params=params, timeout=max(60, settings.SOLR_TIMEOUT), verify=settings.SOLR_VERIFY_TLS,
                  auth=settings.solr_auth)
    try:
        if data is None:
            resp = requests.get(settings.solr_base + path, **kwargs)
        else:
            resp = requests.post(settings.solr_base + path, data=data,
                                 headers={"Content-Type": "application/octet-stream"}, **kwargs)
    except requests.RequestException as exc:
        raise SolrUnavailable("%s %s: %s" % (what, params.get("action", ""), exc))
    if resp.status_code != 200:
        try:
            msg = resp.json()["error"]["msg"]
        except (ValueError, KeyError, TypeError):
            msg = " ".join(resp.text.split())[:300]
        raise SolrRequestError(resp.status_code, "%s %s failed: %s" % (what, params.get("action", ""), msg))
    return resp.json()


def core_admin(settings, **params):
    """One CoreAdmin action."""
    return _admin(settings, "/admin/cores", "CoreAdmin", params)


def collections_admin(settings, **params):
    """One Collections API action (SolrCloud)."""
    return _admin(settings, "/admin/collections", "Collections API", params)


# ------------------------------------------------------------ which Solr
@dataclass
class SolrKind:
    cloud: bool
    version: str
    zk_host: str = None

    @property
    def major(self):
        try:
            return int(self.version.split(".")[0])
        except (AttributeError, ValueError):
            return 0

    def __str__(self):
        return "%s %s" % ("SolrCloud" if self.cloud else "Solr (standalone)", self.version or "?")


def solr_kind(settings):
    """Standalone or SolrCloud, and the version: /admin/info/system (``mode`` is ``solrcloud`` or
    ``std``, on 5.x as on 8.x)."""
    info = _admin(settings, "/admin/info/system", "system info", {})
    return SolrKind(cloud=info.get("mode") == "solrcloud", version=(info.get("lucene") or {}).get("solr-spec-version"),
                    zk_host=info.get("zkHost"))


# ------------------------------------------------------------ cores (standalone)
def create_core(settings, name, configset):
    return core_admin(settings, action="CREATE", name=name, instanceDir=name, configSet=configset)


def swap_cores(settings, core, other):
    return core_admin(settings, action="SWAP", core=core, other=other)


def unload_core(settings, name):
    """Unload a core and remove all it had on disk (index, transaction logs, instance dir)."""
    return core_admin(settings, action="UNLOAD", core=name, deleteIndex="true", deleteDataDir="true",
                      deleteInstanceDir="true")


# ------------------------------------------------------------ collections and aliases (SolrCloud)
def cluster_status(settings):
    """CLUSTERSTATUS's ``cluster``: {"collections": {name: {...shards...}}, "aliases": {alias: "c1,c2"}}."""
    cluster = collections_admin(settings, action="CLUSTERSTATUS")["cluster"]
    cluster.setdefault("aliases", {})  # absent when there is none
    return cluster


def alias_target(cluster, name):
    """The collections behind alias ``name``, or None when ``name`` is no alias."""
    target = cluster["aliases"].get(name)
    return [c for c in target.split(",") if c] if target else None


LEADER_WAIT_SECONDS = 60.0  # how long a new collection's shards may take to elect their leaders


def create_collection(settings, name, configset, num_shards, replication_factor):
    """A new collection from a configset in ZooKeeper; maxShardsPerNode so that it fits on a single
    node too (5.x-8.x refuse more shards than that on one node; 9.x ignores it). Returns once every
    shard has an active leader: 5.3.1's CREATE answers before they are elected, and writes are sent
    to the leaders (leaders.py)."""
    answer = collections_admin(settings, action="CREATE", name=name, numShards=num_shards,
                               replicationFactor=replication_factor,
                               maxShardsPerNode=num_shards * replication_factor, **{"collection.configName": configset})
    deadline = time.monotonic() + LEADER_WAIT_SECONDS
    while True:
        leaders, _ = leaders_from(cluster_status(settings), name)
        waiting = leaders.leaderless() if leaders is not None else []
        if not waiting:
            return answer
        if time.monotonic() > deadline:
            raise SolrUnavailable("the new collection %s: shard %s elected no leader within %ds" % (
                name, ", ".join(waiting), LEADER_WAIT_SECONDS))
        time.sleep(0.2)


def point_alias(settings, alias, collection):
    """(Re)point ``alias`` at ``collection``: searchers switch atomically."""
    return collections_admin(settings, action="CREATEALIAS", name=alias, collections=collection)


def delete_collection(settings, name):
    return collections_admin(settings, action="DELETE", name=name)


def describe_cloud(settings, name):
    """What ``status`` shows for ``name`` (an alias or a collection): the collections behind it,
    their shards and replicas with their state, and the live documents of each shard (counted on
    its leader, or else its first replica)."""
    cluster = cluster_status(settings)
    behind = alias_target(cluster, name)
    out = {"alias": name if behind else None, "collections": []}
    for coll in behind or [name]:
        state = cluster["collections"].get(coll)
        if state is None:
            out["collections"].append({"name": coll, "error": "no such collection"})
            continue
        shards = []
        for shard, s in sorted(state.get("shards", {}).items()):
            replicas = [{"name": r.get("core"), "node": r.get("node_name"), "state": r.get("state"),
                         "leader": r.get("leader") == "true"} for r in s.get("replicas", {}).values()]
            shards.append({"name": shard, "state": s.get("state"), "replicas": replicas,
                           "docs": _shard_count(settings, s.get("replicas", {}).values())})
        out["collections"].append({"name": coll, "configset": state.get("configName"), "shards": shards})
    return out


def _shard_count(settings, replicas):
    replicas = sorted(replicas, key=lambda r: r.get("leader") != "true")
    for r in replicas:
        if r.get("state") != "active":
            continue
        try:
            resp = requests.get("%s/%s/select" % (r["base_url"], r["core"]), timeout=settings.SOLR_TIMEOUT,
                                params={"q": "*:*", "rows": 0, "distrib": "false", "wt": "json"},
                                verify=settings.SOLR_VERIFY_TLS, auth=settings.solr_auth)
            return resp.json()["response"]["numFound"]
        except (requests.RequestException, ValueError, KeyError):
            continue
    return None


# ------------------------------------------------------------ configsets
def configset_dir(name):
    """The conf directory of a configset solrsync ships."""
    return os.path.join(CONFIGSETS, name, "conf")


def zip_conf(conf_dir):
    """The files of a conf directory as a zip, paths relative to it (what UPLOAD takes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, _, files in os.walk(conf_dir):
            for f in sorted(files):
                path = os.path.join(root, f)
                zf.write(path, os.path.relpath(path, conf_dir))
    return buf.getvalue()


def upload_configset(settings, name, conf_dir, overwrite=False):
    """Configsets API UPLOAD (Solr >= 7) of ``conf_dir`` as ``name``."""
    params = {"action": "UPLOAD", "name": name}
    if overwrite:
        params.update(overwrite="true", cleanup="true")
    return _admin(settings, "/admin/configs", "Configsets API", params, data=zip_conf(conf_dir))


def zkcli_command(settings, name, conf_dir, zkhost=None):
    """The command that puts a configset into ZooKeeper where Solr has no Configsets API."""
    return "server/scripts/cloud-scripts/zkcli.sh -zkhost %s -cmd upconfig -confdir %s -confname %s" % (
        zkhost or "ZKHOST:2181", os.path.abspath(conf_dir), name)
