"""Shared fixtures. The ``solr`` fixture comes from solrsync.testing.pytest_plugin (loaded by its
pytest11 entry point once solrsync is installed): a clean core on
the emulator, or on the real Solr named by SOLRSYNC_TEST_SOLR_URL).

Django tests run the demo project (contrib/django/demo) on SQLite, or on PostgreSQL with
SOLRSYNC_DEMO_DB=postgres; with SOLRSYNC_REQUIRE_SERVICES=1 (CI) a missing PostgreSQL or Redis
fails the test instead of skipping it."""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from solrsync.testing.emulator import SolrEmulator

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "contrib" / "django" / "demo"
ARTIFACTS = ROOT / "test-artifacts"
# a document the layers pipeline wrote once, whose row is gone (the demo's layers share their core with maps)
GHOST = {"id": "ghost", "solrsync_pipeline": "layers", "solrsync_version": 1}



def pytest_configure(config):
    config.addinivalue_line("markers", "solr: differential Solr scenarios (emulator or real Solr)")
    config.addinivalue_line("markers", "django: needs the Django demo project and its database")
    config.addinivalue_line("markers", "hosts: consumers on several hosts (network namespaces; root only)")


def service_up(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# Redis for the tests that need one: another server or db when several runs share a machine.
REDIS_PORT = int(os.environ.get("SOLRSYNC_TEST_REDIS_PORT", "6379"))
REDIS_DB = int(os.environ.get("SOLRSYNC_TEST_REDIS_DB", "15"))


def redis_url(offset=0):
    return "redis://127.0.0.1:%d/%d" % (REDIS_PORT, REDIS_DB - offset)


def require_service(name, port):
    if not service_up("127.0.0.1", port):
        msg = "%s is not answering on 127.0.0.1:%d" % (name, port)
        if os.environ.get("SOLRSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail(msg + " (SOLRSYNC_REQUIRE_SERVICES=1)")
        pytest.skip(msg)


@pytest.fixture(scope="module")
def two_nodes():
    """A SolrCloud of two emulator nodes (shard i led by node i % 2), for the leader-routing tests."""
    with SolrEmulator(cloud=True, nodes=2) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def django_project(tmp_path_factory):
    """The demo project, set up once, on a fresh test database."""
    if os.environ.get("SOLRSYNC_DEMO_DB") == "postgres":
        require_service("PostgreSQL", 5432)
    var = tmp_path_factory.mktemp("demo-var")
    os.environ["SOLRSYNC_DEMO_VAR"] = str(var)
    os.environ["DJANGO_SETTINGS_MODULE"] = "demoproject.settings"
    os.environ["SOLRSYNC_DEMO_ZOO"] = "1"  # the model zoo (tests/zoo): every model shape, taggit, polymorphic
    os.environ.setdefault("SOLRSYNC_COALESCE_MS", "0")
    if str(DEMO) not in sys.path:
        sys.path.insert(0, str(DEMO))
    import django
    django.setup()
    from django.db import connection
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    os.environ["SOLRSYNC_DEMO_DBNAME"] = name  # consumer subprocesses use the same database
    yield {"var": var, "db": name}
    connection.creation.destroy_test_db(name, verbosity=0)


@pytest.fixture
def project(django_project, solr, monkeypatch):
    """A clean database, Solr core and queue for one Django test; tasks run inline (immediate)."""
    from django.core.management import call_command
    from solrsync.contrib.django import runtime
    call_command("flush", interactive=False, verbosity=0)
    from solrsync.contrib.django.models import Change
    Change.objects.all().delete()  # on SQLite, flush's DELETEs fire the triggers
    saved_env = dict(os.environ)
    os.environ["SOLRSYNC_SOLR_URL"] = solr.url
    use_queue("immediate")
    yield Project(solr, django_project)
    from solrsync.contrib.django.signals import waker
    waker.flush()
    os.environ.clear()
    os.environ.update(saved_env)
    runtime.reset()


def use_queue(url, **env):
    """Point solrsync (and settings.HUEY) at another queue and forget what was built."""
    from django.conf import settings
    from solrsync.contrib.django import runtime
    from solrsync.queue import huey_for
    os.environ["SOLRSYNC_QUEUE_URL"] = url
    os.environ.update(env)
    settings.HUEY = huey_for(settings.SOLRSYNC)  # before the reset: a thread rebuilding at once takes this one
    runtime.reset()
    return runtime.get_tasks()


def run_manage(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "manage.py", *args], cwd=str(DEMO), env=full_env,
                          capture_output=True, text=True, timeout=120)


def use_capture(mode):
    """CAPTURE=signals or triggers, with the database's triggers as ``migrate`` would leave them."""
    from solrsync.contrib.django import runtime, triggers
    use_queue(os.environ["SOLRSYNC_QUEUE_URL"], SOLRSYNC_CAPTURE=mode)
    triggers.install(runtime.get_pipelines(), "default", mode)


class Project:
    def __init__(self, solr, info):
        self.solr, self.info = solr, info

    def make_layer(self, save=True, **fields):
        from django.utils import timezone
        from layers.models import Category, Layer
        cat = Category.objects.get_or_create(identifier=fields.pop("category", "transportation"))[0]
        values = dict(name="roads_berlin", title="Roads of Berlin", abstract="Street network",
                      bbox_x0=13.08, bbox_x1=13.76, bbox_y0=52.33, bbox_y1=52.68, category=cat,
                      date=timezone.now())
        values.update(fields)
        layer = Layer(**values)
        if save:
            layer.save()
        return layer

    def doc(self, layer):
        self.solr.post("update", {"commit": {}})
        docs = self.solr.select("id:%s" % layer.uuid)["docs"]
        return docs[0] if docs else None

    def assert_in_step(self, core=None):
        """Solr holds exactly the documents the database would build now, field by field."""
        expected, solr = self.expected_docs(), self.solr_docs(core)
        missing = sorted(set(expected) - set(solr))
        extra = sorted(set(solr) - set(expected))
        stale = sorted(i for i in set(expected) & set(solr) if expected[i] != solr[i])
        assert not (missing or extra or stale), "missing %s, extra %s, stale %s" % (
            missing[:5], extra[:5], [(expected[i], solr[i]) for i in stale[:3]])
        return len(expected)

    def expected_docs(self):
        from solrsync.contrib.django.runtime import get_syncer
        source = get_syncer().sources["layers"]
        # the rows as solrsync reads them (many-to-many values in the through table's order)
        docs = (source.pipeline.document.build(row)[0] for rows in source.iter_chunks(1000) for row in rows)
        return {d["id"]: normalized(d) for d in docs}

    def solr_docs(self, core=None):
        self.solr.post("update", {"commit": {}}, core=core)
        docs = self.solr.select("*:*", core=core, rows=100000, fl="*")["docs"]
        return {d["id"]: normalized(d) for d in docs}

    def consumer(self, *extra, env=None, module="solrsync.contrib.django.queue.huey"):
        """A real huey_consumer process on the current queue settings."""
        # consumers run on production defaults (coalescing on), whatever inline tests use
        full_env = dict(os.environ, PYTHONPATH=str(DEMO), SOLRSYNC_COALESCE_MS="100")
        full_env.update(env or {})
        log = open(tempfile.mktemp(prefix="consumer-", suffix=".log", dir=self.info["var"]), "w")
        proc = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", module, "-w", "2",
                                 "-d", "0.05", "-m", "0.2", *extra], env=full_env, cwd=str(DEMO),
                                stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log.name
        return proc


def normalized(doc):
    """A document as comparable: solrsync's bookkeeping fields left out, dates without the
    trailing zeros Solr versions disagree on."""
    import re
    out = {}
    for k, v in doc.items():
        if k.startswith("solrsync_") or k == "_version_":
            continue
        if isinstance(v, str) and re.match(r"\d{4}-\d\d-\d\dT", v):
            v = re.sub(r"\.?0*Z$", "Z", v) if "." in v else v
        out[k] = v
    return out


def first_post_held_until_next_read(monkeypatch, source, events):
    """A stream's first post to Solr is held until the source has read its next set of rows (as it
    can only while that post is in flight on a posting thread); every post asserts it is its
    stream's only one in flight. ``events`` gets "held", then "posted N" for each post."""
    import threading
    from solrsync.sink import SolrSink
    real_load, real_add = source.load, SolrSink.add_batch
    loads, next_read, lock, in_flight = [], threading.Event(), threading.Lock(), [0]

    def load(pks, **kw):
        rows = real_load(pks, **kw)
        loads.append(len(pks))
        if len(loads) == 2:
            next_read.set()
        return rows

    def add(self, docs, **kw):
        with lock:
            in_flight[0] += 1
            assert in_flight[0] == 1, "two posts of one stream at once"
        try:
            if not events:
                events.append("held")
                assert next_read.wait(20), "the next rows were not read while the first post was held"
            events.append("posted %d" % len(docs))
            return real_add(self, docs, **kw)
        finally:
            with lock:
                in_flight[0] -= 1
    monkeypatch.setattr(source, "load", load)
    monkeypatch.setattr(SolrSink, "add_batch", add)


def wait_until(fn, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return fn()


def stop(proc, sig=None):
    import signal
    if proc.poll() is None:
        proc.send_signal(sig or signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
