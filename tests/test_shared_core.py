"""What an operator does to a deployment loses nothing: two pipelines in one core (each prunes,
verifies, purges and counts its own documents), an unversioned core upgraded by `reindex --swap`
while consumers run, a nightly prune meeting an unreadable row, Solr at an IPv6 address. Each ends
comparing every document, field by field, with what the database builds now."""
import os
import pathlib
import shutil
import subprocess
import sys
import time

import pytest
from django.db import connection

from conftest import DEMO, normalized, stop, use_queue, wait_until
from test_capture import maps  # noqa: F401 (fixture: the maps pipeline beside layers, in the layers core)

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


def expected(*names):
    """{id: document} the database builds now for these pipelines."""
    out = {}
    for name in names:
        source = syncer().sources[name]
        for rows in source.iter_chunks(1000):
            for row in rows:
                doc = source.pipeline.document.build(row)[0]
                out[doc["id"]] = normalized(doc)
    return out


def assert_core_holds(project, *names, extra=()):
    """The core holds exactly what these pipelines build now (and the ``extra`` ids), field by field."""
    solr = project.solr_docs()
    for doc_id in extra:
        assert solr.pop(doc_id, None) is not None, doc_id
    want = expected(*names)
    assert solr == want, (sorted(set(solr) ^ set(want))[:5], [(want.get(i), solr.get(i)) for i in solr
                                                              if want.get(i) != solr[i]][:3])
    return len(want)


def test_two_pipelines_in_one_core_own_their_documents(project, maps):
    """layers and maps share the layers core: the nightly resync (reindex --prune), --verify --fix,
    the tombstone purge and status each see only their own pipeline's documents."""
    from layers.models import Category, Map
    from solrsync.cli import collect_status
    from solrsync.reindex import reindex
    from solrsync.verify import verify
    layers = [project.make_layer(name="l%d" % i, title="Layer %d" % i) for i in range(4)]
    cat = Category.objects.create(identifier="atlases")
    atlases = [Map.objects.create(title="Map %d" % i, category=cat) for i in range(3)]
    project.solr.post("update", [{"id": "ghost-of-a-layer", "title": "gone", "solrsync_pipeline": "layers",
                                  "solrsync_version": 1},
                                 {"id": "ghost-of-a-map", "title": "gone", "solrsync_pipeline": "maps",
                                  "solrsync_version": 1},
                                 {"id": "written-before-the-field", "title": "old", "solrsync_version": 1}],
                      commit="true")
    assert assert_core_holds(project, "layers", "maps",
                             extra=("ghost-of-a-layer", "ghost-of-a-map", "written-before-the-field")) == 7
    drift = verify(syncer(), "layers")
    assert drift.counts["orphaned"] == 1 and drift.solr_checked == 5  # its own 4 and its ghost
    assert drift.examples["orphaned"][0][0] == "ghost-of-a-layer"
    drift = verify(syncer(), "maps", fix=True)
    assert drift.counts["orphaned"] == 1 and drift.queued == 1 and drift.solr_checked == 4
    syncer().drain("maps", coalesce=False)
    result = reindex(syncer(), "layers", prune=True)  # the nightly resync
    assert result.deleted == 1 and result.indexed == 4
    atlases[0].delete()
    layers[0].delete()
    syncer().settings.TOMBSTONE_SECONDS = 0  # the purge of the tombstones both pipelines left
    try:
        syncer().purge_tombstones()
    finally:
        syncer().settings.TOMBSTONE_SECONDS = 3600
    project.solr.post("update", {"commit": {}})
    assert project.solr.get("get", id=str(atlases[0].pk))[1]["doc"] is None
    status = collect_status(syncer())["pipelines"]
    assert (status["layers"]["solr_count"], status["maps"]["solr_count"]) == (3, 2)
    assert reindex(syncer(), "maps", prune=True).deleted == 0
    assert assert_core_holds(project, "layers", "maps", extra=("written-before-the-field",)) == 5
    # the README's upgrade step for documents written before the field: delete what no pipeline claims
    project.solr.post("update", {"delete": {"query": "*:* -solrsync_pipeline:[* TO *]"}}, commit="true")
    assert assert_core_holds(project, "layers", "maps") == 5
    # a swap rebuilds the core whole: every pipeline's documents, each stamped with its own
    layers[1].title = "Edited before the swap"
    layers[1].save()
    assert reindex(syncer(), "layers", swap=True).indexed == 3
    assert assert_core_holds(project, "layers", "maps") == 5
    assert not project.solr.rebuild_leftovers()
    atlases[1].title = "Edited after the swap"
    atlases[1].save()
    project.solr.post("update", {"commit": {}})
    assert (collect_status(syncer())["pipelines"]["maps"]["solr_count"], assert_core_holds(project, "layers", "maps")) \
        == (2, 5)


def test_a_pipeline_alone_in_its_core_owns_the_documents_written_before_the_field(project):
    from solrsync.reindex import reindex
    use_queue("immediate", SOLRSYNC_PIPELINES="layers")  # the demo's maps pipeline left out
    layer = project.make_layer()
    project.solr.post("update", [{"id": "written-before-the-field", "title": "old", "solrsync_version": 1}],
                      commit="true")
    assert reindex(syncer(), "layers", prune=True).deleted == 1
    assert project.assert_in_step() == 1 and project.doc(layer)["title"] == layer.title


def test_the_prune_keeps_the_document_of_an_unreadable_row(project):
    """The live path keeps the document of a row it cannot read (what it holds now is unknown):
    so does the nightly prune."""
    from solrsync.reindex import reindex
    from test_versions import _poison
    good = project.make_layer(title="Good")
    bad = project.make_layer(title="Readable once")
    _poison(bad)
    result = reindex(syncer(), "layers", prune=True, batch_size=1)
    assert result.skipped["unreadable"] == 1 and result.deleted == 0
    assert project.doc(bad)["title"] == "Readable once" and project.doc(good) is not None
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_layer SET date = %s WHERE id = %s", ["2024-02-28 00:00:00", bad.pk])
    syncer().drain("layers", coalesce=False)  # repaired: the triggers recorded it
    assert project.assert_in_step() == 2


def _old_configset(tmp_path, base):
    """The configset ``base`` as it was before versioned writes: no solrsync fields, no chain."""
    import re
    conf = tmp_path / "old" / "conf"
    shutil.copytree(base, conf)
    schema = conf / "managed-schema"
    schema.write_text(re.sub(r'\s*<field name="solrsync_[a-z]+"[^>]*/>', "", schema.read_text()))
    config = conf / "solrconfig.xml"
    text = re.sub(r"<updateRequestProcessorChain.*?</updateRequestProcessorChain>", "", config.read_text(), flags=re.S)
    config.write_text(text.replace('<lst name="appends"><str name="fq">solrsync_live:true</str></lst>', ""))
    return conf


def test_the_readme_upgrade_with_consumers_running(project, tmp_path):
    """An unversioned core, consumers running: the new configset and `reindex --swap`, as the
    README says, while the consumers keep pushing edits and deletes. Their sinks find out from
    Solr's answers that the core now versions writes, and write again; nothing is filed as
    refused, nothing is lost."""
    from solrsync.admin import configset_dir
    from solrsync.contrib.django.models import Change, Failure
    emulator = project.solr.emulator
    if emulator is not None:
        emulator.add_core("layers", _old_configset(tmp_path, configset_dir("layers")))
    else:  # a real Solr: the conf it runs (SOLRSYNC_TEST_SOLR_CONF) without versions, swapped in as `layers`
        if not os.environ.get("SOLRSYNC_TEST_SOLR_CONF"):
            pytest.skip("name the conf dir the real Solr's layers core was made from in SOLRSYNC_TEST_SOLR_CONF")
        # Solr 9 creates cores only under its home (allowPaths): SOLRSYNC_TEST_SOLR_HOME names it
        home = os.environ.get("SOLRSYNC_TEST_SOLR_HOME")
        where = tmp_path if not home else pathlib.Path(home) / ("old-%d" % time.monotonic_ns())
        old = _old_configset(where, os.environ["SOLRSYNC_TEST_SOLR_CONF"])
        for action in (dict(action="CREATE", name="layers_unversioned", instanceDir=str(old.parent)),
                       dict(action="SWAP", core="layers", other="layers_unversioned"),
                       dict(action="UNLOAD", core="layers_unversioned", deleteIndex="true")):
            status, body = project.solr.admin(**action)
            assert status == 200, body
    use_queue("sqlite:///%s/upgrade-%d.sqlite3" % (project.info["var"], time.monotonic_ns()))
    victims = [project.make_layer(name="v%d" % i, title="Before the upgrade %d" % i) for i in range(6)]
    consumers = [project.consumer("-w", "1")]  # one worker: the one that saw the old core pushes what follows
    try:
        assert wait_until(lambda: project.solr.select("*:*")["numFound"] == 6, timeout=30), \
            open(consumers[0].log_path).read()[-2000:]
        proc = subprocess.run([sys.executable, "manage.py", "solrsync", "reindex", "--swap", "--quiet"], cwd=str(DEMO),
                              env=dict(os.environ, PYTHONPATH=str(DEMO)), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "solrsync_version" in repr(project.solr.get("schema/fields")[1]["fields"])  # now versioned
        victims[0].title = "Edited after the upgrade"
        victims[0].save()
        victims[1].delete()
        victims[2].is_published = False
        victims[2].save()
        project.make_layer(name="new", title="Created after the upgrade")
        assert wait_until(lambda: Change.objects.count() == 0, timeout=60), \
            open(consumers[0].log_path).read()[-3000:]
        time.sleep(0.5)
        assert not Failure.objects.exists(), list(Failure.objects.values_list("message", flat=True))
        assert project.assert_in_step() == 5
        logs = [open(c.log_path).read() for c in consumers]
        assert "versioned writes now" in logs[0], logs[0][-3000:]  # found out from Solr's answer
    finally:
        for consumer in consumers:
            stop(consumer)


def test_ipv6_solr_urls_keep_their_brackets(project, tmp_path):
    """SOLR_URL http://[::1]:PORT/solr/layers: settings, sinks, CoreAdmin (a swap) and status."""
    from solrsync.config import load_settings
    from solrsync.testing import SolrEmulator
    settings = load_settings({"SOLR_URL": "http://u:secret@[::1]:8983/solr/layers"}, environ={})
    assert settings.solr_base == "http://[::1]:8983/solr" and settings.core_url("x") == "http://[::1]:8983/solr/x"
    from solrsync.config import mask
    assert mask(settings.SOLR_URL) == "http://u:**@[::1]:8983/solr/layers"
    with SolrEmulator(host="::1") as emulator:
        url = emulator.core_url("layers")
        assert url.startswith("http://[::1]:")
        os.environ["SOLRSYNC_SOLR_URL"] = url
        use_queue("memory://")
        from solrsync.cli import collect_status
        from solrsync.reindex import reindex
        layer = project.make_layer()
        syncer().drain("layers", coalesce=False)
        assert syncer().sink("layers").url == url
        reindex(syncer(), "layers", swap=True)
        info = collect_status(syncer())["pipelines"]["layers"]
        assert info["solr"] == "ok" and info["solr_count"] == 1
        sink = syncer().sink("layers")
        sink.commit()
        assert [d["id"] for d in sink.search("*:*", fl="id").docs] == [layer.uuid]
