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
            "from solrsync.queue import consumer_id; print(consumer_id())")
    ids = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
           for _ in range(2)}
    assert len(ids) == 2 and all(i.startswith("web:1:") for i in ids), ids
