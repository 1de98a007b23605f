"""The drain's coalescing wait (``Syncer._settle``) against a scripted change log and a fake clock:
no Solr, no database, no sleeping."""
import time

import pytest

from solrsync import sync
from solrsync.config import Settings
from solrsync.sync import Syncer


class Log:
    """A change log whose changes arrive by a script: ``created`` times on the fake clock."""

    def __init__(self, clock, created):
        self.clock, self.created = clock, created

    def _pending(self):
        return [t for t in self.created if t <= self.clock.now]

    def oldest_age(self, pipeline):
        pending = self._pending()
        return self.clock.now - min(pending) if pending else None

    def newest_age(self, pipeline):
        pending = self._pending()
        return self.clock.now - max(pending) if pending else None


class Clock:
    """sync's ``time`` module, but for ``sleep``: the real module's sleep is left alone, so
    threads other tests left running cannot move this clock (they did: 809 s in one run)."""

    def __init__(self):
        self.now = 0.0

    def sleep(self, seconds):
        self.now += seconds

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(sync, "time", c)
    return c


def settle(clock, created, **settings):
    syncer = Syncer(Settings(COALESCE_MS=100, COMMIT_WITHIN_MS=1500, **settings), {}, {}, Log(clock, created))
    start = clock.now
    syncer._settle("layers")
    return round(clock.now - start, 6)


def test_a_lone_save_waits_for_the_quiet_period(clock):
    clock.now = 0.01
    assert settle(clock, [0.0]) == pytest.approx(0.09)


def test_a_stream_waits_only_until_its_oldest_change_has_waited_its_share_of_commit_within(clock):
    # a save every millisecond since 0.0; the previous round took 0.2 s to build and post, so the
    # oldest pending change has waited 0.2 s: the round goes out 0.05 s later (1/6 of 1.5 s), not
    # after another full window (before: 0.4 s more, so its oldest change waited 0.6 s + the post)
    clock.now = 0.2
    assert settle(clock, [i / 1000.0 for i in range(5000)]) == pytest.approx(0.05)


def test_a_backlog_goes_at_once(clock):
    clock.now = 30.0
    assert settle(clock, [i / 1000.0 for i in range(40000)]) == 0


def test_nothing_pending_waits_nothing(clock):
    assert settle(clock, []) == 0
