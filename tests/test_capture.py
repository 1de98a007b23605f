"""Change capture: database triggers (the default on PostgreSQL and SQLite) and the signal path
(CAPTURE=signals, other databases). Run on SQLite and, with SOLRSYNC_DEMO_DB=postgres, PostgreSQL."""
import threading

import pytest
from django.db import connection, connections, transaction

from conftest import run_manage, use_capture

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

    def other_thread():  # its own connection: still recorded
        from layers.models import Layer
        other = Layer.objects.get(pk=layer.pk)
        other.title = "from another connection"
        with transaction.atomic():
            other.save()
        seen["rows"] = len(pending())
        connections.close_all()

    with hooks_disabled():
        project.make_layer(name="quiet")
        assert pending() == []
        t = threading.Thread(target=other_thread)
        t.start()
        t.join(30)
    assert seen["rows"] == 1 and pending() == [(str(layer.pk), layer.uuid, "save")]
    loud = project.make_layer(name="loud")  # on again after the block
    assert project.doc(loud) is not None and project.doc(layer)["title"] == "from another connection"


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
