"""A model with a field of every type (contrib/django/demo/fieldtypes), copied as it is by plain
``Field("...")``s into the fields the generated configset declares: every row reaches Solr, what
Solr holds equals what the database builds now field by field, ``--verify`` finds no drift where
there is none, and a ``--fix`` converges in one round (issue 19, item 5)."""
import contextlib
import datetime as dt
import io
import json
import logging
import math
import os
import time
import uuid
from decimal import Decimal

import pytest

pytestmark = pytest.mark.django


def cli(*args):
    """`manage.py solrsync ...` in this process -> (exit code, stdout, stderr)."""
    from solrsync.cli import main
    from solrsync.contrib.django.runtime import get_syncer, get_tasks
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args), syncer_factory=get_syncer, tasks_factory=get_tasks, prog="manage.py solrsync")
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def typed(project, monkeypatch):
    """The ``typed`` pipeline alone, into the test core, whose schema `configset --apply` completes."""
    from conftest import use_queue
    monkeypatch.setenv("SOLRSYNC_PIPELINES", json.dumps({"typed": {"class": "fieldtypes.pipelines.TypedPipeline"}}))
    use_queue(os.environ["SOLRSYNC_QUEUE_URL"])
    code, out, err = cli("configset", "typed", "--apply")
    assert code == 0, out + err
    from django.db.models.signals import post_delete, post_init, post_save
    from fieldtypes.models import Typed
    from solrsync.contrib.django import signals
    signals.connect()  # the app connected the pipelines configured when it started
    yield project
    for signal, what in ((post_save, "save"), (post_delete, "delete"), (post_init, "init")):
        signal.disconnect(sender=Typed, dispatch_uid="solrsync:typed:" + what)


def rows():
    from fieldtypes.models import POSTGRES, Typed
    utc, plus2 = dt.timezone.utc, dt.timezone(dt.timedelta(hours=2))
    common = dict(numbers=[3, 1, 3]) if POSTGRES else {}
    made = [
        Typed(name="edges", count=2 ** 31 - 1, big=-2 ** 63, huge=2 ** 63 - 1, ratio=0.1, price=Decimal("12345.6789"),
              flag=True, maybe=None, day=dt.date(1, 1, 1), created=dt.datetime(2024, 2, 29, 23, 59, 59, 999999, utc),
              at=dt.time(3, 4, 5, 123456), took=dt.timedelta(days=1, microseconds=5),
              meta={"b": [1, 2.5, None], "a": "x\u00e9"}, **common),
        Typed(name="offsets", count=-2 ** 31, big=2 ** 53 + 1, huge=0, ratio=-1e-300, price=Decimal("-0.0001"),
              flag=False, maybe=False, day=dt.date(9999, 12, 31),
              created=dt.datetime(2024, 1, 1, 1, 30, 0, 120000, plus2), meta=[1, "two"], **common),
        Typed(name="infinite", ratio=math.inf, meta="just text", created=dt.datetime(1, 1, 1, 0, 0, 0, 1000, utc)),
        Typed(name="empty"),
    ]
    if POSTGRES:  # SQLite stores a NaN as NULL
        made.append(Typed(name="nan", ratio=math.nan))
    return Typed.objects.bulk_create(made)


def solr_docs(project):
    project.solr.post("update", {"commit": {}})
    docs = project.solr.select("*:*", rows=1000, fl="*")["docs"]
    return {d["id"]: {k: v for k, v in d.items() if not k.startswith(("solrsync_", "_version_"))} for d in docs}


def expected_docs():
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.sync import document_class
    syncer = get_syncer()
    source = syncer.sources["typed"]
    document = document_class(syncer.pipelines["typed"], source)
    return {d["id"]: d for rows in source.iter_chunks(1000) for row in rows for d in [document.build(row)[0]]}


def test_every_field_type_reaches_solr_as_its_type_holds_it_and_verify_converges(typed, caplog):
    from fieldtypes.models import POSTGRES, Typed
    made = rows()
    with caplog.at_level(logging.WARNING, logger="solrsync"):
        code, out, err = cli("reindex", "typed", "--quiet")
    assert code == 0, out + err
    inf = Typed.objects.get(name="infinite")
    warned = [r.getMessage() for r in caplog.records if "ratio" in r.getMessage()]
    # dropped with a warning naming the row; the rest of the row indexed
    assert any("typed %s (pk %s): ratio: inf is not a number Solr can hold" % (inf.key, inf.pk) in w
               for w in warned), warned
    held = solr_docs(typed)
    assert held == expected_docs()
    assert len(held) == len(made)
    edges = held[str(Typed.objects.get(name="edges").key)]
    assert edges["created"] == "2024-02-29T23:59:59.999Z" and edges["day"] == "0001-01-01T00:00:00Z"
    assert edges["price"] == 12345.6789 and edges["huge"] == 2 ** 63 - 1 and edges["big"] == -2 ** 63
    assert edges["meta"] == '{"a":"xé","b":[1,2.5,null]}' and edges["took"] == 86400.000005
    assert edges["at"] == "03:04:05.123456" and edges["flag"] is True and "maybe" not in edges
    offsets = held[str(Typed.objects.get(name="offsets").key)]
    assert offsets["created"] == "2023-12-31T23:30:00.120Z" and offsets["maybe"] is False
    if POSTGRES:
        assert edges["numbers"] == [3, 1, 3]
    code, out, err = cli("reindex", "typed", "--verify", "--quiet")
    assert code == 0 and "0 missing, 0 stale, 0 orphaned, 0 filtered out" in out, out + err

    # drift behind solrsync's back: one --fix round repairs it, and verify agrees
    now = time.time_ns() // 1000
    wrong = dict(edges, id=edges["id"], created="2000-01-01T00:00:00Z", price=1.0, solrsync_version=now,
                 solrsync_pipeline="typed")
    typed.solr.post("update", [wrong], commit="true")
    code, out, err = cli("reindex", "typed", "--verify", "--quiet")
    assert code == 1 and "0 missing, 1 stale" in out and "differs in created, price" in out, out + err
    code, out, err = cli("reindex", "typed", "--verify", "--fix", "--quiet")
    assert "re-queued 1 for the consumer" in out, out + err
    from solrsync.contrib.django.runtime import get_syncer
    get_syncer().drain("typed", coalesce=False)
    assert solr_docs(typed) == expected_docs()
    code, out, err = cli("reindex", "typed", "--verify", "--quiet")
    assert code == 0 and "0 missing, 0 stale, 0 orphaned, 0 filtered out" in out, out + err


@pytest.mark.parametrize("mode", ["triggers", "signals"])
def test_a_row_saved_later_reaches_solr_typed_through_the_change_log(typed, mode):
    """The consumer's path (changes, not a reindex) builds the same typed documents."""
    from conftest import use_capture
    from fieldtypes.models import Typed
    use_capture(mode)
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import waker
    row = Typed.objects.create(name="later", created=dt.datetime(2024, 5, 6, 7, 8, 9, 987654, dt.timezone.utc),
                               price=Decimal("0.10"), key=uuid.UUID(int=7))
    waker.flush()
    get_syncer().drain("typed", coalesce=False)
    held = solr_docs(typed)
    assert held[str(row.key)]["created"] == "2024-05-06T07:08:09.987Z" and held[str(row.key)]["price"] == 0.1
    assert held == expected_docs()


@pytest.mark.parametrize("use_tz", [True, False], ids=["USE_TZ", "naive"])
def test_rows_are_fetched_as_django_reads_them(typed, use_tz):
    """``fetch_values`` reads SQLite's dates with the settings looked up once a read (Django's
    converter looks them up for every value): every value as Django's own iterator gives it."""
    from django.test.utils import override_settings
    from fieldtypes.models import Typed
    from solrsync.contrib.django.reads import fetch_values
    rows()
    names = [f.name for f in Typed._meta.concrete_fields]
    with override_settings(USE_TZ=use_tz):
        qs = Typed.objects.order_by("pk")
        # by repr: a NaN is not equal to itself
        assert [repr(tuple(row)) for row in fetch_values(qs, *names)] == [repr(row) for row in qs.values_list(*names)]
        assert any(isinstance(v, dt.datetime) for row in qs.values_list(*names) for v in row)
