"""SolrCloud writes go to each shard's leader, as Solr's own CloudSolrClient sends them.

Why: a node that receives an update forwards each other shard's documents to that shard's leader,
and when the leader refuses them (a leader paused past its ZooKeeper session: "ClusterState says
we are the leader, but locally we don't think so") SolrCloud 5.3.1 logs "forwarding update ...
failed - retrying" and answers the client status 0 -- a 200 for documents it did not write
(issue 25). A request sent straight to the shard's leader holding only that shard's documents
forwards nothing: the leader writes them (and sends them to its replicas) or answers an error, so
a 200 means written.

Why not the achieved replication factor (``rf``/``min_rf``): it counts the replicas of a shard that
took the update after its leader did; it says nothing when the leader itself never got the
documents, its parameter and answer differ between 5.x (``rf`` only when ``min_rf`` is sent) and
7.x+ (always sent; SolrJ deprecated ``min_rf``), and routing works the same on 5.x, 8.x and 9.x:
it needs only CLUSTERSTATUS (shards, hash ranges, leaders) and the compositeId hash.
"""
import re
import time

_RANGE = re.compile(r"^([0-9a-f]+)-([0-9a-f]+)$", re.I)
ROUTE_TTL = 5.0  # seconds a collection's leaders are trusted (refreshed at once after any error)


def murmur3(data, seed=0):
    """MurmurHash3 x86 32-bit (org.apache.solr.common.util.Hash.murmurhash3_x86_32), unsigned."""
    c1, c2, mask = 0xcc9e2d51, 0x1b873593, 0xffffffff
    h, n = seed, len(data)
    end = n & ~3

    def mix(k):
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        return (k * c2) & mask
    for i in range(0, end, 4):
        h ^= mix(int.from_bytes(data[i:i + 4], "little"))
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xe6546b64) & mask
    if n & 3:
        h ^= mix(int.from_bytes(data[end:], "little"))
    h ^= n
    h ^= h >> 16
    h = (h * 0x85ebca6b) & mask
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & mask
    return h ^ (h >> 16)


def route_hash(doc_id):
    """The compositeId router's hash of ``doc_id``, a signed 32-bit int (``a!b`` takes its upper
    16 bits from ``a`` and the lower from ``b``)."""
    doc_id = str(doc_id)
    if "!" in doc_id:
        a, _, b = doc_id.partition("!")
        h = (murmur3(a.encode()) & 0xffff0000) | (murmur3(b.encode()) & 0x0000ffff)
    else:
        h = murmur3(doc_id.encode())
    return h - (1 << 32) if h >= 1 << 31 else h


def _signed(hex_text):
    v = int(hex_text, 16)
    return v - (1 << 32) if v >= 1 << 31 else v


class NoLeader(Exception):
    """A shard of the collection has no active leader now: nothing can be written to it."""


class Leaders:
    """One collection's shards: hash range -> its leader's core URL."""

    def __init__(self, collection, shards, fetched):
        self.collection, self.shards, self.fetched = collection, shards, fetched  # [(lo, hi, name, url|None)]

    def leader_of(self, doc_id):
        h = route_hash(doc_id)
        for lo, hi, name, url in self.shards:
            if lo <= h <= hi:
                if url is None:
                    raise NoLeader("shard %s of %s has no active leader now" % (name, self.collection))
                return url
        raise NoLeader("no shard of %s covers the hash of id %r" % (self.collection, doc_id))

    def group(self, docs, key=lambda d: d.get("id")):
        """{leader core URL: [the docs it holds]} in the docs' order."""
        out = {}
        for doc in docs:
            out.setdefault(self.leader_of(key(doc)), []).append(doc)
        return out


def _base_url(replica, scheme):
    """A replica's node URL: ``base_url``, or (where a Solr leaves it out) from ``node_name``
    ``host:port_solr`` -> ``scheme://host:port/solr``."""
    if replica.get("base_url"):
        return replica["base_url"].rstrip("/")
    host, _, context = str(replica.get("node_name") or "").rpartition("_")
    return "%s://%s/%s" % (scheme, host, context) if host else None


def leaders_from(cluster, name, scheme="http"):
    """-> (Leaders, is_alias) for the collection or alias ``name`` in a CLUSTERSTATUS ``cluster``,
    or (None, False) when writes to it cannot be routed (a core name, an implicit router, a shard
    without a hash range): those are sent to ``name`` as before."""
    aliases = cluster.get("aliases") or {}
    is_alias = name in aliases
    collection = aliases[name].split(",")[0] if is_alias else name  # Solr writes to an alias's first collection
    state = (cluster.get("collections") or {}).get(collection)
    if not state or (state.get("router") or {}).get("name", "compositeId") != "compositeId":
        return None, is_alias
    live = set(cluster.get("live_nodes") or ())
    shards = []
    for shard_name, shard in sorted((state.get("shards") or {}).items()):
        if shard.get("state", "active") != "active":
            continue  # a parent shard after a split, an inactive slice: holds no new writes
        m = _RANGE.match(shard.get("range") or "")
        if not m:
            return None, is_alias
        url = None
        for replica in (shard.get("replicas") or {}).values():
            base = _base_url(replica, scheme)
            if str(replica.get("leader")).lower() == "true" and replica.get("state") == "active" and \
                    (not live or replica.get("node_name") in live) and base and replica.get("core"):
                url = "%s/%s" % (base, replica["core"])
        shards.append((_signed(m.group(1)), _signed(m.group(2)), shard_name, url))
    return Leaders(collection, shards, time.monotonic()), is_alias
