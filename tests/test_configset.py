"""`solrsync configset`: a configset made from a pipeline's documents, written, served by the
emulator and applied to an existing core; the emulator's configsets and its own hygiene."""
import os
import subprocess
import sys
import textwrap

import pytest
import requests

from solrsync import configset
from solrsync.config import load_settings
from solrsync.documents import BBox, Date, Document, Field, Multi, Text
from solrsync.testing.emulator import CONFIGSETS, SolrEmulator, free_port
from solrsync.testing.pytest_plugin import SolrTarget


class BookDocument(Document):
    id = Field("isbn")
    title = Text("title")
    pages = Field("pages")
    price = Field("price")
    published = Date("published")
    authors = Multi("authors", attr="name")
    footprint = BBox("x0", "x1", "y0", "y1")
    shelf = Field(fn=lambda row: "A1")


BOOK_TYPES = {"pages": "pint", "price": "pdouble", "authors.name": "string"}


def book_fields():
    return configset.document_fields(BookDocument, BOOK_TYPES.get)


def test_field_types_come_from_the_field_classes_and_the_source():
    assert book_fields() == [("title", "text_general", False), ("pages", "pint", False), ("price", "pdouble", False),
                             ("published", "pdate", False), ("authors", "string", True), ("footprint", "bbox", False),
                             ("shelf", "string", False)]


def test_a_written_configset_serves_versioned_writes_and_the_catch_all_field(tmp_path):
    configset.write(tmp_path / "books", "books", book_fields())
    with pytest.raises(ValueError, match="already exist"):  # hand edits are not overwritten
        configset.write(tmp_path / "books", "books", book_fields())
    with SolrEmulator(cores={"books": tmp_path / "books" / "conf"}) as emu:
        books = SolrTarget(emu.core_url("books"), emu)
        doc = {"id": "978-3", "title": "The Name of the Rose", "pages": 512, "price": 9.5, "authors": ["Eco", "Weaver"],
               "published": "1980-01-01T00:00:00Z", "footprint": "ENVELOPE(7, 12, 47, 44)", "shelf": "A1",
               "solrsync_version": 5}
        assert books.post("update", [doc], commit="true")[0] == 200
        assert books.post("update", [dict(doc, solrsync_version=4, title="older")], commit="true")[0] == 200
        assert [d["title"] for d in books.select("rose")["docs"]] == ["The Name of the Rose"]  # df=text
        assert books.ids("authors:Weaver") == ["978-3"]
        assert books.post("update", [{"id": "x", "title": "no version"}])[0] == 500  # as Solr 8.11 (5.3.1: 400)
        status, body = books.post("update", {"delete": "978-3"}, commit="true", solrsync_version=6)
        assert status == 200 and books.ids() == []  # the tombstone is filtered by the /select appends


def test_apply_adds_what_is_missing_and_names_what_needs_a_new_core():
    fields = [("title", "string", False), ("pages", "pint", False), ("shelf", "string", False),
              ("keywords", "string", True)]
    with SolrEmulator() as emu:
        settings = load_settings({"SOLR_URL": emu.url}, environ={})
        commands, problems = configset.apply(settings, "layers", fields)
        assert commands == {"add-field-type": [dict({"name": "pint"}, **configset.FIELD_TYPES["pint"])],
                            "add-field": [{"name": "pages", "type": "pint", "indexed": True, "stored": True},
                                          {"name": "shelf", "type": "string", "indexed": True, "stored": True}],
                            "add-copy-field": [{"source": "shelf", "dest": "text"}]}
        assert problems == ["field title is text_general in the core, string here: cannot be changed in place: needs a "
                            "new core (`solrsync configset` + `reindex --swap`)"]
        layers = SolrTarget(emu.core_url("layers"), emu)
        assert layers.get("schema/fields/pages")[1]["field"]["type"] == "pint"
        doc = {"id": "a", "pages": 3, "shelf": "attic", "solrsync_version": 1}
        assert layers.post("update", [doc], commit="true")[0] == 200
        assert layers.ids("attic") == ["a"]  # copied into the catch-all field
        assert configset.apply(settings, "layers", fields)[0] == {}  # applied once is enough
        # the emulator answers the Schema API as Solr 8 does: all commands or none, each error named
        status, body = layers.post("schema", {"add-field": [{"name": "fresh", "type": "string"},
                                                            {"name": "other", "type": "nosuch"}]})
        assert status == 400 and body["error"]["msg"] == "error processing commands"
        assert body["error"]["details"][0]["errorMessages"] == ["No such field type 'nosuch'"]
        assert layers.get("schema/fields/fresh")[0] == 404


def test_apply_to_a_core_without_versioned_writes_says_it_needs_a_new_core(tmp_path):
    conf = tmp_path / "old" / "conf"
    configset.write(tmp_path / "old", "old", [])
    schema = (conf / "managed-schema").read_text()
    (conf / "managed-schema").write_text(schema.replace('<field name="solrsync_version" type="plong" indexed="true" '
                                                        'stored="true" docValues="true"/>', ""))
    (conf / "solrconfig.xml").write_text((CONFIGSETS / "layers" / "conf" / "solrconfig.xml").read_text().split(
        "<updateRequestProcessorChain")[0] + "</config>")
    with SolrEmulator(cores={"old": conf}) as emu:
        commands, problems = configset.apply(load_settings({"SOLR_URL": emu.url}, environ={}), "old", [])
    assert commands == {} and len(problems) == 1 and "no solrsync_version field" in problems[0]


# ------------------------------------------------------------------ the emulator
def test_emulator_serves_cores_from_their_own_configsets_without_warnings(tmp_path):
    configset.write(tmp_path / "sets" / "books", "books", book_fields())
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-W", "error", "-m", "solrsync.testing.emulator", "--port", str(port),
                             "--configsets", str(tmp_path / "sets"), "--core", "layers",
                             "--core", "books=%s" % (tmp_path / "sets" / "books" / "conf")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "cores: layers, books" in proc.stdout.readline()
        base = "http://127.0.0.1:%d/solr" % port
        books = SolrTarget(base + "/books")
        assert books.post("update", [{"id": "1", "pages": 3, "solrsync_version": 1}], commit="true")[0] == 200
        assert books.post("update", [{"id": "2", "pages": 3, "solrsync_version": 1}], core="layers")[0] == 400
        assert books.admin(action="CREATE", name="more", configSet="books")[0] == 200
        assert books.post("update", [{"id": "1", "pages": 3, "solrsync_version": 1}], core="more")[0] == 200
        status, body = books.admin(action="CREATE", name="other", configSet="layers")  # not in --configsets
        assert status == 400 and "configsets/layers" in body["error"]["msg"]
        # the fault endpoint takes what curl -d sends as a form
        assert requests.post(base + "/_emulator/faults", data="status=503&count=1").status_code == 200
        assert books.get("select")[0] == 503 and books.get("select")[0] == 200
        # the fault endpoint is not faulted itself: a fault is cleared over HTTP, and a control
        # request does not use up a count
        assert requests.post(base + "/_emulator/faults", data="status=503&seconds=30").status_code == 200
        assert requests.post(base + "/_emulator/faults", data="clear=1").status_code == 200
        assert books.get("select")[0] == 200
        assert requests.post(base + "/_emulator/faults", data="status=503&count=1").status_code == 200
        assert requests.get(base + "/_emulator/stats").status_code == 200
        assert books.get("select")[0] == 503 and books.get("select")[0] == 200
        for bad in ("stauts=503", "status=abc", "drop=true&status=503", ""):
            r = requests.post(base + "/_emulator/faults", data=bad)
            assert r.status_code == 400 and "faults" in r.json()["error"]["msg"], bad
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Warning" not in err, err


def test_emulator_cli_misuse_is_one_line(tmp_path):
    for args in (["--core", "books=%s" % tmp_path], ["--configsets", str(tmp_path / "nope")]):
        proc = subprocess.run([sys.executable, "-m", "solrsync.testing.emulator", "--port", "0", *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr


def test_emulator_answers_as_the_solr_version_it_is_told(tmp_path):
    """--solr-version: /admin/info/system reports it, and the answers that differ follow it; a
    version it cannot answer as is one line, exit 2."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "solrsync.testing.emulator", "--port", str(port), "--cloud",
                             "--solr-version", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "answering as Solr 8.11.2" in proc.stdout.readline()
        cloud = SolrTarget("http://127.0.0.1:%d/solr/layers" % port)
        assert (cloud.is_cloud, cloud.major) == (True, 8)
        status, body = cloud.admin(action="CREATE", name="x", configSet="layers")
        assert status == 400 and "non legacy mode coreNodeName missing" in body["error"]["msg"]
        assert cloud.post("update", [{"id": "n"}])[0] == 500  # no solrsync_version: 8.x says 500
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    with SolrEmulator(solr_version=5) as emu:
        old = SolrTarget(emu.core_url("layers"), emu)
        assert old.major == 5 and old.post("update", [{"id": "n"}])[0] == 400
        assert old.post("update", [{"id": "d", "modified_date": "2020-01-02T03:04:05.500Z", "solrsync_version": 1}],
                        commit="true")[0] == 200
        assert old.select()["docs"][0]["modified_date"] == "2020-01-02T03:04:05.5Z"
        assert "numFoundExact" not in old.select()
    with pytest.raises(ValueError, match="answers as Solr 5, 8, 9, not 7"):
        SolrEmulator(solr_version=7)
    proc = subprocess.run([sys.executable, "-m", "solrsync.testing.emulator", "--port", "0", "--solr-version", "7"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "--solr-version" in proc.stderr and "Traceback" not in proc.stderr


def test_the_pytest_plugin_reads_the_configsets_option(tmp_path):
    configset.write(tmp_path / "cs" / "books", "books", book_fields())
    (tmp_path / "pytest.ini").write_text("[pytest]\nsolrsync_configsets = cs\n")
    (tmp_path / "test_books.py").write_text(textwrap.dedent("""
        def test_books(solr, solr_emulator):
            assert set(solr_emulator.configsets) == {"books"}
            assert solr.admin(action="CREATE", name="books", configSet="books")[0] == 200
            assert solr.post("update", [{"id": "1", "pages": 2, "solrsync_version": 1}], core="books")[0] == 200
    """))
    env = dict(os.environ)
    env.pop("SOLRSYNC_TEST_SOLR_URL", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr


# ------------------------------------------------------------------ the demo project
def configset_cli(*args):
    """`manage.py solrsync configset ...` in this process -> (exit code, stdout, stderr)."""
    import contextlib
    import io
    from solrsync.cli import main
    from solrsync.contrib.django.runtime import get_syncer, get_tasks
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["configset", *args], syncer_factory=get_syncer, tasks_factory=get_tasks,
                    prog="manage.py solrsync")
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django
def test_the_generated_layers_configset_indexes_and_finds_the_demo(project, tmp_path):
    project.solr.need_emulator("a core served from a generated configset")
    from layers.management.commands.demo import Command
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    code, out, _ = configset_cli("layers", str(tmp_path / "layers"))
    assert code == 0 and "managed-schema" in out
    project.solr.emulator.add_core("layers", tmp_path / "layers" / "conf")  # reset() brings the shipped one back
    Command().load(300)
    result = reindex(get_syncer(), "layers")
    assert result.indexed and not result.rejected
    assert project.assert_in_step() == result.indexed
    berlin = project.make_layer(title="Bicycle lanes of Berlin")
    get_syncer().drain("layers", coalesce=False)
    assert project.doc(berlin)["title"] == "Bicycle lanes of Berlin"  # commits
    assert project.solr.ids("bicycle") == [berlin.uuid]
    assert berlin.uuid in project.solr.ids(fq='bbox:"Intersects(ENVELOPE(13, 14, 53, 52))"')


@pytest.mark.django
def test_configset_cli_prints_refuses_and_applies(project, tmp_path):
    code, out, _ = configset_cli("layers")
    assert code == 0 and '<field name="title" type="text_general"' in out and "<copyField" in out
    for args, msg in ((["nosuch"], "unknown pipeline nosuch"), (["layers", str(tmp_path), "--apply"], "drop DIR")):
        code, _, err = configset_cli(*args)
        assert code == 2 and msg in err and len(err.splitlines()) == 1, err
    assert configset_cli("layers", "--solr-version", "8")[1] == configset_cli("layers")[1]  # 8.11 and 9.x alike
    assert configset_cli("layers", str(tmp_path))[0] == 0
    code, _, err = configset_cli("layers", str(tmp_path))
    assert code == 2 and "already exist" in err
    if project.solr.major < configset.MIN_MAJOR:  # 5.x: refused in one line, the core left alone
        before = project.solr.get("schema")[1]["schema"]
        code, out, err = configset_cli("layers", "--apply")
        assert (code, out) == (2, "") and "configset --apply: the core runs " in err and \
            "for Solr 8.11 and 9.x" in err and len(err.splitlines()) == 1, err
        assert project.solr.get("schema")[1]["schema"] == before
        return
    # the shipped layers schema does not copy username into the catch-all field; the generated one does
    code, out, _ = configset_cli("layers", "--apply")
    assert (code, out.strip()) == (0, "core layers: add-copy-field username -> text")
    code, out, _ = configset_cli("layers", "--apply")
    assert (code, out.strip()) == (0, "core layers: has everything pipeline layers needs")


@pytest.mark.django
def test_configset_for_solr_5_has_trie_types_and_a_stored_version(project, tmp_path):
    """--solr-version 5 (6, 7): no point types there, and 5.x's update log wants _version_ stored
    (8.x: docValues suffice); the rest -- fields, copyFields, chain, /select appends -- is the 8.x
    form's. (`make test-solr SOLR=5` runs the Solr-facing tests on a real 5.3.1 core made from it.)"""
    import xml.etree.ElementTree as ET
    assert configset_cli("layers", str(tmp_path / "five"), "--solr-version", "5")[0] == 0
    assert configset_cli("layers", str(tmp_path / "nine"))[0] == 0
    five, nine = (ET.parse(str(tmp_path / v / "conf" / "managed-schema")).getroot() for v in ("five", "nine"))
    types = {t.get("name"): t.get("class") for t in five.iter("fieldType")}
    assert {types[n] for n in ("pint", "plong", "pdouble", "pdate", "bbox_double")} == {
        "solr.TrieIntField", "solr.TrieLongField", "solr.TrieDoubleField", "solr.TrieDateField"}
    assert not any("Point" in c for c in types.values())
    f5, f9 = ({f.get("name"): dict(f.attrib) for f in root.iter("field")} for root in (five, nine))
    assert (f5["_version_"].pop("stored"), f9["_version_"].pop("stored")) == ("true", "false")
    assert f5 == f9
    for tag in ("dynamicField", "copyField"):
        assert [e.attrib for e in five.iter(tag)] == [e.attrib for e in nine.iter(tag)]
    config = (tmp_path / "five" / "conf" / "solrconfig.xml").read_text()
    assert "<luceneMatchVersion>5.3.1</luceneMatchVersion>" in config and 'InKB="-1"' not in config
    assert config.split("<updateRequestProcessorChain")[1] == \
        (tmp_path / "nine" / "conf" / "solrconfig.xml").read_text().split("<updateRequestProcessorChain")[1]
    if not project.solr.is_real:  # the emulator, answering as any version, serves a core made from it
        project.solr.emulator.add_core("layers", tmp_path / "five" / "conf")
        from layers.management.commands.demo import Command
        from solrsync.contrib.django.runtime import get_syncer
        from solrsync.reindex import reindex
        Command().load(100)
        result = reindex(get_syncer(), "layers")
        assert result.indexed and not result.rejected and project.assert_in_step() == result.indexed


@pytest.mark.django
def test_reindex_swap_creates_its_core_from_a_generated_configset(project, tmp_path, monkeypatch):
    """SOLR_CONFIGSET=maps: the fresh core comes from the configset the maps pipeline's documents need."""
    project.solr.need_emulator("a configset of the test's own")
    from django.conf import settings
    from django.core.management import call_command
    from layers.models import Map
    from conftest import use_queue
    monkeypatch.setattr(settings, "SOLRSYNC", dict(settings.SOLRSYNC, PIPELINES={
        "layers": {}, "maps": {"class": "layers.pipelines.MapPipeline", "core": "maps"}}))
    monkeypatch.setenv("SOLRSYNC_SOLR_CONFIGSET", "maps")
    use_queue(os.environ["SOLRSYNC_QUEUE_URL"])  # solrsync built again from these settings
    assert configset_cli("maps", str(tmp_path / "maps"))[0] == 0
    emu = project.solr.emulator
    monkeypatch.setitem(emu.configsets, "maps", tmp_path / "maps" / "conf")
    emu.add_core("maps", emu.configsets["maps"])
    maps = [Map.objects.create(title="Map of %s" % town) for town in ("Bonn", "Graz", "Lyon")]
    call_command("solrsync", "reindex", "maps", "--swap", "--quiet")
    assert project.solr.ids(core="maps") == sorted(str(m.pk) for m in maps)
    assert project.solr.ids("graz", core="maps") == [str(maps[1].pk)]
    assert project.solr.get("schema/fields/title", core="maps")[1]["field"]["type"] == "text_general"
