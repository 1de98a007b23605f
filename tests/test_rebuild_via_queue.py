"""`reindex --via-queue`: the rows as key ranges on the queue, run by every consumer; the command
accounts for them in order, then prunes or swaps as a local reindex does. Each test forces one
interleaving (a consumer that dies holding a range, Ctrl-C, no consumer at all) and compares every
document with what the database would build now. End to end with consumer processes and live
writes: tests/test_versions.py::test_end_to_end_swap_with_consumers_while_another_process_writes."""
import os

import pytest

from conftest import GHOST, use_queue
from test_capture import maps  # noqa: F401 (fixture: the maps pipeline beside layers, in the layers core)

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


@pytest.fixture
def loaded(project):
    from layers.management.commands.demo import Command
    Command().load(600)
    return project


def rows():
    return syncer().sources["layers"].count()


def ranges_left():
    from solrsync.contrib.django.models import ReindexRange
    return ReindexRange.objects.count()


def test_every_range_runs_in_a_task_and_the_ghost_is_pruned(loaded):
    """Immediate queue: each range task runs where it is sent; the summary names who ran them."""
    from solrsync.reindex import reindex
    tasks = use_queue("immediate")
    loaded.solr.post("update", [GHOST], commit="true")
    result = reindex(syncer(), "layers", batch_size=100, prune=True, via_queue=tasks)
    assert result.deleted == 1 and not result.rejected and sum(result.ranges_by.values()) == -(-rows() // 100)
    assert loaded.assert_in_step() == result.indexed
    assert ranges_left() == 0


def test_a_range_whose_consumer_died_runs_again_after_its_lease(loaded, monkeypatch):
    """The first task's consumer claims its range and dies: the lease (by the database's clock)
    runs out, the command sends the range again, another consumer runs it."""
    from solrsync import range_tasks
    from solrsync.reindex import reindex
    tasks = use_queue("immediate", SOLRSYNC_LEASE_SECONDS="1")
    real = tasks.enqueue_range
    died = []

    def first_consumer_dies(pipeline, run, *args):
        if not died:
            died.append(syncer().changelog.claim_range(run, "dead-host:1:x", 1))
            return
        real(pipeline, run, *args)
    monkeypatch.setattr(tasks, "enqueue_range", first_consumer_dies)
    monkeypatch.setattr(range_tasks, "IDLE_SECONDS", 60)  # the command must not run it itself
    result = reindex(syncer(), "layers", batch_size=100, via_queue=tasks)
    assert died[0][0] == 0 and "dead-host:1:x" not in result.ranges_by
    assert loaded.assert_in_step() == result.indexed and result.seen == rows()


def test_ctrl_c_stops_handing_out_and_resume_finishes(loaded, monkeypatch):
    from solrsync.reindex import reindex
    tasks = use_queue("immediate")
    loaded.solr.post("update", [GHOST], commit="true")
    calls = []

    def interrupt(result, n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt
    result = reindex(syncer(), "layers", batch_size=50, prune=True, via_queue=tasks, on_batch=interrupt)
    # what had finished in order is accounted for (the ranges of the window ran inline)
    assert result.interrupted and 100 <= result.seen < rows() and ranges_left() == 0
    assert syncer().changelog.reindex_state("layers")["last_pk"] == result.last_pk
    first = result.seen
    from test_reindex import run_cli
    status = run_cli("status").stdout
    assert "a reindex was interrupted after pk %s: solrsync reindex layers --resume" % result.last_pk in status
    result = reindex(syncer(), "layers", batch_size=50, resume=True, via_queue=tasks)
    assert result.deleted == 1 and result.seen == rows() - first
    loaded.assert_in_step()


def test_with_no_consumer_the_command_runs_the_ranges_itself(loaded, monkeypatch, caplog):
    from solrsync import range_tasks
    from solrsync.reindex import reindex
    tasks = use_queue("memory://")  # tasks are queued and nobody takes them
    monkeypatch.setattr(range_tasks, "IDLE_SECONDS", 0.2)
    result = reindex(syncer(), "layers", batch_size=200, via_queue=tasks)
    assert result.seen == rows() and loaded.assert_in_step() == result.indexed
    assert "no consumer took a range" in caplog.text


def test_via_queue_misuse_is_one_line_and_exit_2(loaded):
    from test_reindex import run_cli
    proc = run_cli("reindex", "--via-queue", "--dry-run")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--via-queue" in proc.stderr


def test_a_pipeline_keyed_by_uuid_runs_through_the_queue(project, maps):
    """The maps pipeline's primary key is a UUIDField: its ranges' ends are kept in the database as
    JSON (they were refused: "Object of type UUID is not JSON serializable", found on real Solr 9.4
    with the demo), read back as text and still bound each range, so every map is indexed once."""
    from layers.models import Map
    from solrsync.reindex import reindex
    from test_shared_core import assert_core_holds
    Map.objects.bulk_create([Map(title="Map %d" % i) for i in range(25)])
    tasks = use_queue(os.environ["SOLRSYNC_QUEUE_URL"])
    result = reindex(syncer(), "maps", batch_size=4, via_queue=tasks)
    assert not result.rejected and result.indexed == 25 and sum(result.ranges_by.values()) == 7
    assert assert_core_holds(project, "maps") == 25
    assert ranges_left() == 0
