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
