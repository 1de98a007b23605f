"""Every lease is a fence: a holder paused past its lease -- a push held in the sink, a reindex or
a `--via-queue` command stopped between chunks, a sweeper, a resync, a tombstone purge, a
`--verify --fix` -- finds it gone at its next visible step, stops, and the next holder's work
stands; a rebuilt core starts with the live core's recent tombstones. Each test pauses one holder
with an event, forces the interleaving and ends comparing every document, field by field, with
what the database builds now. Leases are scaled down (LEASE_SECONDS 2)."""
import contextlib
import datetime as dt
import os
import threading
import time

import pytest
from django.db import connections

from conftest import use_queue

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


def drain():
    return syncer().drain("layers", coalesce=False)


@pytest.fixture
def scaled(project, monkeypatch):
    """No inline push on commit; leases of 2 s (tombstones kept 4 s: the start-up rule holds with
    SOLR_TIMEOUT 0.4). A paused holder's leases are not renewed while it is paused: a process
    stopped (SIGSTOP, a frozen VM) stops its renewing threads too (lease.Renewing)."""
    from solrsync.lease import Renewing
    real = Renewing.renew_now

    def unless_paused(self):
        owner = self.owner
        if isinstance(owner, Paused) and owner.reached.is_set() and not owner.go.is_set():
            return True  # the whole process is stopped: no renewal happens
        return real(self)
    monkeypatch.setattr(Renewing, "renew_now", unless_paused)
    use_queue("memory://", **SCALED)
    return project


# a real SolrCloud takes seconds to create a collection (8.11 on a busy machine: more than 2 s), longer than
# a 2 s lease (renewal while one step runs is not the fence's): runs against one get 15 s leases, unless
# SOLRSYNC_TEST_LEASE_SECONDS says otherwise
LEASE = float(os.environ.get("SOLRSYNC_TEST_LEASE_SECONDS")
              or (15 if os.environ.get("SOLRSYNC_TEST_SOLRCLOUD_URL") else 2))
TOMBSTONE = 2 * LEASE
SCALED = dict(SOLRSYNC_LEASE_SECONDS=str(int(LEASE)), SOLRSYNC_SOLR_TIMEOUT="0.4",
              SOLRSYNC_TOMBSTONE_SECONDS=str(int(TOMBSTONE)))


def layers(project, n, **fields):
    return [project.make_layer(name="layer%d" % i, title="Layer %d" % i, **fields) for i in range(n)]


class Paused(threading.Thread):
    """``fn`` run in a thread of its own (its own database connection), which the test pauses:
    ``pause_at(obj, name)`` makes the first call of that method wait until ``resume()``."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.result, self.error = fn, None, None
        self.reached, self.go = threading.Event(), threading.Event()

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as exc:  # noqa: B036 -- the test reads it
            self.error = exc
        finally:
            connections.close_all()

    def hold(self):
        """Called where the process stops: the first time in this thread (or a thread it runs its
        work in: a reindex's posting thread, named after it), wait for resume()."""
        current = threading.current_thread()
        if (current is self or current.name.startswith(self.name + "/")) and not self.reached.is_set():
            self.reached.set()
            assert self.go.wait(60), "never resumed"

    def resume(self, timeout=30):
        self.go.set()
        self.join(timeout)
        assert not self.is_alive(), "the paused holder did not stop"
        return self


@contextlib.contextmanager
def pausing(monkeypatch, paused, owner, name):
    """The first call of ``owner.name`` in ``paused``'s thread waits for its resume()."""
    real = getattr(owner, name)

    def wrapper(*args, **kwargs):
        paused.hold()
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, wrapper)
    yield


def past_lease(seconds=None):
    time.sleep(seconds or LEASE + 0.3)


def tombstone(project, doc_id):
    return project.solr.get("get", id=doc_id)[1]["doc"]


# ------------------------------------------------------------ a claimed batch of changes
def test_a_push_stalled_past_the_tombstone_horizon_is_not_sent(scaled, monkeypatch):
    """A worker takes its version and reads the row, then stalls in the sink past its lease and
    past TOMBSTONE_SECONDS; meanwhile the row is deleted, the delete pushed, its tombstone purged.
    Resumed, the stalled add must not land: the layer stays deleted."""
    from solrsync.sink import SolrSink
    doomed, kept = layers(scaled, 2)
    drain()
    doomed.title = "Edited, then stalled"
    doomed.save()
    worker = Paused(drain)
    with pausing(monkeypatch, worker, SolrSink, "_post"):
        worker.start()
        assert worker.reached.wait(30)
        past_lease()
        doomed.delete()
        assert drain().deleted == 1  # another worker: the stalled one's rows came free with its lease
        assert tombstone(scaled, doomed.uuid) is not None
        time.sleep(TOMBSTONE + 0.1)
        syncer().purge_tombstones()
        scaled.solr.post("update", {"commit": {}})
        assert tombstone(scaled, doomed.uuid) is None  # nothing left for a late add to lose against
        worker.resume()
    assert worker.error is None and worker.result.indexed == 0
    assert syncer().changelog.pending_count("layers") == 0
    assert scaled.doc(doomed) is None
    assert scaled.assert_in_step() == 1


def test_a_sweeper_paused_past_its_lease_leaves_the_newer_push_standing(scaled, monkeypatch):
    """The sweeper drains under the same leases: paused in its push, it sends nothing once a worker
    took the changes over and pushed the newer state."""
    from solrsync.sink import SolrSink
    layer, = layers(scaled, 1)
    drain()
    layer.title = "Swept late"
    layer.save()
    syncer().settings.SWEEP_AFTER_SECONDS = 0  # it is the sweeper that pushes this change
    sweeper = Paused(syncer().sweep)
    with pausing(monkeypatch, sweeper, SolrSink, "_post"):
        sweeper.start()
        assert sweeper.reached.wait(30)
        past_lease()
        layer.title = "Newest"
        layer.save()
        drain()
        sweeper.resume()
    assert sweeper.error is None
    assert scaled.doc(layer)["title"] == "Newest"
    assert syncer().changelog.pending_count("layers") == 0
    scaled.assert_in_step()


def test_a_tombstone_purge_paused_deletes_only_older_tombstones(scaled, monkeypatch):
    """The purge takes its horizon, then stalls; deletes made meanwhile keep their tombstones."""
    from solrsync.sink import SolrSink
    old, young, kept = layers(scaled, 3)
    drain()
    old.delete()
    drain()
    time.sleep(TOMBSTONE + 0.1)
    purge = Paused(syncer().purge_tombstones)
    with pausing(monkeypatch, purge, SolrSink, "purge_tombstones"):
        purge.start()
        assert purge.reached.wait(30)
        past_lease(TOMBSTONE + 0.5)
        young.delete()
        drain()
        purge.resume()
    assert purge.error is None
    scaled.solr.post("update", {"commit": {}})
    assert tombstone(scaled, old.uuid) is None and tombstone(scaled, young.uuid) is not None
    assert scaled.assert_in_step() == 1


def test_verify_fix_paused_before_it_queues_repairs_nothing_wrongly(scaled, monkeypatch):
    """--verify --fix finds drift, stalls before queueing it; meanwhile the rows change and are
    pushed. What it queues is re-read from the database by the consumer: Solr ends as the
    database is, whatever it saw."""
    from solrsync.verify import _Repair, verify
    stale, deleted, kept = layers(scaled, 3)
    drain()
    scaled.solr.post("update", {"commit": {}})
    for layer in (stale, deleted):  # titles Solr holds that the database never had
        doc = scaled.solr.select("id:%s" % layer.uuid, fl="*")["docs"][0]
        doc.update(title="Drifted", solrsync_version=syncer().version())
        doc.pop("_version_", None)
        scaled.solr.post("update", [doc], commit="true")
    fixer = Paused(lambda: verify(syncer(), "layers", fix=True))
    with pausing(monkeypatch, fixer, _Repair, "flush"):
        fixer.start()
        assert fixer.reached.wait(30)
        past_lease()
        deleted.delete()
        drain()
        fixer.resume()
    assert fixer.error is None and fixer.result.drifted == 2
    drain()
    assert scaled.doc(deleted) is None
    assert scaled.assert_in_step() == 2


# ------------------------------------------------------------ a reindex's hold
def test_a_reindex_paused_past_its_lease_stops_without_swapping(scaled, monkeypatch):
    """Reindex A (--swap) stops after its first chunk; while it holds the pipeline a second one
    refuses; past its lease, reindex B takes the pipeline over, and edits, a delete and an
    unpublish of rows A streamed are pushed; B swaps live. A, resumed, finds its hold gone at its
    next post: it stops, saying so, and never swaps its core live."""
    from solrsync import reindex as reindex_module
    from solrsync.lease import LeaseLost
    from solrsync.reindex import ReindexRunning, reindex
    victims = layers(scaled, 30)
    drain()
    first = Paused(lambda: reindex(syncer(), "layers", batch_size=10, swap=True))
    with pausing(monkeypatch, first, reindex_module.Chunk, "post"):
        first.start()
        assert first.reached.wait(30)
        with pytest.raises(ReindexRunning):  # its hold still runs: one reindex at a time
            reindex(syncer(), "layers", swap=True)
        past_lease()
        # B begins (A's registration ended), then rows A read are edited, deleted, unpublished
        real_stream = reindex_module._stream

        def stream_after_edits(*args, **kwargs):
            monkeypatch.setattr(reindex_module, "_stream", real_stream)  # once: not for the maps of the core too
            victims[0].title = "Edited while A was paused"
            victims[0].save()
            victims[1].delete()
            victims[2].is_published = False
            victims[2].save()
            drain()
            return real_stream(*args, **kwargs)
        monkeypatch.setattr(reindex_module, "_stream", stream_after_edits)
        second = reindex(syncer(), "layers", batch_size=10, swap=True)
        monkeypatch.setattr(reindex_module, "_stream", real_stream)
        assert second.indexed == 28
        first.resume()
    assert isinstance(first.error, LeaseLost), first.error
    assert "the reindex: its lease" in str(first.error)
    assert scaled.doc(victims[0])["title"] == "Edited while A was paused"
    assert scaled.assert_in_step() == 28
    from solrsync.contrib.django.models import Rebuild
    assert not Rebuild.objects.exists()


def test_a_via_queue_command_paused_past_its_lease_stops(scaled, monkeypatch):
    """A `--via-queue` command stops while ranges are out; past its lease a second run takes the
    pipeline over (dropping the first's ranges) and finishes. The first, resumed, stops at its
    next look at the ranges instead of waiting for them forever."""
    from solrsync import range_tasks
    from solrsync.contrib.django.store import DjangoChangeLog
    from solrsync.lease import LeaseLost
    from solrsync.reindex import reindex
    tasks = use_queue("memory://", **SCALED)  # no consumer: each command runs its ranges itself
    monkeypatch.setattr(range_tasks, "IDLE_SECONDS", 0.3)
    victims = layers(scaled, 30)
    drain()
    first = Paused(lambda: reindex(syncer(), "layers", batch_size=10, prune=True, via_queue=tasks))
    with pausing(monkeypatch, first, DjangoChangeLog, "ranges"):
        first.start()
        assert first.reached.wait(30)
        past_lease()
        victims[0].delete()
        victims[1].title = "Edited while the first run was paused"
        victims[1].save()
        drain()
        second = reindex(syncer(), "layers", batch_size=10, prune=True, via_queue=tasks)
        assert second.indexed == 29
        first.resume()
    assert isinstance(first.error, LeaseLost), first.error
    assert scaled.assert_in_step() == 29
    from solrsync.contrib.django.models import ReindexRange
    assert not ReindexRange.objects.exists()


def test_a_resync_tick_paused_past_its_lease_ends_in_one_line(scaled, monkeypatch, caplog):
    """The periodic resync holds the pipeline like any reindex: paused past its lease while another
    resync ran, it stops (logged in one line) instead of pruning with what it saw."""
    from solrsync import reindex as reindex_module
    from solrsync.contrib.django import runtime
    victims = layers(scaled, 20)
    drain()
    scaled.solr.post("update", [{"id": "ghost", "solrsync_version": 1, "solrsync_pipeline": "layers"}], commit="true")
    first = Paused(lambda: runtime.get_tasks().resync.call_local())
    with pausing(monkeypatch, first, reindex_module.Chunk, "post"):
        first.start()
        assert first.reached.wait(30)
        past_lease()
        victims[0].delete()
        drain()
        assert runtime.resync("layers").deleted == 1  # the ghost
        first.resume()
    assert first.error is None and "layers" not in first.result
    assert [r.message for r in caplog.records if "resync stopped" in r.message] == [
        "resync stopped: layers: the reindex: its lease (LEASE_SECONDS %d) ran out or another process took it over; "
        "stopped here, the new holder does the rest" % LEASE]
    assert scaled.assert_in_step() == 19


# ------------------------------------------------------------ across a swap
def test_a_late_add_lands_after_a_swap_and_finds_the_tombstone(scaled, monkeypatch):
    """A push sent before a rebuild began is executed by Solr late, after the swap, on the live
    name (now the fresh core); the layer was deleted before the rebuild registered. The fresh core
    started with the live core's recent tombstones: the late add is dropped."""
    from solrsync.reindex import reindex
    from solrsync.sink import SolrSink
    use_queue("memory://", **dict(SCALED, SOLRSYNC_TOMBSTONE_SECONDS="60"))  # a slow machine keeps it
    doomed, kept = layers(scaled, 2)
    drain()
    doomed.title = "Sent, then executed late"
    doomed.save()
    held = []
    real_post = SolrSink._post

    def hold_the_add(self, message, commit=False, **params):
        if not held and doomed.uuid in message:
            held.append((self, message, params))
            return None  # Solr took it, and will execute it late (a hung Solr)
        return real_post(self, message, commit=commit, **params)
    monkeypatch.setattr(SolrSink, "_post", hold_the_add)
    drain()
    monkeypatch.setattr(SolrSink, "_post", real_post)
    doomed.delete()
    drain()
    reindex(syncer(), "layers", swap=True)
    sink, message, params = held[0]
    params.pop("fence", None)  # checked when it was sent
    params.pop("client", None)  # SolrCloud: sent to the old collection's leader; here, to the alias, as a standalone
    real_post(sink, message, commit=True, **params)  # lands now, on the core live after the swap
    assert scaled.doc(doomed) is None
    assert scaled.assert_in_step() == 1
    assert not scaled.solr.rebuild_leftovers()


def test_a_push_stalled_across_a_swap_is_not_sent(scaled, monkeypatch):
    """A worker stalls in the sink before its post while a rebuild registers and swaps; the layer
    is deleted meanwhile. Resumed past its lease, it sends nothing."""
    from solrsync.reindex import reindex
    from solrsync.sink import SolrSink
    doomed, kept = layers(scaled, 2)
    drain()
    doomed.title = "Stalled across the swap"
    doomed.save()
    worker = Paused(drain)
    with pausing(monkeypatch, worker, SolrSink, "_post"):
        worker.start()
        assert worker.reached.wait(30)
        past_lease()
        doomed.delete()
        drain()
        reindex(syncer(), "layers", swap=True)
        worker.resume()
    assert worker.error is None and worker.result.indexed == 0
    assert scaled.doc(doomed) is None
    assert scaled.assert_in_step() == 1


def test_progress_is_recorded_only_by_the_holder(scaled):
    """A reindex that lost its hold writes no progress over the one that took over (a --resume
    would start from the wrong key)."""
    log = syncer().changelog
    assert log.hold_reindex("layers", "host-a:1:x/paused", 1) is None
    past_lease(1.2)
    assert log.hold_reindex("layers", "host-b:2:y/next", 60) is None  # took over
    log.save_reindex_state("layers", {"last_pk": 500}, "host-b:2:y/next", 60)
    assert not log.save_reindex_state("layers", {"last_pk": 10}, "host-a:1:x/paused", 60)
    assert log.reindex_state("layers") == {"last_pk": 500}
    assert log.lease_left("reindex", "layers", "host-a:1:x/paused") is None
    left, now = log.lease_left("reindex", "layers", "host-b:2:y/next")
    assert 50 < left <= 60 and abs(now / 1e6 - time.time()) < 60


def test_every_kind_of_lease_is_held_only_by_its_holder(scaled):
    """``lease_left`` for each kind (its statement written out per kind): the holder's lease runs
    for about its length, by the database's clock; another token, a finished range, a lease run
    out, or an unknown kind are not held."""
    from solrsync.contrib.django.runtime import get_syncer
    log = get_syncer().changelog

    def held(kind, key, token):
        got = log.lease_left(kind, key, token)
        if got is None:
            return None
        left, now = got
        assert abs(now / 1e6 - time.time()) < 60
        return left
    layers(scaled, 1)  # its change recorded by the triggers
    change = log.claim("layers", 10, 30)[0]
    assert 20 < held("changes", change.seq, change.lease) <= 30
    assert held("changes", change.seq, change.lease - dt.timedelta(seconds=1)) is None  # another claim's
    assert held("changes", change.seq + 1000, change.lease) is None
    assert log.hold_reindex("layers", "host-a:1:x/r", 30) is None
    assert 20 < held("reindex", "layers", "host-a:1:x/r") <= 30
    assert held("reindex", "layers", "host-b:1:x/r") is None
    assert held("reindex", "books", "host-a:1:x/r") is None
    log.add_ranges("run-1", [(0, 1, 10), (1, 11, 20)])
    seq, _, _, lease = log.claim_range("run-1", "host-a", 30)
    assert 20 < held("range", ("run-1", seq), lease) <= 30
    assert held("range", ("run-1", seq + 1), lease) is None
    assert held("range", ("run-2", seq), lease) is None
    assert log.finish_range("run-1", seq, lease, {"indexed": 1})
    assert held("range", ("run-1", seq), lease) is None  # finished: no step of it is left to fence
    seq, _, _, lease = log.claim_range("run-1", "host-a", 1)
    assert held("range", ("run-1", seq), lease) is not None
    past_lease(1.2)
    assert held("range", ("run-1", seq), lease) is None
    assert held("changes", change.seq, change.lease) is not None  # 30 s leases outlive the pause
    with pytest.raises(ValueError):
        log.lease_left("shard", "layers", "x")
