"""SolrCloud as the target: SOLR_URL names an alias; rebuilds make a new collection and re-point
the alias; status shows collections, shards and replicas; configsets reach ZooKeeper through the
Configsets API. On the emulator in SolrCloud mode, or the real SolrCloud named by
SOLRSYNC_TEST_SOLRCLOUD_URL. The swap tests of test_versions and test_leases run here too, on SolrCloud."""
import json
import os
import shutil

import pytest

from conftest import use_queue
from test_operations import run_cli
from test_leases import (scaled, test_a_late_add_lands_after_a_swap_and_finds_the_tombstone,  # noqa: F401
                         test_a_push_stalled_across_a_swap_is_not_sent,
                         test_a_reindex_paused_past_its_lease_stops_without_swapping)
from test_versions import (drain, layers, quiet, syncer,  # noqa: F401 (fixtures and tests run here on SolrCloud)
                           test_a_swap_between_the_two_writes_of_one_batch_loses_nothing,
                           test_end_to_end_swap_with_consumers_while_another_process_writes,
                           test_swap_under_mixed_writes_keeps_every_change)

pytestmark = pytest.mark.django


@pytest.fixture
def solr(solrcloud):
    """Every test of this module (and the `project` built on it) talks to SolrCloud."""
    return solrcloud


def behind(solr, alias="layers"):
    cluster = solr.collections(action="CLUSTERSTATUS")[1]["cluster"]
    return cluster.get("aliases", {}).get(alias), cluster["collections"]


def test_status_shows_the_collection_behind_the_alias_its_shards_and_counts(quiet):
    layers(quiet, 12)
    drain()
    quiet.solr.post("update", {"commit": {}})
    target, collections = behind(quiet.solr)
    out = run_cli("status", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["solr_kind"].startswith("SolrCloud ")
    info = data["pipelines"]["layers"]
    assert info["solr_count"] == 12
    cloud = info["cloud"]
    assert cloud["alias"] == "layers" and [c["name"] for c in cloud["collections"]] == [target]
    shards = cloud["collections"][0]["shards"]
    assert len(shards) == len(collections[target]["shards"])
    assert sum(s["docs"] for s in shards) == 12
    assert all(r["state"] == "active" for s in shards for r in s["replicas"])
    table = run_cli("status").stdout
    assert "SolrCloud" in table and "alias layers -> %s" % target in table and "(leader)" in table


def test_swap_builds_a_new_collection_points_the_alias_and_keeps_the_last_n(quiet):
    layers(quiet, 30)
    drain()
    first, collections = behind(quiet.solr)
    shards = len(collections[first]["shards"])

    def swap(keep):
        use_queue("memory://", SOLRSYNC_SOLR_KEEP_COLLECTIONS=str(keep))
        out = run_cli("reindex", "--swap", "--quiet")
        assert out.returncode == 0, out.stderr
        assert quiet.assert_in_step() == 30
        return behind(quiet.solr)
    second, collections = swap(keep=0)
    assert second != first and set(collections) == {second}  # the old one deleted
    assert len(collections[second]["shards"]) == shards  # as many shards as the collection it replaced
    third, collections = swap(keep=1)
    assert set(collections) == {second, third}  # the last one kept for rollback
    fourth, collections = swap(keep=1)
    assert set(collections) == {third, fourth}
    fifth, collections = swap(keep=0)
    assert set(collections) == {fifth} and not quiet.solr.rebuild_leftovers()


def test_swap_on_a_plain_collection_says_how_to_move_to_an_alias_and_make_alias_does_it(quiet):
    solr = quiet.solr
    live, collections = behind(solr)
    plain = solr.unique_core_name("plain")
    status, body = solr.collections(action="CREATE", name=plain, numShards=2, replicationFactor=1, maxShardsPerNode=2,
                                    **{"collection.configName": collections[live]["configName"]})
    assert status == 200, body
    layers(quiet, 7)
    env = {"SOLRSYNC_SOLR_URL": "%s/%s" % (solr.base, plain)}
    out = run_cli("reindex", "--swap", env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "not an alias" in lines[0] and "CREATEALIAS" in lines[0], out.stderr
    assert "--make-alias" in lines[0]
    assert plain in behind(solr)[1] and len(behind(solr)[1]) == 2  # nothing made, nothing deleted
    assert run_cli("reindex", "--make-alias", env=env).returncode == 2  # only with --swap
    out = run_cli("reindex", "--swap", "--make-alias", "--quiet", env=env)
    assert out.returncode == 0, out.stderr
    cluster = solr.collections(action="CLUSTERSTATUS")[1]["cluster"]
    rebuilt = cluster["aliases"].get(plain)
    try:
        assert rebuilt and rebuilt.startswith(plain + "_") and plain not in cluster["collections"]
        assert len(cluster["collections"][rebuilt]["shards"]) == 2  # as many shards as the collection replaced
        assert cluster["aliases"]["layers"] == live  # the other alias untouched
        solr.post("update", {"commit": {}}, core=plain)
        assert solr.select(core=plain)["numFound"] == 7
    finally:
        solr.collections(action="DELETEALIAS", name=plain)
        solr.collections(action="DELETE", name=rebuilt)


def _strict_conf(tmp_path):
    """The shipped configset without a `title` field: Solr refuses every document."""
    from solrsync.admin import configset_dir
    conf = tmp_path / "strict"
    shutil.copytree(configset_dir("layers"), conf)
    schema = conf / "managed-schema"
    schema.write_text(schema.read_text().replace('<field name="title"', '<field name="title_was"'))
    return conf


def test_configset_upload_and_a_rebuild_solr_refused_never_goes_live(quiet, tmp_path):
    quiet.solr.need_emulator("the Configsets API (Solr 7+)")
    if quiet.solr.major < 7:
        pytest.skip("Solr %d has no Configsets API UPLOAD (7+): see the zkcli test below" % quiet.solr.major)
    conf = _strict_conf(tmp_path)
    out = run_cli("configset", "upload", "strict", "--dir", str(conf))
    assert out.returncode == 0 and "uploaded configset strict" in out.stdout, out.stderr
    assert "strict" in quiet.solr.http.get("%s/admin/configs" % quiet.solr.base,
                                           params={"action": "LIST", "wt": "json"}).json()["configSets"]
    again = run_cli("configset", "upload", "strict", "--dir", str(conf))
    assert again.returncode == 1 and "already exists" in again.stderr and "--overwrite" in again.stderr
    assert run_cli("configset", "upload", "strict", "--dir", str(conf), "--overwrite").returncode == 0
    layers(quiet, 20)
    drain()
    live, _ = behind(quiet.solr)
    use_queue("memory://", SOLRSYNC_SOLR_CONFIGSET="strict")
    out = run_cli("reindex", "--swap", "--quiet")
    assert out.returncode == 1 and "refused 20" in out.stderr and "untouched" in out.stderr, out.stderr
    now, collections = behind(quiet.solr)
    kept = (set(collections) - {live}).pop()
    assert "collection %s did not go live" % kept in out.stderr, out.stderr
    assert now == live and len(collections) == 2  # the alias as it was; the refused one kept for inspection
    assert quiet.assert_in_step() == 20


def test_configset_upload_refuses_what_it_cannot_do(quiet, tmp_path):
    assert run_cli("configset", "upload", "x", "--dir", str(tmp_path)).returncode == 2  # no solrconfig.xml
    assert run_cli("configset", "upload", "nosuch").returncode == 2  # no such shipped configset
    assert run_cli("configset", "frobnicate").returncode == 2


def test_configset_upload_on_solr_before_7_prints_the_zkcli_command(quiet, capsys):
    """Solr 5/6 have no Configsets API: the zkcli.sh command is printed, exit 1 (nothing uploaded)."""
    from solrsync import cli
    from solrsync.admin import SolrKind
    import solrsync.admin as admin
    real = admin.solr_kind
    admin.solr_kind = lambda settings: SolrKind(cloud=True, version="5.3.1", zk_host="127.0.0.1:9983")
    try:
        code = cli.main(["configset", "upload"], syncer_factory=syncer)
    finally:
        admin.solr_kind = real
    printed = capsys.readouterr()
    assert code == 1 and "no Configsets API" in printed.err
    assert "zkcli.sh -zkhost 127.0.0.1:9983 -cmd upconfig -confdir %s -confname layers" % admin.configset_dir(
        "layers") in printed.out


def test_configset_upload_on_standalone_solr_is_refused(quiet, solr_emulator):
    from solrsync import cli
    os.environ["SOLRSYNC_SOLR_URL"] = solr_emulator.core_url("layers")
    use_queue("memory://")
    assert cli.main(["configset", "upload"], syncer_factory=syncer) == 2


def test_configset_apply_waits_for_every_shard(quiet):
    """The Schema API answers once the core asked has the change; --apply waits for every shard's, so
    the documents pushed next, whatever their shard, may use the new fields."""
    from solrsync.configset import apply
    solr = quiet.solr
    if solr.major < 7:
        pytest.skip("configset --apply adds point field types (Solr 7+)")
    added, _ = apply(syncer().settings, "layers", [("edition", "string", False)])
    assert [f["name"] for f in added["add-field"]] == ["edition"]
    ids = [solr.id_on(i, "ed") for i in range(len(solr.shards()))]
    status, body = solr.post("update", [{"id": i, "edition": "1st", "solrsync_version": 1} for i in ids],
                             commit="true")
    assert status == 200, body
    assert solr.ids("edition:1st") == sorted(ids)
