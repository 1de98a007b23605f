"""Operating solrsync: signed messages, consumers' heartbeats, status, the queue command."""
import json
import os
import subprocess
import sys
import time

import pytest
from huey.serializer import SignedSerializer

from conftest import DEMO, stop, use_queue, wait_until

pytestmark = pytest.mark.django


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "manage.py", "solrsync", *args], cwd=str(DEMO), capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, **(env or {})))


def test_messages_are_signed_and_tampered_or_unsigned_ones_rejected(project):
    from solrsync.config import load_settings
    from solrsync.queue import make_huey
    signed = make_huey(load_settings({"QUEUE_URL": "memory://", "QUEUE_SECRET": "s3cret"}, environ={}))
    assert isinstance(signed.serializer, SignedSerializer)
    message = signed.serializer.serialize({"task": "solrsync.sync", "args": ("layers", [])})
    assert signed.serializer.deserialize(message)["task"] == "solrsync.sync"
    tampered = message.replace(b"layers", b"LAYERS")
    with pytest.raises(ValueError):
        signed.serializer.deserialize(tampered)
    unsigned = make_huey(load_settings({"QUEUE_URL": "memory://"}, environ={})).serializer.serialize({"x": 1})
    with pytest.raises(ValueError):
        signed.serializer.deserialize(unsigned)
    forged = SignedSerializer(secret="not-the-secret", salt="solrsync").serialize({"x": 1})
    with pytest.raises(ValueError):
        signed.serializer.deserialize(forged)


def test_a_queue_file_in_a_missing_folder_is_one_line(tmp_path, monkeypatch, capsys):
    from solrsync.config import ConfigError, load_settings
    from solrsync.queue import huey_for, make_huey
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="QUEUE_URL.*folder .*var does not exist.*working directory"):
        make_huey(load_settings({"QUEUE_URL": "sqlite:///var/solrsync-queue.db"}, environ={}))
    with pytest.raises(SystemExit) as stopped:
        huey_for({"QUEUE_URL": "sqlite:///%s/none/queue.db" % tmp_path})
    assert stopped.value.code == 2 and capsys.readouterr().err.count("\n") == 1
    (tmp_path / "var").mkdir()
    assert make_huey(load_settings({"QUEUE_URL": "sqlite:///var/solrsync-queue.db"}, environ={})) is not None


def test_a_consumer_refuses_to_start_unsigned(project):
    tasks = use_queue("sqlite:///%s/unsigned.sqlite3" % project.info["var"])
    proc = project.consumer(env={"SOLRSYNC_QUEUE_SECRET": ""})
    try:
        proc.wait(60)
    finally:
        stop(proc)
    log = open(proc.log_path).read()
    assert proc.returncode == 2 and "setting QUEUE_SECRET: not set" in log, log[-2000:]
    assert "Traceback" not in log, log[-2000:]  # one line says it
    proc = project.consumer(env={"SOLRSYNC_QUEUE_SECRET": "", "SOLRSYNC_QUEUE_ALLOW_UNSIGNED": "true"})
    try:
        time.sleep(2)
        assert proc.poll() is None, open(proc.log_path).read()[-2000:]
    finally:
        stop(proc)
    assert tasks is not None


def test_a_signed_consumer_ignores_a_forged_message(project):
    tasks = use_queue("sqlite:///%s/forged.sqlite3" % project.info["var"])
    message = tasks.huey._registry.create_message(tasks.sync.s("layers", []))
    forged = SignedSerializer(secret="guessed", salt="solrsync").serialize(message)  # a real task, wrong key
    tasks.huey.storage.enqueue(forged, None)
    layer = project.make_layer()
    proc = project.consumer()
    try:
        assert wait_until(lambda: project.solr.select("id:%s" % layer.uuid)["numFound"] == 1, timeout=20)
        assert wait_until(lambda: "dropped a queue message" in open(proc.log_path).read(), timeout=10), \
            open(proc.log_path).read()[-2000:]
        assert proc.poll() is None  # and keeps running
    finally:
        stop(proc)


def test_a_consumer_says_in_one_line_that_a_producer_has_no_secret(project):
    from huey.serializer import Serializer
    tasks = use_queue("sqlite:///%s/nosecret.sqlite3" % project.info["var"])
    message = tasks.huey._registry.create_message(tasks.sync.s("layers", []))
    tasks.huey.storage.enqueue(Serializer().serialize(message), None)  # what a producer without QUEUE_SECRET sends
    layer = project.make_layer()
    proc = project.consumer()
    try:
        assert wait_until(lambda: project.solr.select("id:%s" % layer.uuid)["numFound"] == 1, timeout=20)
        assert wait_until(lambda: "dropped a queue message" in open(proc.log_path).read(), timeout=10)
        assert proc.poll() is None  # and keeps running
    finally:
        stop(proc)
    log = open(proc.log_path).read()
    said = [line for line in log.splitlines() if "dropped a queue message" in line]
    assert len(said) == 1 and "unsigned or signed with another QUEUE_SECRET: QUEUE_SECRET must be the same on " \
        "producers" in said[0], log[-2000:]
    assert "Traceback" not in log and "Error reading from queue" not in log, log[-2000:]


def test_status_and_the_admin_page_tell_dead_consumers_from_live_ones(project):
    from django.contrib.auth.models import User
    from django.test import Client
    from solrsync.fleet import HEARTBEATS
    url = "sqlite:///%s/beats.sqlite3" % project.info["var"]
    tasks = use_queue(url)
    now = time.time()
    tasks.huey.put(HEARTBEATS, {"w1:11": {"host": "w1", "pid": 11, "seen": now - 2},
                                "w2:22": {"host": "w2", "pid": 22, "seen": now - 300}})
    table = run_cli("status", env={"SOLRSYNC_QUEUE_URL": url}).stdout
    assert "Consumers alive: 1, dead: 1" in table, table
    assert "w2 pid 22, seen 5m ago  DEAD (no heartbeat for 5m)" in table, table
    assert "DEAD" not in table.split("pid 11")[1].splitlines()[0]
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    page = client.get("/admin/solrsync/failure/").content.decode()
    assert "1 consumer(s) alive" in page and "<strong>1 dead</strong>" in page, page


def test_status_shows_consumers_queue_and_last_resync(project):
    use_queue("sqlite:///%s/status.sqlite3" % project.info["var"])
    os.environ["SOLRSYNC_QUEUE_URL"] = "sqlite:///%s/status.sqlite3" % project.info["var"]
    project.make_layer()
    assert run_cli("reindex", "--quiet").returncode == 0
    proc = project.consumer()
    try:
        def alive():
            out = run_cli("status", "--json")
            data = json.loads(out.stdout)
            return data if any(c["alive"] and c["pid"] == proc.pid for c in data.get("consumers", [])) else None
        data = wait_until(alive, timeout=30)
        assert data, open(proc.log_path).read()[-2000:]
        layers = data["pipelines"]["layers"]
        assert layers["db_count"] == 1 and layers["solr_count"] == 1 and layers["solr_version"]
        assert data["solr_kind"].startswith("Solr (standalone) ") or not project.solr.emulator
        assert layers["last_resync"]["ok"] and "indexed 1" in layers["last_resync"]["summary"]
        table = run_cli("status").stdout
        assert "Consumers alive: 1" in table and "pid %d" % proc.pid in table and "ago, " in table
    finally:
        stop(proc)


def test_queue_command(project):
    url = "sqlite:///%s/q.sqlite3" % project.info["var"]
    tasks = use_queue(url, SOLRSYNC_ENQUEUE="inline")
    env = {"SOLRSYNC_QUEUE_URL": url}
    project.make_layer(name="a")
    project.make_layer(name="b")  # its wake-up is merged into a's, still queued (drain_gate.py)
    pending = run_cli("queue", "pending", env=env)
    assert pending.returncode == 0 and "1 task(s) pending" in pending.stdout and "solrsync.sync" in pending.stdout
    task_id = pending.stdout.split()[0]
    typo = run_cli("queue", "revoke", task_id[:-1] + "x", env=env)
    assert typo.returncode == 1 and "no pending or scheduled task" in typo.stderr
    assert run_cli("queue", "revoke", task_id, env=env).returncode == 0
    assert tasks.huey.is_revoked(task_id)
    assert "solrsync.sync" in run_cli("queue", "registered", env=env).stdout
    stats = json.loads(run_cli("queue", "stats", "--json", env=env).stdout)
    assert stats["pending"] == 1
    assert run_cli("queue", "purge", env=env).returncode == 2
    purged = run_cli("queue", "purge", "--yes", env=env)
    assert purged.returncode == 0 and "purged 1 pending" in purged.stdout
    assert tasks.huey.pending_count() == 0
    project.make_layer(name="c")  # the purged wake-up's gate is gone too: this one is queued at once
    assert tasks.huey.pending_count() == 1
    assert run_cli("queue", "scheduled", env=env).returncode == 0


def test_reindex_now_admin_action(project):
    from django.contrib.admin.sites import site
    from django.contrib.auth.models import User
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.test import RequestFactory
    from layers.models import Layer
    from solrsync.contrib.django.admin import reindex_now
    from solrsync.contrib.django.signals import hooks_disabled
    with hooks_disabled():
        layers = [project.make_layer(name="n%d" % i) for i in range(3)]
    assert project.solr.select()["numFound"] == 0
    request = RequestFactory().post("/admin/layers/layer/")
    request.user = User.objects.create_superuser("root", "r@example.com", "pw")
    request.session = {}
    request._messages = FallbackStorage(request)
    reindex_now(site._registry[Layer], request, Layer.objects.filter(pk__in=[l.pk for l in layers]))
    project.solr.post("update", {"commit": {}})
    assert project.solr.ids() == sorted(l.uuid for l in layers)


def test_credentials_never_show(project):
    proc = run_cli("status", env={"SOLRSYNC_SOLR_URL": "http://admin:t0ps3cret@127.0.0.1:9/solr/layers"})
    assert "t0ps3cret" not in proc.stdout + proc.stderr and "(as admin)" in proc.stdout
