"""Capture never breaks a save (issue 19, item 4): a primary key of any length and a document id
of any length fit the change log (and the failures and deletes solrsync records), on PostgreSQL --
where varchar(64) / varchar(255) columns made the trigger's insert fail with "value too long" and
the user's save with it -- and on SQLite, with triggers and with signals."""
import json
import os

import pytest
from django.db import transaction

pytestmark = pytest.mark.django

PK = "k" * 100 + "\u00e9/long primary key"
DOC = "d" * 300 + "-long-document-id"


@pytest.fixture(params=["triggers", "signals"])
def longkeys(project, monkeypatch, request):
    """The ``longkeys`` pipeline alone, captured by ``request.param``."""
    from conftest import use_capture, use_queue
    from django.db.models.signals import post_delete, post_init, post_save
    from fieldtypes.models import LongKey
    from solrsync.contrib.django import signals
    monkeypatch.setenv("SOLRSYNC_PIPELINES", json.dumps({"longkeys": {"class": "fieldtypes.pipelines.LongKeyPipeline"}}))
    use_queue(os.environ["SOLRSYNC_QUEUE_URL"])
    signals.connect()  # the app connected the pipelines configured when it started
    use_capture(request.param)
    project.solr.post("schema", {"add-field": {"name": "title", "type": "text_general", "stored": True}}) \
        if project.solr.get("schema/fields/title")[0] != 200 else None
    project.mode = request.param
    yield project
    for signal, what in ((post_save, "save"), (post_delete, "delete"), (post_init, "init")):
        signal.disconnect(sender=LongKey, dispatch_uid="solrsync:longkeys:" + what)


def drain():
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import waker
    waker.flush()
    get_syncer().drain("longkeys", coalesce=False)


def held(project):
    project.solr.post("update", {"commit": {}})
    return {d["id"]: d.get("title") for d in project.solr.select("*:*", fl="id,title", rows=100)["docs"]}


def test_long_keys_are_recorded_and_reach_solr(longkeys):
    from fieldtypes.models import LongKey
    from solrsync.contrib.django.models import Change
    with transaction.atomic():  # the save works: no "value too long" from the change log
        row = LongKey.objects.create(key=PK, doc=DOC, title="first")
        recorded = list(Change.objects.values_list("object_pk", "doc_id"))  # before the commit's wake-up
    assert LongKey.objects.filter(pk=PK).exists()
    assert (PK, DOC) in recorded, recorded
    drain()
    assert held(longkeys) == {DOC: "first"}

    row.title = "renamed"
    row.save()
    drain()
    assert held(longkeys) == {DOC: "renamed"}
    if longkeys.mode == "triggers":  # what no signal sees
        LongKey.objects.filter(pk=PK).update(title="updated")
        drain()
        assert held(longkeys) == {DOC: "updated"}
    row.delete()
    drain()
    assert held(longkeys) == {}


def test_a_long_key_solr_refuses_is_a_failure_record_with_the_whole_key(longkeys):
    """An id over Lucene's term limit (32766 bytes): Solr refuses it; the failure is kept whole."""
    from fieldtypes.models import LongKey
    from solrsync.contrib.django.models import Failure
    huge = "h" * 40000
    LongKey.objects.create(key=PK, doc=huge, title="too long an id")
    drain()
    failure = Failure.objects.get()
    assert (failure.object_pk, failure.doc_id) == (PK, huge) and "immense term" in failure.message
