"""The queue stays bounded whatever the save rate (issue 25): each save sends a wake-up and each
consumer's change-log listener another, and at 25 saves/s they piled up (1,910 tasks after 40 s).
Now a wake-up that finds one queued or a drain running is merged (solrsync/drain_gate.py): the
queue holds at most one wake-up per pipeline, and the drain running takes the changes that arrive
while it works. A bound, not a timing: saves and wake-ups are made one by one, the queue measured
after each; at the end every document is compared, field by field, with what the database builds."""
import pytest

from conftest import REDIS_PORT, redis_url, service_up, use_queue

pytestmark = pytest.mark.django

QUEUES = ["memory://", "redis"]


def queue_for(kind):
    if kind == "redis":
        if not service_up("127.0.0.1", REDIS_PORT):
            pytest.skip("Redis is not answering")
        tasks = use_queue(redis_url())
        tasks.huey.flush()
        return tasks
    return use_queue(kind)


def save_and_wake(project, tasks, n, start=0):
    """``n`` saves, each its own transaction and wake-up, plus the wake-ups two consumers'
    change-log listeners send for it."""
    from solrsync.contrib.django.signals import waker
    for i in range(start, start + n):
        project.make_layer(name="layer%d" % i, title="Layer %d" % i)
        waker.flush()  # the save's wake-up, sent now rather than within MERGE_SECONDS
        tasks.enqueue_sync("layers", [])  # as the listener wakes
        tasks.enqueue_sync("layers", [])  # as the listener wakes


@pytest.mark.parametrize("kind", QUEUES)
def test_wake_ups_under_a_stream_of_saves_stay_one_per_pipeline(project, kind):
    tasks = queue_for(kind)
    huey = tasks.huey
    lengths = []
    for step in range(10):
        save_and_wake(project, tasks, 30, start=step * 30)
        lengths.append(huey.pending_count())
    assert max(lengths) <= 1, lengths  # 300 saves, 900 wake-ups: one task queued

    # the consumer takes it; 40 more saves arrive while its drain runs: merged, and drained by it
    from solrsync.sync import Syncer
    real_drain, during = Syncer.drain, []

    def drain_while_saving(self, name, *args, **kwargs):
        if not during:
            during.append(True)
            save_and_wake(project, tasks, 40, start=300)
            during.append(huey.pending_count())
        return real_drain(self, name, *args, **kwargs)
    Syncer.drain = drain_while_saving
    try:
        ran = 0
        while huey.pending_count() and ran < 5:
            huey.execute(huey.dequeue())
            ran += 1
    finally:
        Syncer.drain = real_drain
    assert during[1] == 0  # the 120 wake-ups during the drain were merged into it
    assert ran == 1 and huey.pending_count() == 0
    from solrsync.contrib.django.models import Change
    assert not Change.objects.filter(pipeline="layers").exists()
    assert project.assert_in_step() == 340
    huey.flush()


def test_a_gate_whose_holder_died_is_taken_over(project):
    """A consumer SIGKILLed while its wake-up was queued leaves the gate held: a later wake-up
    takes it over once it is stale, and nothing is left pending."""
    tasks = use_queue("memory://")
    save_and_wake(project, tasks, 3)
    tasks.huey.storage.flush_queue()  # the queued wake-up is lost (a consumer took it and died); the gate stays
    save_and_wake(project, tasks, 1, start=3)
    assert tasks.huey.pending_count() == 0  # merged into a wake-up nobody will run
    held = tasks.gate.held("layers")
    tasks.gate.renew("layers", held["token"], seconds=-1)  # STALE_SECONDS pass with no renewal
    save_and_wake(project, tasks, 1, start=4)
    assert tasks.huey.pending_count() == 1
    tasks.huey.execute(tasks.huey.dequeue())
    assert project.assert_in_step() == 5
