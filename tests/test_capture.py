"""Change capture: database triggers (the default on PostgreSQL and SQLite) and the signal path
(CAPTURE=signals, other databases). Run on SQLite and, with SOLRSYNC_DEMO_DB=postgres, PostgreSQL."""
import os
import threading
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from conftest import run_manage, use_capture, use_queue

pytestmark = pytest.mark.django


def pending():
    from solrsync.contrib.django.models import Change
    return list(Change.objects.order_by("seq").values_list("object_pk", "doc_id", "op"))


def drain():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer().drain("layers", coalesce=False)


@pytest.mark.parametrize("capture", ["triggers", "signals"])
def test_save_m2m_unpublish_and_delete_in_either_mode(project, capture):
    use_capture(capture)
    from layers.models import Keyword
    layer = project.make_layer()
    kw = Keyword.objects.create(name="glaciers")
    layer.keywords.add(kw)
    Keyword.objects.create(name="ice").layer_set.add(layer)  # the reverse side
    assert sorted(project.doc(layer)["keywords"]) == ["glaciers", "ice"]
    kw.layer_set.clear()
    assert project.doc(layer)["keywords"] == ["ice"]
    layer.is_published = False
    layer.save()
    assert project.doc(layer) is None
    layer.is_published = True
    layer.save()
    assert project.doc(layer) is not None
    layer.delete()
    assert project.doc(layer) is None and pending() == []


def test_triggers_record_what_signals_never_see(project):
    """QuerySet.update(), bulk_create and raw SQL: recorded by the database, pushed by the next
    drain (a save's wake-up, or the sweeper)."""
    from layers.models import Layer
    a, b = project.make_layer(name="a"), project.make_layer(name="b")
    assert pending() == []
    Layer.objects.filter(pk=a.pk).update(title="Updated in bulk")
    Layer.objects.bulk_create([project.make_layer(save=False, name="bulk%d" % i) for i in range(3)])
    with connection.cursor() as cur:
        cur.execute("DELETE FROM layers_layer WHERE id = %s", [b.pk])
    assert (str(a.pk), a.uuid, "save") in pending() and (str(b.pk), b.uuid, "delete") in pending()
    assert len(pending()) == 5
    drain()
    assert project.doc(a)["title"] == "Updated in bulk" and project.doc(b) is None
    assert project.solr.select("name:bulk*")["numFound"] == 3 and pending() == []


def test_a_changed_document_id_takes_the_old_document_away(project):
    import uuid
    layer = project.make_layer()
    old = project.doc(layer)["id"]
    layer.uuid = str(uuid.uuid4())
    layer.save()
    assert project.doc(layer) is not None
    assert project.solr.select("id:%s" % old)["numFound"] == 0


def test_a_rolled_back_change_leaves_no_row(project):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            project.make_layer()
            raise RuntimeError("rollback")
    assert pending() == []


def test_hooks_disabled_silences_only_its_own_connection(project):
    from solrsync.contrib.django.signals import hooks_disabled
    layer = project.make_layer()
    drain()
    seen = {}

    def other_thread():  # its own thread and connection: recorded and pushed (tasks run inline)
        from layers.models import Layer
        other = Layer.objects.get(pk=layer.pk)
        other.title = "from another connection"
        with transaction.atomic():
            other.save()
        seen["title"] = project.doc(layer)["title"]
        connections.close_all()

    with hooks_disabled():
        quiet = project.make_layer(name="quiet")
        assert pending() == []
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(30)
    assert seen["title"] == "from another connection" and pending() == []
    loud = project.make_layer(name="loud")  # on again after the block
    assert project.doc(loud) is not None and project.doc(quiet) is None


def test_migrate_installs_and_capture_signals_removes_the_triggers(project):
    from solrsync.contrib.django import triggers
    names = lambda: sorted(n for n, _ in triggers._existing(connection))  # noqa: E731
    assert names()  # the test database was migrated
    proc = run_manage("migrate", "-v2", env={"SOLRSYNC_CAPTURE": "signals"})
    assert proc.returncode == 0, proc.stderr
    assert "pipeline layers: changes recorded by signals (CAPTURE is 'signals')" in proc.stdout
    assert names() == []
    proc = run_manage("migrate", "-v2")
    assert "pipeline layers: changes recorded by triggers" in proc.stdout, proc.stdout + proc.stderr
    assert names()
    triggers.forget()


def test_a_computed_document_id_keeps_the_signal_path(project):
    from solrsync.contrib.django import runtime, triggers
    from solrsync.documents import Field
    pipeline = runtime.get_pipelines()["layers"]

    class Computed(pipeline.document):
        id = Field(fn=lambda row: "layer-%s" % row.pk)
    pipeline.document = Computed
    try:
        skipped = triggers.install({"layers": pipeline}, "default")
        assert "computed" in skipped["layers"]
        assert triggers.installed("default") == frozenset()
    finally:
        runtime.reset()
        triggers.install(runtime.get_pipelines(), "default")


# ------------------------------------------------------------------ related rows
def _related_world(project, n=3):
    from django.contrib.auth.models import User
    from layers.models import Keyword, Region
    owner = User.objects.create(username="ana")
    kw, region = Keyword.objects.create(name="ice"), Region.objects.create(code="NOR", name="Norway")
    layers = [project.make_layer(name="rel%d" % i, owner=owner) for i in range(n)]
    for layer in layers:
        layer.keywords.add(kw)
        layer.regions.add(region)
    return owner, kw, region, layers


@pytest.mark.parametrize("capture", ["triggers", "signals"])
def test_related_renames_and_deletes_reach_every_document_that_reads_them(project, capture):
    use_capture(capture)
    from layers.models import Category
    owner, kw, region, layers = _related_world(project)
    kw.name = "glacier"
    kw.save()
    region.name = "Norge"
    region.save()
    cat = Category.objects.get(identifier="transportation")
    cat.identifier = "roads"
    cat.save()
    owner.username = "bea"
    owner.save()
    for layer in layers:
        doc = project.doc(layer)
        assert (doc["keywords"], doc["regions"], doc["category"], doc["username"]) == (
            ["glacier"], ["Norge"], "roads", "bea"), doc
    kw.delete()      # the m2m target: its through rows go first, then the keyword
    region.delete()
    cat.delete()     # SET_NULL: Django nulls the layers' column with an update that sends no signal
    owner.delete()   # ditto; the layers are kept
    for layer in layers:
        doc = project.doc(layer)
        assert not {"keywords", "regions", "category", "username"} & set(doc), doc
    assert pending() == []


@pytest.mark.parametrize("capture", ["triggers", "signals"])
def test_a_related_save_of_columns_no_document_reads_records_nothing(project, capture):
    use_capture(capture)
    from layers.models import Category
    owner, kw, region, layers = _related_world(project)
    owner.last_login = owner.date_joined
    owner.save(update_fields=["last_login"])  # what every login does
    if capture == "triggers":
        Category.objects.update(description="not indexed")
    assert pending() == []


def test_a_renamed_keyword_on_many_layers_is_one_statement_on_the_signal_path(project):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext
    use_capture("signals")
    use_queue("memory://", SOLRSYNC_ENQUEUE="inline")  # wake-ups wait in memory: no drain counted
    owner, kw, region, layers = _related_world(project, n=40)
    from solrsync.contrib.django.models import Change
    Change.objects.all().delete()
    with CaptureQueriesContext(conn) as queries:
        kw.name = "glacier"
        kw.save()
    assert len(pending()) == 40
    assert len(queries) <= 3, [q["sql"] for q in queries]  # the UPDATE and one INSERT ... SELECT


def test_triggers_record_related_writes_no_signal_sees(project):
    """QuerySet.update() and raw SQL on the related tables: recorded by the database in one
    statement per related row."""
    from django.contrib.auth.models import User
    from layers.models import Category, Keyword
    owner, kw, region, layers = _related_world(project)
    Keyword.objects.filter(pk=kw.pk).update(name="firn")
    # one row naming the set (every layer with the keyword), not a row per layer
    assert pending() == [("keywords__id", str(kw.pk), "related")]
    with connection.cursor() as cur:
        cur.execute("UPDATE auth_user SET username = %s WHERE id = %s", ["cy", owner.pk])
    Category.objects.update(identifier="paths")
    assert [(pk, op) for pk, _, op in pending()] == [(pk, "related") for pk in ("keywords__id", "owner__id",
                                                                                 "category__id")]
    drain()
    assert [[project.doc(layer)[k] for k in ("keywords", "username", "category")] for layer in layers] == [
        [["firn"], "cy", "paths"]] * 3
    User.objects.create(username="nobody")  # a related row nothing points at: nothing to record
    assert pending() == []


# ------------------------------------------------------------------ ids
def use_maps():
    """Add the ``maps`` pipeline (layers.Map, a UUIDField id) with its triggers."""
    from django.conf import settings
    from solrsync.contrib.django import runtime, signals, triggers
    settings.SOLRSYNC = dict(settings.SOLRSYNC, PIPELINES={
        "layers": {}, "maps": {"class": "layers.pipelines.MapPipeline"}})
    use_queue(os.environ["SOLRSYNC_QUEUE_URL"])
    signals.connect()
    return triggers.install(runtime.get_pipelines(), "default")


@pytest.fixture
def maps(project):
    from django.conf import settings
    saved = settings.SOLRSYNC
    try:
        yield use_maps()
    finally:
        from solrsync.contrib.django import runtime, triggers
        settings.SOLRSYNC = saved
        use_queue(os.environ["SOLRSYNC_QUEUE_URL"])
        triggers.install(runtime.get_pipelines(), "default")


def test_a_uuid_id_is_captured_by_triggers_with_the_text_python_writes(project, maps):
    from layers.models import Category, Map
    from solrsync.contrib.django import triggers
    from solrsync.contrib.django.runtime import get_syncer

    def doc(m):
        project.solr.post("update", {"commit": {}})
        docs = project.solr.select("id:%s" % m.pk)["docs"]  # str(uuid), dashes and all
        return docs[0] if docs else None
    assert "maps" not in maps and "maps" in triggers.installed("default")
    m = Map.objects.create(title="Atlas", category=Category.objects.create(identifier="atlases"))
    assert doc(m)["title"] == "Atlas"
    Map.objects.filter(pk=m.pk).update(title="Atlas, revised")  # no signal: the trigger's text only
    assert pending() == [(str(m.pk), str(m.pk), "save")]
    Category.objects.filter(identifier="atlases").update(identifier="atlas")
    get_syncer().drain("maps", coalesce=False)
    assert doc(m)["title"] == "Atlas, revised" and doc(m)["category"] == "atlas"
    with connection.cursor() as cur:
        cur.execute("DELETE FROM layers_map")
    get_syncer().drain("maps", coalesce=False)
    assert doc(m) is None and pending() == []


def test_status_shows_each_pipelines_capture_mode(project):
    proc = run_manage("solrsync", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    import json
    assert json.loads(proc.stdout)["pipelines"]["layers"]["capture"] == "triggers"
    proc = run_manage("solrsync", "status", env={"SOLRSYNC_CAPTURE": "signals"})
    assert "signals" in proc.stdout, proc.stdout


def test_migrate_names_a_fallback_at_normal_verbosity(project):
    proc = run_manage("migrate", env={"SOLRSYNC_CAPTURE": "signals"})
    try:
        assert proc.returncode == 0, proc.stderr
        lines = [line for line in proc.stdout.splitlines() if "solrsync: pipeline layers" in line]
        assert len(lines) == 1 and "recorded by signals (CAPTURE is 'signals')" in lines[0] \
            and "raw SQL" in lines[0] and "not captured" in lines[0], proc.stdout
    finally:
        assert run_manage("migrate", "-v0").returncode == 0
    from solrsync.contrib.django import triggers
    triggers.forget()


# ------------------------------------------------------------------ never off by accident
def test_overlapping_hooks_disabled_in_two_threads(project):
    """A enters, B enters, A exits, B exits -- forced in that order -- then both threads capture."""
    from solrsync.contrib.django.signals import hooks_disabled
    from solrsync.contrib.django.models import Change
    steps = [threading.Event() for _ in range(4)]
    made = {}

    def thread_a():
        with hooks_disabled():
            steps[0].set()
            steps[1].wait(10)
            made["a_quiet"] = project.make_layer(name="a_quiet")
        steps[2].set()
        made["a_loud"] = project.make_layer(name="a_loud")
        connections.close_all()

    def thread_b():
        steps[0].wait(10)
        with hooks_disabled():
            with hooks_disabled():  # nested
                pass
            steps[1].set()
            steps[2].wait(10)
            made["b_quiet"] = project.make_layer(name="b_quiet")  # A has left: B is still quiet
        made["b_loud"] = project.make_layer(name="b_loud")
        connections.close_all()

    use_queue("memory://", SOLRSYNC_ENQUEUE="inline")
    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    recorded = set(Change.objects.values_list("doc_id", flat=True))
    assert recorded == {made["a_loud"].uuid, made["b_loud"].uuid}
    loud = project.make_layer(name="main")  # and this thread was never off
    assert loud.uuid in set(Change.objects.values_list("doc_id", flat=True))


def test_a_process_notices_triggers_going_and_coming_within_seconds(project, monkeypatch):
    from solrsync.contrib.django import runtime, triggers
    assert triggers.installed("default") == {"layers", "maps"}
    clock = [1000.0]
    monkeypatch.setattr(triggers.time, "monotonic", lambda: clock[0])
    triggers.forget()
    assert triggers.installed("default") == {"layers", "maps"}
    run_manage("migrate", "-v0", env={"SOLRSYNC_CAPTURE": "signals"})  # another process removes them
    assert triggers.installed("default") == {"layers", "maps"}  # not looked again yet: no query per save
    clock[0] += triggers.RECHECK_SECONDS
    assert triggers.installed("default") == frozenset()
    layer = project.make_layer(name="noticed")  # recorded by the signal path meanwhile
    assert project.doc(layer) is not None
    run_manage("migrate", "-v0")
    clock[0] += triggers.RECHECK_SECONDS
    assert triggers.installed("default") == {"layers", "maps"}
    assert runtime.get_pipelines()


def test_a_failing_migration_leaves_the_previous_triggers(project, tmp_path):
    from solrsync.contrib.django import triggers
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite case (PostgreSQL replaces them in the migration's own transaction too)")
    before = sorted(triggers._existing(connection))
    env = {"SOLRSYNC_DEMO_LAYERS_MIGRATIONS": "failing_migrations", "PYTHONPATH": str(Path(__file__).parent)}
    proc = run_manage("migrate", "layers", env=env)
    assert proc.returncode != 0 and "this migration fails" in proc.stderr, proc.stdout + proc.stderr
    assert sorted(triggers._existing(connection)) == before
    from layers.models import Layer
    Layer.objects.filter(pk__in=[]).update(title="x")  # the table is as it was
    assert project.doc(project.make_layer(name="after")) is not None


def test_a_migration_that_rebuilds_a_table_keeps_its_triggers(project):
    """SQLite rebuilds a table to alter a column; the triggers come back in the same transaction."""
    from django.db import models
    from layers.models import Layer
    from solrsync.contrib.django import triggers
    from solrsync.contrib.django.apps import guard_migrations
    guard_migrations(using="default")
    before = sorted(triggers._existing(connection))
    old = Layer._meta.get_field("name")
    new = models.CharField(max_length=129)
    new.set_attributes_from_name("name")
    new.model = Layer
    with connection.schema_editor() as editor:
        editor.alter_field(Layer, old, new)
    assert sorted(triggers._existing(connection)) == before
    with connection.schema_editor() as editor:
        editor.alter_field(Layer, new, old)
    with pytest.raises(RuntimeError):
        with connection.schema_editor() as editor:
            editor.alter_field(Layer, old, new)
            raise RuntimeError("a migration fails")
    assert sorted(triggers._existing(connection)) == before


# ------------------------------------------------------------------ one clock
def test_ages_come_from_the_clock_that_stamped_them_whatever_use_tz_and_time_zone(project):
    """USE_TZ=False, TIME_ZONE=America/New_York: the triggers and the signal path stamp by the
    database's clock; the sweeper, the settle window and status read ages from it."""
    layer = project.make_layer(name="tz")
    script = """
import json
from django.db import connection
from layers.models import Layer
from solrsync.contrib.django.runtime import get_syncer
log = get_syncer().changelog
Layer.objects.filter(name="tz").update(title="by trigger")
out = {"fresh": [log.newest_age("layers"), log.oldest_age("layers")]}
age = {"sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now', '-120 seconds')",
       "postgresql": "clock_timestamp() - interval '120 seconds'"}[connection.vendor]
with connection.cursor() as cur:
    cur.execute("UPDATE solrsync_change SET created = " + age)
out["old"] = log.oldest_age("layers")
out["swept"] = sorted(get_syncer().sweep())
print(json.dumps(out))
"""
    env = {"SOLRSYNC_DEMO_USE_TZ": "0", "SOLRSYNC_DEMO_TIME_ZONE": "America/New_York", "TZ": "America/New_York"}
    proc = run_manage("shell", "-c", script, env=env)
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert all(0 <= age < 10 for age in out["fresh"]), out
    assert 115 < out["old"] < 140 and out["swept"] == ["layers"], out
    assert project.doc(layer)["title"] == "by trigger" and pending() == []


def test_truncate_is_recorded_on_postgresql(project):
    """TRUNCATE fires no row trigger: a statement trigger records the rows before they go -- of a
    table the documents read, and of the pipeline's own table, in an import that reloads it."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE without WHERE fires the row triggers)")
    from conftest import use_queue
    from layers.models import Keyword, Layer
    use_queue("memory://")  # changes wait for drain()
    kw = Keyword.objects.create(name="truncated")
    layers = [project.make_layer(name="t%d" % i, title="Before %d" % i) for i in range(5)]
    for layer in layers:
        layer.keywords.add(kw)
    drain()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE layers_layer_keywords")
    assert len(pending()) == 5
    drain()
    assert all("keywords" not in project.doc(layer) for layer in layers)
    with transaction.atomic():  # an import: the table emptied and loaded again
        with connection.cursor() as cur:
            cur.execute("TRUNCATE layers_layer CASCADE")
        Layer.objects.bulk_create([project.make_layer(save=False, name="reloaded", title="Reloaded")])
    drain()
    project.assert_in_step()
    assert project.solr.ids() == list(Layer.objects.values_list("uuid", flat=True))
