"""What must never surface in the user's process (issue 26): a traceback per save under DEBUG=True
(Django's debug cursor %-formats every statement it logs, and the change log's statements carried
SQLite's strftime('%Y...%f') as a literal), and a worker dying on SQLite's "database is locked"."""
import logging

import pytest
from django.db import transaction

pytestmark = pytest.mark.django


@pytest.fixture
def debug(project, monkeypatch):
    from django.conf import settings
    monkeypatch.setattr(settings, "DEBUG", True)  # startproject's default: every statement logged
    return project


def test_signal_capture_under_debug_records_without_a_traceback(debug, caplog):
    from conftest import use_capture
    from django.db import connection
    from layers.models import Layer
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.signals import enqueue
    use_capture("signals")
    assert connection.queries_logged
    with caplog.at_level(logging.DEBUG):
        with transaction.atomic():
            layer = debug.make_layer(title="Saved under DEBUG")
            recorded = list(Change.objects.values_list("object_pk", flat=True))
        with transaction.atomic():
            enqueue("layers", Layer.objects.filter(pk=layer.pk))  # the INSERT ... SELECT path
            requeued = list(Change.objects.values_list("object_pk", flat=True))
    assert "could not record" not in caplog.text and "Traceback" not in caplog.text, caplog.text
    assert recorded == [str(layer.pk)] and requeued == [str(layer.pk)]
    assert debug.doc(layer)["title"] == "Saved under DEBUG"
    logged = [q["sql"] for q in connection.queries if "solrsync_change" in q["sql"] and "INSERT" in q["sql"]]
    assert logged, connection.queries[-5:]


def test_a_locked_sqlite_database_is_an_outage_the_worker_retries(project, caplog):
    """Another process holds SQLite's write lock while a worker claims: the claim's "database is
    locked" is a transient outage -- a warning and a retry after a backoff, no unhandled exception
    in the worker -- and the retry, once the lock is gone, pushes the change."""
    import sqlite3
    from conftest import use_queue
    from django.db import connection
    from solrsync.contrib.django.models import Change
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's database lock")
    tasks = use_queue("memory://")
    huey = tasks.huey
    layer = project.make_layer(title="Waiting for the lock")
    while huey.dequeue() is not None:  # the save's wake-up: the test runs the task itself
        pass
    assert Change.objects.count() == 1
    options = connection.settings_dict["OPTIONS"]
    connection.close()  # reconnect with a short busy timeout: the lock is met at once, not in 30 s
    connection.settings_dict["OPTIONS"] = dict(options, timeout=0.05)
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        tasks.sync("layers", [])
        with caplog.at_level(logging.WARNING):
            huey.execute(huey.dequeue())
        assert "database is locked" in caplog.text and "retry 1 in" in caplog.text, caplog.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        retry = huey.scheduled()
        assert len(retry) == 1 and retry[0].kwargs.get("retry") is True
    finally:
        other.rollback()
        other.close()
        connection.close()
        connection.settings_dict["OPTIONS"] = options
    huey.execute(retry[0], timestamp=retry[0].eta)  # its backoff over
    assert project.doc(layer)["title"] == "Waiting for the lock" and Change.objects.count() == 0


def test_a_change_that_cannot_be_recorded_is_a_failure_record_and_retried(project, monkeypatch, caplog):
    """Capture never breaks a save, and a miss is never silent: the save commits, the change is a
    failure record, and `solrsync retry` re-indexes it."""
    from conftest import use_capture
    from django.core.management import call_command
    from layers.models import Layer
    from solrsync.contrib.django.models import Failure
    from solrsync.contrib.django.runtime import get_syncer
    use_capture("signals")
    changelog = get_syncer().changelog

    def broken(*a, **kw):
        raise RuntimeError("the change log is unreachable")
    monkeypatch.setattr(changelog, "record", broken)
    with transaction.atomic():
        layer = project.make_layer(title="Saved, not recorded")
    monkeypatch.undo()
    assert Layer.objects.filter(pk=layer.pk).exists() and "could not record the change" in caplog.text
    failure = Failure.objects.get()
    assert (failure.pipeline, failure.object_pk, failure.doc_id) == ("layers", str(layer.pk), layer.uuid)
    assert "the change was not recorded: RuntimeError: the change log is unreachable" in failure.message
    assert project.doc(layer) is None
    call_command("solrsync", "retry", layer.uuid)
    assert project.doc(layer)["title"] == "Saved, not recorded" and not Failure.objects.exists()
