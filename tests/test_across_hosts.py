"""Nothing that only one host has: leases and ages by the database's clock, consumers told apart
when their hostnames and pids are equal, reindex progress and the resync lock in the database.
The same on real separate hosts: tests/test_hosts.py."""
import datetime as dt

import pytest

pytestmark = pytest.mark.django


@pytest.fixture
def host_ahead(monkeypatch):
    """Make this process a host whose clock runs ``minutes`` ahead (Python's clock only; the
    database keeps its own)."""
    from django.utils import timezone

    def skew(minutes):
        real = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real() + dt.timedelta(minutes=minutes))
    return skew


def test_a_host_whose_clock_runs_ahead_takes_no_lease_another_holds(project, host_ahead):
    """Worker A (a true clock) holds a lease on an object; a host five minutes ahead must neither
    claim it (two workers pushing one object: the older state could land last) nor see it as
    claimable for its sweeper; its own lease lasts LEASE_SECONDS by the database's clock."""
    from django.db import connection
    from solrsync.contrib.django.runtime import get_syncer
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serves one host: its clock is the only one (run with SOLRSYNC_DEMO_DB=postgres)")
    log = get_syncer().changelog
    layer = project.make_layer(name="held")
    log.record("layers", layer.pk, str(layer.uuid), "save")
    held = log.claim("layers", 10, lease_seconds=120)
    assert [c.pk for c in held] == [str(layer.pk)]
    other = project.make_layer(name="free")
    log.record("layers", other.pk, str(other.uuid), "save")
    host_ahead(5)
    taken = log.claim("layers", 10, lease_seconds=120)
    assert [c.pk for c in taken] == [str(other.pk)], "a skewed host took a lease another worker holds"
    assert 100 < log.next_lease_expiry("layers") <= 120
    assert log.oldest_age("layers") is None  # nothing claimable: both objects are leased


def test_consumers_with_the_same_hostname_and_pid_are_two(project, monkeypatch):
    """Two containers, both hostname "web" and pid 1: status must count two consumers."""
    import socket
    import subprocess
    import sys
    code = ("import socket, os; socket.gethostname = lambda: 'web'; os.getpid = lambda: 1\n"
            "from solrsync.fleet import consumer_id; print(consumer_id())")
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
           for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("web:1:") for i in ids), ids


def test_one_reindex_of_a_pipeline_at_a_time_whichever_host_starts_it(project, monkeypatch):
    """Another host holds the pipeline's reindex: a second one refuses (exit 1, one line naming
    the holder); once the holder's lease runs out -- it was killed -- the pipeline is free."""
    from conftest import use_queue
    from solrsync.contrib.django.models import Reindex
    from solrsync.reindex import ReindexRunning, reindex
    from test_reindex import run_cli
    use_queue("immediate")
    from solrsync.contrib.django.runtime import get_syncer
    project.make_layer(name="one")
    log = get_syncer().changelog
    assert log.hold_reindex("layers", "other-host:7:abcd", 300) is None
    with pytest.raises(ReindexRunning, match="other-host:7:abcd"):
        reindex(get_syncer(), "layers")
    proc = run_cli("reindex", "--quiet")
    assert proc.returncode == 1 and "already running (other-host:7:abcd)" in proc.stderr, proc.stderr
    Reindex.objects.update(leased_until=log.now() - dt.timedelta(seconds=1))  # its lease ran out
    assert reindex(get_syncer(), "layers").indexed == 1
    assert log.hold_reindex("layers", "other-host:7:abcd", 1) is None  # released at the end


def test_the_periodic_resync_runs_once_per_tick_across_consumers(project, caplog):
    """Every consumer's scheduler sends the tick's resync: a copy meeting a running one ends, and
    so does a copy arriving after the first finished."""
    from conftest import use_queue
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.fleet import last_resync
    tasks = use_queue("immediate")
    project.make_layer(name="one")
    log = get_syncer().changelog
    assert log.hold_reindex("layers", "other-host:7:abcd", 60) is None
    tasks.resync()
    assert "resync skipped: layers: a reindex is already running (other-host:7:abcd)" in caplog.text
    assert last_resync(tasks.huey, "layers") is None
    log.release_reindex("layers", "other-host:7:abcd")
    tasks.resync()
    first = last_resync(tasks.huey, "layers")
    assert first["ok"] and "indexed 1" in first["summary"]
    tasks.resync()  # a later copy of the same tick
    assert last_resync(tasks.huey, "layers") == first


def test_heartbeats_are_aged_by_the_brokers_clock(project, monkeypatch):
    """A host whose clock runs ten minutes ahead reads another's fresh heartbeat as fresh."""
    import time
    from conftest import REDIS_PORT, redis_url, require_service, use_queue
    from solrsync import fleet as queue
    require_service("Redis", REDIS_PORT)
    tasks = use_queue(redis_url(1))
    tasks.huey.storage.flush_all()
    tasks.huey.put(queue.HEARTBEATS, {"a": {"id": "a", "host": "a", "pid": 1, "seen": queue.broker_time(tasks.huey)}})
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 600)
    assert [c["alive"] for c in queue.consumers(tasks.huey)] == [True]
    tasks.huey.storage.flush_all()
