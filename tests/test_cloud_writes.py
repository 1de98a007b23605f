"""A write counts only when Solr made it (issue 25): on a SolrCloud of two nodes (the emulator's
cloud mode, ``nodes=2``: shard1's leader on node 0, shard2's on node 1), node 1 acts as a leader
back from a long pause -- it refuses what it is sent, and the documents node 0 forwards to it are
dropped while node 0 logs the failure and answers status 0, as SolrCloud 5.3.1 did. solrsync sends
each shard's documents to its leader (solrsync/leaders.py), so the refusal is seen, the changes stay
pending and are written once the leader takes them: every document ends equal, field by field, to
what the database builds now."""
import pytest

from solrsync.testing.pytest_plugin import SolrTarget
from test_versions import drain, layers, quiet  # noqa: F401 (fixture)

pytestmark = pytest.mark.django


@pytest.fixture
def solr(two_nodes):
    """The alias ``layers`` on node 0 of a two-node SolrCloud (the emulator), clean."""
    two_nodes.reset()
    yield SolrTarget(two_nodes.core_url("layers"), two_nodes)
    two_nodes.reset()


def test_the_emulator_answers_200_for_documents_a_refusing_leader_never_got(solr):
    """The fault as measured on SolrCloud 5.3.1: status 0, the error only in the node's log."""
    emulator = solr.emulator
    here, there = solr.id_on(0, "a"), solr.id_on(1, "b")
    assert solr.shards()[1]["url"].startswith(emulator.node_url(1))  # shard2's leader is on node 1
    emulator.cloud.refuse_as_leader(1)
    resp = solr.http.post(solr.url + "/update", params={"commit": "true"}, timeout=10,
                          json=[{"id": here, "solrsync_version": 1}, {"id": there, "solrsync_version": 1}])
    assert resp.status_code == 200 and resp.json()["responseHeader"]["status"] == 0
    assert sorted(solr.ids()) == [here]  # the other shard's document is gone
    assert any("forwarding update" in line for line in emulator.cloud.log)
    direct = solr.http.post(solr.shards()[1]["url"] + "/update", json=[{"id": there, "solrsync_version": 2}],
                            timeout=10)
    assert direct.status_code == 503 and "locally we don't think so" in direct.text


def test_a_leader_refusing_after_a_pause_loses_no_change(quiet):
    from solrsync.sink import SolrUnavailable
    emulator = quiet.solr.emulator
    made = layers(quiet, 24)
    drain()
    assert quiet.assert_in_step() == 24
    emulator.cloud.refuse_as_leader(1)  # the leader of shard2 comes back from its pause
    for layer in made[:16]:
        layer.title = "Renamed %s" % layer.name
        layer.save()
    for layer in made[16:20]:
        layer.delete()
    layers(quiet, 3, abstract="created while the leader refused")
    with pytest.raises(SolrUnavailable):
        drain()
    from solrsync.contrib.django.models import Change
    assert Change.objects.exists()  # the changes stay pending
    emulator.cloud.refuse_as_leader(1, False)  # it registered again
    drain()
    assert not Change.objects.exists()
    assert not any("forwarding update" in line for line in emulator.cloud.log)  # nothing was forwarded
    assert quiet.assert_in_step() == 23


def test_leaders_are_read_from_clusterstatus_as_each_solr_version_writes_it():
    """5.x/8.x give each replica's base_url, a Solr that leaves it out its node_name; a shard
    without an active leader is no leader (the write stays pending); other routers are not routed."""
    from solrsync.leaders import NoLeader, leaders_from

    def cluster(shard1_replica, router="compositeId"):
        return {"live_nodes": ["h:1_solr", "h:2_solr"], "aliases": {"layers": "layers_2"},
                "collections": {"layers_2": {"router": {"name": router}, "shards": {
                    "shard1": {"range": "80000000-ffffffff", "state": "active",
                               "replicas": {"core_node1": shard1_replica}},
                    "shard2": {"range": "0-7fffffff", "state": "active", "replicas": {"core_node2": {
                        "core": "layers_2_shard2_replica1", "base_url": "http://h:2/solr", "node_name": "h:2_solr",
                        "state": "active", "leader": "true"}}},
                    "shard0": {"range": "80000000-7fffffff", "state": "inactive", "replicas": {}}}}}}
    leader = {"core": "layers_2_shard1_replica1", "node_name": "h:1_solr", "state": "active", "leader": "true"}
    leaders, alias = leaders_from(cluster(leader), "layers")
    assert alias and [s[3] for s in leaders.shards] == ["http://h:1/solr/layers_2_shard1_replica1",
                                                        "http://h:2/solr/layers_2_shard2_replica1"]
    grouped = leaders.group([{"id": str(i)} for i in range(20)])
    assert set(grouped) == {s[3] for s in leaders.shards} and sum(map(len, grouped.values())) == 20
    down, _ = leaders_from(cluster(dict(leader, state="down")), "layers")
    with pytest.raises(NoLeader):
        down.group([{"id": str(i)} for i in range(20)])
    assert leaders_from(cluster(leader, router="implicit"), "layers")[0] is None
