"""The Django app on the demo project: hooks, on_commit, the change log, failures, commands."""
import logging
import os
import subprocess
import sys

import pytest
from django.db import transaction

from conftest import DEMO, GHOST, run_manage, use_capture, use_queue, wait_until

pytestmark = pytest.mark.django


def test_a_saved_layer_reaches_solr_with_its_fields(project):
    from django.contrib.auth.models import User
    from layers.models import Keyword, Region
    owner = User.objects.create(username="ana")
    layer = project.make_layer(owner=owner)
    with transaction.atomic():
        layer.keywords.add(Keyword.objects.create(name="roads"), Keyword.objects.create(name="osm"))
        layer.regions.add(Region.objects.create(code="DEU", name="Germany"))
    doc = project.doc(layer)
    assert doc["title"] == "Roads of Berlin" and doc["name"] == "roads_berlin"
    assert doc["bbox"] == "ENVELOPE(13.08, 13.76, 52.68, 52.33)"
    assert doc["category"] == "transportation" and doc["username"] == "ana"
    assert sorted(doc["keywords"]) == ["osm", "roads"] and doc["regions"] == ["Germany"]
    assert doc["modified_date"].endswith("Z")
    from solrsync.contrib.django.models import Change
    assert Change.objects.count() == 0  # pushed, so nothing pending


def test_rolled_back_saves_enqueue_nothing(project):
    tasks = use_queue("memory://", SOLRSYNC_ENQUEUE="inline")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            project.make_layer()
            raise RuntimeError("rollback")
    from solrsync.contrib.django.models import Change
    assert Change.objects.count() == 0
    assert tasks.huey.pending_count() == 0


def test_many_changes_in_one_transaction_are_one_task(project):
    tasks = use_queue("memory://", SOLRSYNC_ENQUEUE="inline")
    with transaction.atomic():
        layers = [project.make_layer(name="l%d" % i) for i in range(20)]
        layers[0].title = "changed"
        layers[0].save()
        assert tasks.huey.pending_count() == 0  # nothing before the commit
    assert tasks.huey.pending_count() == 1
    task = tasks.huey.dequeue()
    assert task.args[0] == "layers" and len(task.args[1]) == 20
    tasks.huey.execute(task)
    project.solr.post("update", {"commit": {}})
    assert project.solr.select()["numFound"] == 20


def test_unpublish_and_delete_remove_the_document(project):
    a, b = project.make_layer(name="a"), project.make_layer(name="b")
    assert project.doc(a) and project.doc(b)
    a.is_published = False
    a.save()
    b.delete()
    assert project.doc(a) is None and project.doc(b) is None


def test_m2m_changes_from_either_side_reindex(project):
    from layers.models import Keyword
    layer = project.make_layer()
    kw = Keyword.objects.create(name="glaciers")
    layer.keywords.add(kw)
    assert project.doc(layer)["keywords"] == ["glaciers"]
    other = Keyword.objects.create(name="ice")
    other.layer_set.add(layer)  # the reverse side
    assert sorted(project.doc(layer)["keywords"]) == ["glaciers", "ice"]
    kw.layer_set.clear()
    assert project.doc(layer)["keywords"] == ["ice"]


def test_a_bad_bbox_is_indexed_without_it_and_warned_about(project, caplog):
    with caplog.at_level(logging.WARNING, logger="solrsync"):
        layer = project.make_layer(bbox_y1=123.0)
    doc = project.doc(layer)
    assert doc is not None and "bbox" not in doc
    assert any(layer.uuid in r.getMessage() and "123" in r.getMessage() for r in caplog.records)


def test_solr_down_keeps_the_change_and_the_save(project):
    project.solr.need_emulator()
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.runtime import get_syncer
    project.solr.emulator.faults.fail(503, seconds=30)
    layer = project.make_layer()  # the save itself succeeds
    assert Change.objects.count() == 1 and Change.objects.get().leased_until is None
    project.solr.emulator.faults.clear()
    get_syncer().drain("layers")
    assert project.doc(layer) is not None and Change.objects.count() == 0


def test_wake_ups_leave_the_saving_thread_and_merge(project, monkeypatch):
    from solrsync.contrib.django import signals
    from solrsync.contrib.django.signals import waker
    monkeypatch.setattr(signals, "_listens", [False])  # on PostgreSQL too: as where no consumer LISTENs
    tasks = use_queue("memory://")  # ENQUEUE=background, the default
    for i in range(5):
        project.make_layer(name="w%d" % i)
    waker.flush()  # whatever the background thread has not sent yet
    # the first wake-up's task is queued; the others are merged into it (drain_gate.py)
    assert tasks.huey.pending_count() == 1 and tasks.gate.held("layers")
    assert 1 <= len(tasks.huey.pending()[0].args[1]) <= 5


def test_on_postgresql_the_database_alone_wakes_the_consumers(project):
    """With triggers on PostgreSQL every change-log row NOTIFYs the consumers' listeners at commit
    (wakeups.py): a save sends no wake-up of its own (before: one more per transaction, ~30 us of
    the save's Python), a rollback none at all; what the notification wakes drains it."""
    from django.db import connection
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.contrib.django.signals import waker
    from solrsync.contrib.django.triggers import CHANNEL
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY: PostgreSQL")
    tasks = use_queue("memory://")
    raw = connection.get_new_connection(connection.get_connection_params())
    if not callable(getattr(raw, "notifies", None)):
        raw.close()
        pytest.skip("psycopg 3.2+ (the consumers poll with an older driver)")
    try:
        raw.autocommit = True
        raw.execute("LISTEN %s" % CHANNEL)
        layers = []
        for i in range(3):
            with transaction.atomic():
                layers.append(project.make_layer(name="n%d" % i))
        waker.flush()
        assert tasks.huey.pending_count() == 0  # no wake-up from the saving process
        heard = [n.payload for n in raw.notifies(timeout=5.0, stop_after=3)]
        assert heard == ["layers"] * 3
        with pytest.raises(RuntimeError), transaction.atomic():
            project.make_layer(name="rolled_back")
            raise RuntimeError("rolled back")
        assert [n.payload for n in raw.notifies(timeout=0.5)] == []
    finally:
        raw.close()
    get_syncer().drain("layers")  # what the listener's wake-up runs
    assert all(project.doc(layer) is not None for layer in layers)
    project.assert_in_step()


def test_on_postgresql_a_trigger_notifies_itself_and_the_change_log_trigger_wakes_for_the_others(project):
    """Issue 22 (the save path): the row trigger that records a change NOTIFYs its pipeline itself;
    the change log's own statement trigger (a transition table, a DISTINCT, a second trigger call:
    ~30 us of every save) runs only for rows written by a statement no trigger ran -- ``enqueue``,
    the signal path, another program. Each still wakes the listeners at commit, none on rollback."""
    from django.db import connection
    from solrsync.contrib.django.signals import enqueue
    from solrsync.contrib.django.triggers import CHANNEL, NOTIFY
    if connection.vendor != "postgresql":
        pytest.skip("LISTEN/NOTIFY: PostgreSQL")
    use_queue("memory://")
    raw = connection.get_new_connection(connection.get_connection_params())
    if not callable(getattr(raw, "notifies", None)):
        raw.close()
        pytest.skip("psycopg 3.2+ (the consumers poll with an older driver)")

    def wake_trigger_calls(write):
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL track_functions = 'all'")
            write()
            cur.execute("SELECT COALESCE(SUM(calls), 0) FROM pg_stat_xact_user_functions WHERE funcname = %s",
                        [NOTIFY])
            return cur.fetchone()[0]
    try:
        raw.autocommit = True
        raw.execute("LISTEN %s" % CHANNEL)
        layer = project.make_layer(name="first")
        assert [n.payload for n in raw.notifies(timeout=5.0, stop_after=1)] == ["layers"]

        def saves():
            for title in ("a", "b", "c"):
                layer.title = title
                layer.save()
        assert wake_trigger_calls(saves) == 0  # recorded by the row trigger, which notified
        assert [n.payload for n in raw.notifies(timeout=5.0, stop_after=1)] == ["layers"]  # one per commit
        assert wake_trigger_calls(lambda: enqueue("layers", [layer.pk])) == 1  # written from Python
        assert [n.payload for n in raw.notifies(timeout=5.0, stop_after=1)] == ["layers"]
        with pytest.raises(RuntimeError), transaction.atomic():
            layer.title = "rolled back"
            layer.save()
            enqueue("layers", [layer.pk])
            raise RuntimeError("rolled back")
        assert [n.payload for n in raw.notifies(timeout=0.5)] == []
    finally:
        raw.close()


def test_broker_down_at_commit_the_save_succeeds_and_the_sweeper_delivers(project):
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.runtime import get_syncer
    use_queue("redis://127.0.0.1:9/0")  # nothing listens there
    layer = project.make_layer()
    assert Change.objects.count() == 1
    Change.objects.update(created=Change.objects.get().created.replace(year=2000))  # an old, lost wake-up
    get_syncer().sweep()
    assert project.doc(layer) is not None and Change.objects.count() == 0


def test_rejected_documents_are_recorded_listed_and_retried(project, capsys):
    from django.core.management import call_command
    from solrsync.contrib.django.models import Change, Failure
    with transaction.atomic():
        good = project.make_layer(name="good")
        bad = project.make_layer(name="bad", title="x" * 10)
    # make Solr refuse one document: its id field is fine, but a field the schema does not know is added
    from solrsync.pipelines.layers import LayerDocument
    from solrsync.documents import Field
    def set_extra(field):
        if field:
            LayerDocument.extra_field_x = field
        else:
            del LayerDocument.extra_field_x
        LayerDocument.__dict__.get("_fields_cache") is not None and delattr(LayerDocument, "_fields_cache")
        use_queue("immediate")  # rebuild the pipelines with the changed document
    set_extra(Field(fn=lambda row: "boom" if row.name == "bad" else None))
    try:
        with transaction.atomic():
            good.save()
            bad.save()
    finally:
        set_extra(None)
    assert Failure.objects.count() == 1 and Change.objects.count() == 0
    failure = Failure.objects.get()
    assert failure.doc_id == bad.uuid and "unknown field" in failure.message
    assert project.doc(good) is not None
    call_command("solrsync", "failures")
    out = capsys.readouterr().out
    assert bad.uuid in out and "unknown field" in out
    call_command("solrsync", "retry", bad.uuid)
    assert Failure.objects.count() == 0 and project.doc(bad) is not None


def test_the_save_survives_a_broken_change_log(project, monkeypatch, caplog):
    use_capture("signals")  # triggers fail with the save's own statement
    from solrsync.contrib.django.runtime import get_syncer

    def broken(*a, **kw):
        raise RuntimeError("table missing")
    monkeypatch.setattr(get_syncer().changelog, "record", broken)
    with transaction.atomic():
        layer = project.make_layer()
    from layers.models import Layer
    assert Layer.objects.filter(pk=layer.pk).exists()
    assert "could not record the change" in caplog.text


def test_manage_py_solrsync_reindex_prune(project):
    from solrsync.contrib.django.signals import hooks_disabled
    with hooks_disabled():
        layers = [project.make_layer(name="r%d" % i) for i in range(30)]
        layers[0].is_published = False
        layers[0].save()
    project.solr.post("update", [GHOST, dict(GHOST, id=layers[0].uuid)], commit="true")
    proc = run_manage("solrsync", "reindex", "--prune", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "indexed 29" in proc.stdout and "deleted 2" in proc.stdout  # the ghost and the unpublished one
    assert project.solr.select()["numFound"] == 29


@pytest.mark.parametrize("env,needle", [
    ({"SOLRSYNC_SOLR_URL": "ftp://nowhere"}, "setting SOLR_URL"),
    ({"SOLRSYNC_QUEUE_URL": "kafka://x"}, "setting QUEUE_URL"),
    ({"SOLRSYNC_PIPELINES": "layers,maps"}, "unknown pipeline 'maps'"),
])
def test_bad_settings_are_one_line_and_exit_2(project, env, needle):
    proc = subprocess.run([sys.executable, "-m", "solrsync.cli", "status"], cwd=str(DEMO), capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(DEMO), **env))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr


def test_cli_misuse_exits_2(project):
    proc = run_manage("solrsync", "reindex", "nosuchpipeline")
    assert proc.returncode == 2 and "unknown pipeline nosuchpipeline" in proc.stderr
    proc = run_manage("solrsync", "reindex", "--batch-size", "zero")
    assert proc.returncode == 2
    proc = run_manage("solrsync", "retry")
    assert proc.returncode == 2 and "--all" in proc.stderr
    proc = run_manage("solrsync", "reindex", "--threads")  # no workers for it to make threads of
    assert proc.returncode == 2 and "--workers" in proc.stderr


def test_status_reports_counts_and_unreachable_solr(project):
    project.make_layer()
    proc = run_manage("solrsync", "status", "--json")
    assert proc.returncode == 0, proc.stderr
    import json
    info = json.loads(proc.stdout)["pipelines"]["layers"]
    assert info["db_count"] == 1 and info["pending"] == 0 and info["solr"] == "ok"
    proc = run_manage("solrsync", "status", env={"SOLRSYNC_SOLR_URL": "http://u:pw@127.0.0.1:9/solr/layers"})
    assert proc.returncode == 1 and "unreachable" in proc.stdout and "pw@" not in proc.stdout


def test_commands_say_an_unreachable_solr_in_one_line(project):
    """pysolr logs each failed request with its traceback; the command says it once."""
    project.make_layer()
    for args in (("reindex", "layers"), ("reindex", "layers", "--verify")):
        proc = run_manage("solrsync", *args, env={"SOLRSYNC_SOLR_URL": "http://127.0.0.1:9/solr/layers"})
        lines = [line for line in proc.stderr.splitlines() if "W002" not in line and "journal_mode" not in line]
        assert proc.returncode == 1 and len(lines) == 1 and "unreachable" in lines[0], proc.stderr


def test_migrate_on_a_fresh_database(project, tmp_path):
    proc = run_manage("migrate", "-v0", env={"SOLRSYNC_DEMO_DB": "sqlite",
                                             "SOLRSYNC_DEMO_DBNAME": str(tmp_path / "fresh.sqlite3")})
    assert proc.returncode == 0, proc.stderr


TYPOS = {"SOLRSYNC_PIPELINES": '{"books": {"class": "typo_pipelines.TypoPipeline"}}',
         "PYTHONPATH": os.pathsep.join([str(DEMO), os.path.dirname(__file__)])}


def test_typos_in_a_pipeline_stop_the_commands_with_one_line(project):
    for argv in ([sys.executable, "manage.py", "solrsync", "reindex", "--dry-run"],
                 [sys.executable, "-m", "solrsync.cli", "reindex", "--export", "out.jsonl"]):
        proc = subprocess.run(argv, cwd=str(DEMO), capture_output=True, text=True, timeout=60,
                              env=dict(os.environ, **TYPOS))
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        for needle in ('pipeline books: document field title reads "titel": Layer has no field "titel" '
                       '(did you mean "title"?)',
                       'document field username reads "ownr.username": Layer has no field "ownr" (did you mean "owner"?)',
                       'document field keywords reads "keywords.nmae": Keyword has no field "nmae" (did you mean "name"?)',
                       'document field bbox reads "bbox_y": Layer has no field "bbox_y" (did you mean "bbox_y1"?)',
                       'document field computed depends on "category.identifer": Category has no field "identifer"',
                       'depends "owner.emial": User has no field "emial" (did you mean "email"?)',
                       'filter "is_publishd": Layer has no field "is_publishd" (did you mean "is_published"?)',
                       'select_related "keywords": Layer.keywords is not a foreign key or one-to-one field',
                       'prefetch_related "regons": Layer has no field "regons" (did you mean "regions"?)',
                       'watch_m2m "category": Layer.category is not a many-to-many field',
                       'modified_field "last_update": Layer has no field "last_update" (did you mean "last_updated"?)'):
            assert needle in lines[0]
        assert "anything_at_all" not in lines[0]  # a field computed by fn= is checked by its depends only
    assert not os.path.exists(os.path.join(str(DEMO), "out.jsonl"))


def test_a_sqlite_database_out_of_wal_mode_is_a_database_check_warning(tmp_path):
    """``check --database default`` (and migrate) warns while the change log's SQLite database is in
    its rollback journal; once it is in WAL mode, as the hint says, it does not."""
    if os.environ.get("SOLRSYNC_DEMO_DB") == "postgres":
        pytest.skip("a SQLite database's journal")
    env = {"SOLRSYNC_DEMO_DBNAME": str(tmp_path / "fresh.sqlite3")}
    proc = run_manage("check", "--database", "default", env=env)
    assert proc.returncode == 0 and "(solrsync.W002) database 'default' (SQLite) is in journal mode 'delete'" \
        in proc.stderr, proc.stderr
    hint = proc.stderr.split('python manage.py shell -c "', 1)[1].split('"\n', 1)[0]  # the command it gives
    assert run_manage("shell", "-v0", "-c", hint, env=env).returncode == 0
    proc = run_manage("check", "--database", "default", env=env)
    assert proc.returncode == 0 and "W002" not in proc.stderr + proc.stdout, proc.stderr
    assert "W002" not in run_manage("check", env=dict(env, SOLRSYNC_DEMO_DBNAME=str(tmp_path / "other.sqlite3"))).stderr


def test_typos_are_system_check_errors_and_improperly_configured(project, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured
    from solrsync.contrib.django import runtime
    proc = run_manage("check", env=TYPOS)
    assert proc.returncode == 1 and "(solrsync.E001) pipeline books: filter \"is_publishd\"" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    monkeypatch.setenv("SOLRSYNC_PIPELINES", TYPOS["SOLRSYNC_PIPELINES"])
    monkeypatch.syspath_prepend(os.path.dirname(__file__))
    runtime.reset()
    with pytest.raises(ImproperlyConfigured, match='did you mean "title"'):
        runtime.get_syncer()
    errors = runtime.check()
    assert len(errors) == 11 and all(e.id == "solrsync.E001" for e in errors)
    monkeypatch.setenv("SOLRSYNC_PIPELINES", "layers")
    runtime.reset()
    assert runtime.check() == []  # the shipped pipeline passes, properties and all


def test_a_bad_setting_read_by_huey_for_in_settings_py_is_one_line(project):
    proc = run_manage("solrsync", "status", env={"SOLRSYNC_SOLR_URL": "ftp://x"})
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "solrsync: setting SOLR_URL: 'ftp://x' is not an http(s) URL like http://127.0.0.1:8983/solr"], proc.stderr


def test_the_console_script_says_how_to_find_the_project(project, tmp_path):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    script = os.path.join(os.path.dirname(sys.executable), "solrsync")  # the console script: no cwd on its path
    base = [script, "--settings", "demoproject.settings"]
    proc = subprocess.run(base + ["status", "--json"], cwd=str(tmp_path), capture_output=True, text=True, timeout=60,
                          env=env)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "solrsync: cannot load the Django project: No module named 'demoproject' (settings module "
        "demoproject.settings is not on the Python path: run from the project directory, or pass --pythonpath DIR, "
        "the directory holding manage.py, and --settings MODULE)"], proc.stderr
    proc = subprocess.run(base + ["--pythonpath", str(DEMO), "status", "--json"], cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([script, "status", "--json"], cwd=str(DEMO), capture_output=True, text=True, timeout=60,
                          env=dict(env, DJANGO_SETTINGS_MODULE="demoproject.settings"))  # run in the project
    assert proc.returncode == 0, proc.stderr


def test_two_threads_asking_for_the_tasks_first_register_them_once(project, monkeypatch):
    """A wake-up flushed from another thread while this one builds the tasks: huey refused the
    second registration on the same Huey (ValueError) and the wake-up was lost to the sweeper."""
    import threading
    from django.conf import settings
    from solrsync.contrib.django import runtime
    from solrsync.queue import huey_for
    monkeypatch.setattr(settings, "HUEY", huey_for(settings.SOLRSYNC))  # a Huey no task is registered on yet
    runtime.reset()
    entered, errors, real = [], [], runtime.register_tasks
    both_in = threading.Event()

    def register(*args, **kw):
        entered.append(threading.current_thread().name)
        if len(entered) == 2:
            both_in.set()
        both_in.wait(timeout=1.0)  # the other thread gets its chance to come in too
        return real(*args, **kw)
    monkeypatch.setattr(runtime, "register_tasks", register)

    def ask():
        try:
            runtime.get_tasks()
        except Exception as exc:  # noqa: BLE001 -- the test reports what the thread met
            errors.append(exc)
    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(entered) == 1
    runtime.reset()
