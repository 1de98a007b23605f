"""`status` while things are broken (issue 25): a SolrCloud node that hangs (a paused process)
makes status answer within its timeout, one line per problem, no traceback; a consumer stopped
cleanly takes its heartbeat away, one that died is listed DEAD for a bounded time, then dropped.
Each ends with every document compared, field by field, with what the database builds now."""
import signal
import threading

import pytest

from conftest import stop, use_queue, wait_until
from solrsync.testing.pytest_plugin import SolrTarget

pytestmark = pytest.mark.django


@pytest.fixture
def solr(two_nodes):
    two_nodes.reset()
    yield SolrTarget(two_nodes.core_url("layers"), two_nodes)
    two_nodes.reset()  # releases a node left hanging


def test_status_answers_within_its_timeout_when_a_node_hangs(project, capsys):
    from solrsync.cli import main
    from solrsync.contrib.django.runtime import get_syncer
    use_queue("immediate", SOLRSYNC_SOLR_TIMEOUT="1")
    for i in range(6):
        project.make_layer(name="s%d" % i)
    assert project.assert_in_step() == 6
    emulator = project.solr.emulator
    emulator.node_faults[1].hang()  # node 1 (shard2's leader) stops answering, as a paused process
    done = {}
    runner = threading.Thread(target=lambda: done.update(code=main(["status"], syncer_factory=get_syncer)),
                              daemon=True)
    runner.start()
    runner.join(60)  # a bound for a broken run, far above SOLR_TIMEOUT; the node stays hung throughout
    assert not runner.is_alive() and emulator.node_faults[1].hung is not None, "status waited on the hung node"
    out, err = capsys.readouterr()
    assert done["code"] == 1 and "Traceback" not in out + err
    problems = [line for line in out.splitlines() if line.startswith("layers: Solr: ")]
    assert len(problems) == 1 and ("1s" in problems[0] or "timed out" in problems[0].lower()), out
    assert "ERROR" in [line for line in out.splitlines() if line.startswith("layers ")][0]
    emulator.node_faults[1].release()
    assert project.assert_in_step() == 6


def test_a_clean_stop_removes_the_heartbeat_and_the_dead_are_dropped_in_time(project):
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.cli import collect_status
    from solrsync.fleet import DEAD_AFTER_SECONDS, DEAD_SHOWN_SECONDS, HEARTBEATS, broker_time
    tasks = use_queue("sqlite:///%s/beats-%d.sqlite3" % (project.info["var"], id(project)))
    huey = tasks.huey
    first, second = project.consumer(), project.consumer()
    try:
        def pids():
            return {c["pid"]: c["alive"] for c in collect_status(get_syncer(), huey)["consumers"]}
        assert wait_until(lambda: pids() == {first.pid: True, second.pid: True}, timeout=30), pids()
        stop(first)  # SIGINT: huey's graceful stop
        assert first.returncode == 0
        assert pids() == {second.pid: True}  # gone at once: neither alive nor DEAD
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        beats = huey.get(HEARTBEATS, peek=True)
        (key, beat), = beats.items()
        now = broker_time(huey)
        huey.put(HEARTBEATS, {key: dict(beat, seen=now - DEAD_AFTER_SECONDS - 1)})  # three beats missed
        assert pids() == {second.pid: False}  # listed DEAD
        huey.put(HEARTBEATS, {key: dict(beat, seen=now - DEAD_SHOWN_SECONDS - 1)})
        assert pids() == {}  # dropped after DEAD_SHOWN_SECONDS
        project.make_layer(name="after")
        get_syncer().drain("layers", coalesce=False)
        assert project.assert_in_step() == 1
    finally:
        stop(first)
        stop(second)
