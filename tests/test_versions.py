"""Solr ends equal to the database whatever order the writes land in: each test forces one
interleaving (a late request, a chunk posted after a live push, a delete during a chunk, a
create after the last page, a lease that runs out, a swap under mixed writes) and then compares
every document, field by field, with what the database would build now (Project.assert_in_step).
Run on SQLite and, with SOLRSYNC_DEMO_DB=postgres, PostgreSQL."""
import os

import pytest
from django.db import connection, transaction

from conftest import GHOST, use_capture

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


def drain():
    return syncer().drain("layers", coalesce=False)


@pytest.fixture
def quiet(project):
    """No inline push on commit: changes wait in the change log until a test drains them."""
    from conftest import use_queue
    use_queue("memory://")
    return project


def layers(project, n, **fields):
    return [project.make_layer(name="layer%d" % i, title="Layer %d" % i, **fields) for i in range(n)]


def test_versions_come_from_one_increasing_database_clock(project):
    import time
    log = syncer().changelog
    versions = [log.next_version() for _ in range(200)]
    assert versions == sorted(set(versions))  # strictly increasing
    assert abs(versions[-1] / 1e6 - time.time()) < 120  # microseconds of the (database's) clock
    first = log.next_version(5)  # five at once: first .. first + 4, all older than any taken after
    assert first > versions[-1] and log.next_version() > first + 4
    from solrsync.contrib.django.models import Clock
    Clock.objects.all().delete()  # a flush: the row comes back, versions still increase
    assert log.next_version() > versions[-1]


def test_tombstones_keep_every_id_as_it_was_sent(project):
    """A delete's tombstones are written in one statement, the ids as one parameter: any id comes
    back as it went in (quotes, backslashes, braces and commas of an array literal, JSON's escapes,
    NULL spelt out, digits, spaces, non-ASCII), at its version, as a rebuild reads them."""
    log = syncer().changelog
    odd = ['a"b', "c\\d", "{e,f}", "NULL", "null", "42", " g ", "h\ni", "ü✓", "[1]", "'j'", "x" * 300]
    log.record_deletes("tombstones", odd, 7)
    log.record_deletes("tombstones", ["k"], 9)
    log.record_deletes("tombstones", [], 11)
    found = log.deletes("tombstones", 7)
    assert sorted(found) == [7, 9] and sorted(found[7]) == sorted(odd) and found[9] == ["k"]
    assert log.deletes("tombstones", 8) == {9: ["k"]}
    assert log.deletes("other", 0) == {}


def test_a_request_solr_executes_late_cannot_put_an_old_state_back(quiet):
    """A hung Solr: the request times out, the change is retried with the newer state, and then
    Solr runs the old request."""
    from solrsync.sink import SolrSink, SolrUnavailable
    layer = quiet.make_layer(title="First")
    held = []
    real_post = SolrSink._post

    def hang_first(self, message, commit=False, **params):
        if not held:
            held.append((self, message, commit, params))
            raise SolrUnavailable("timed out (held for later)")
        return real_post(self, message, commit=commit, **params)
    SolrSink._post = hang_first
    try:
        with pytest.raises(SolrUnavailable):
            drain()
    finally:
        SolrSink._post = real_post
    layer.title = "Second"
    layer.save()
    drain()
    assert quiet.doc(layer)["title"] == "Second"
    sink, message, commit, params = held[0]
    params.pop("fence")  # it was checked when the request was sent: Solr runs it now, late
    real_post(sink, message, commit=True, **params)  # Solr wakes up and runs the old request
    assert quiet.doc(layer)["title"] == "Second"
    quiet.assert_in_step()


def _pause_first_chunk(monkeypatch, action):
    """Run ``action`` once, after the reindex read its first chunk and before that chunk is posted."""
    from solrsync import reindex as reindex_module
    real = reindex_module.Chunk.post
    done = []

    def post(self, sink, version=None, fence=None):
        if not done:
            done.append(True)
            action()
        return real(self, sink, version, fence)
    monkeypatch.setattr(reindex_module.Chunk, "post", post)


def test_a_chunk_posted_after_a_live_push_and_a_delete_during_a_chunk(quiet, monkeypatch):
    from solrsync.reindex import reindex
    from layers.models import Keyword
    edited, deleted, unpublished, tagged = layers(quiet, 4)
    drain()

    def live_changes():
        edited.title = "Edited while its chunk was in flight"
        edited.save()
        deleted.delete()
        unpublished.is_published = False
        unpublished.save()
        tagged.keywords.add(Keyword.objects.create(name="late"))
        drain()
    _pause_first_chunk(monkeypatch, live_changes)
    result = reindex(syncer(), "layers", batch_size=100)
    assert result.indexed == 4  # the chunk held the old states of all four
    assert quiet.doc(edited)["title"] == "Edited while its chunk was in flight"
    assert quiet.doc(deleted) is None and quiet.doc(unpublished) is None
    assert quiet.doc(tagged)["keywords"] == ["late"]
    assert quiet.assert_in_step() == 2


def test_prune_never_deletes_what_was_created_after_the_stream_began(quiet, monkeypatch):
    from solrsync import reindex as reindex_module
    layers(quiet, 3)
    drain()
    quiet.solr.post("update", [GHOST], commit="true")
    real_prune = reindex_module._prune
    late = []

    def create_then_prune(*args, **kw):
        late.append(quiet.make_layer(name="late", title="Created after the last page"))
        drain()
        return real_prune(*args, **kw)
    monkeypatch.setattr(reindex_module, "_prune", create_then_prune)
    result = reindex_module.reindex(syncer(), "layers", prune=True)
    assert result.deleted == 1  # the ghost
    assert quiet.doc(late[0])["title"] == "Created after the last page"
    assert quiet.assert_in_step() == 4


def test_a_worker_whose_lease_ran_out_cannot_overwrite_the_next_one(quiet, monkeypatch):
    """Worker 1 claims, reads and stalls past its lease; worker 2 claims the same object after an
    edit and pushes; then worker 1's post lands."""
    from solrsync.sink import SolrSink
    layer = quiet.make_layer(title="Old")
    sync = syncer()
    log = sync.changelog
    first = log.claim("layers", 100, lease_seconds=0)  # a lease that has already run out
    real_add = SolrSink.add_batch
    stalled = []

    def stall(self, docs, commit=False, version=None, fence=None):
        if not stalled:
            stalled.append((self, docs, version))
            return []
        return real_add(self, docs, commit=commit, version=version, fence=fence)
    monkeypatch.setattr(SolrSink, "add_batch", stall)
    sync.apply("layers", first)  # worker 1 read "Old" under its version; its post is held
    monkeypatch.setattr(SolrSink, "add_batch", real_add)
    layer.title = "New"
    layer.save()
    drain()  # worker 2: the old rows came free with the lease, and the edit
    sink, docs, version = stalled[0]
    real_add(sink, docs, version=version)  # worker 1's post lands last
    assert quiet.doc(layer)["title"] == "New"
    quiet.assert_in_step()


def test_one_id_moving_between_rows_ends_indexed(quiet):
    """An overwrite import: layer A deleted and B created with A's uuid -- in one batch, and as
    two batches applied newest-first (two workers)."""
    from layers.models import Layer
    a = quiet.make_layer(title="A")
    drain()
    with transaction.atomic():
        uid = a.uuid
        a.delete()
        b = quiet.make_layer(title="B", uuid=uid)
    drain()
    assert quiet.doc(b)["title"] == "B"
    # two workers: B's add applied first, A2's delete (recorded earlier) applied after it
    a2 = quiet.make_layer(title="A2")
    drain()
    uid = a2.uuid
    pk = a2.pk
    a2.delete()
    b2 = quiet.make_layer(title="B2", uuid=uid)
    syncer().apply("layers", [(b2.pk, uid)])
    syncer().apply("layers", [(pk, uid)])
    assert quiet.doc(b2)["title"] == "B2"
    assert Layer.objects.filter(uuid=uid).count() == 1
    drain()
    quiet.assert_in_step()


def test_an_id_that_cleaning_would_change_is_refused_and_named(quiet):
    from solrsync.contrib.django.models import Failure
    good = quiet.make_layer(title="Good")
    bad = quiet.make_layer(title="Bad", uuid="  padded-%s\x01" % good.uuid[:8])
    report = drain()
    assert quiet.doc(good) is not None
    failure = Failure.objects.get(object_pk=str(bad.pk))
    assert "whitespace" in failure.message and failure.doc_id == bad.uuid
    assert quiet.solr.ids() == [good.uuid] and len(report.rejected) == 1
    from conftest import run_manage
    listed = run_manage("solrsync", "failures").stdout
    assert "padded" in listed and "\x01" not in listed and "\\x01" in listed  # escaped for the terminal
    good.uuid = " " + good.uuid[1:]  # an indexed layer whose id is edited into one that is refused
    good.save()
    drain()
    quiet.solr.post("update", {"commit": {}})
    assert quiet.solr.ids() == []  # its old document went with its old id


def _poison(layer):
    """A row another program wrote that Django cannot read."""
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("UPDATE layers_layer SET date = '2024-02-30 00:00:00' WHERE id = %s", [layer.pk])
        else:
            cur.execute("UPDATE layers_layer SET date = 'infinity' WHERE id = %s", [layer.pk])


def test_an_unreadable_row_is_a_failure_and_the_rest_flows(quiet):
    from solrsync.contrib.django.models import Change, Failure
    from solrsync.reindex import reindex
    good = layers(quiet, 5)
    bad = quiet.make_layer(title="Poisoned")
    _poison(bad)
    report = drain()
    assert report.indexed == 5 and Change.objects.count() == 0
    failure = Failure.objects.get(object_pk=str(bad.pk))
    assert "cannot read the row" in failure.message
    later = quiet.make_layer(title="Saved after the poison")  # nothing waits behind it
    drain()
    assert quiet.doc(later) is not None and all(quiet.doc(l) for l in good)
    result = reindex(syncer(), "layers", batch_size=3)
    assert result.indexed == 6 and result.skipped["unreadable"] == 1
    assert "1 unreadable" in result.summary()
    # repaired: indexed, and its failure record goes
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_layer SET date = %s WHERE id = %s", ["2024-02-28 00:00:00", bad.pk])
    drain()
    bad.title = "Repaired"
    bad.save()
    drain()
    assert quiet.doc(bad)["title"] == "Repaired" and not Failure.objects.exists()
    quiet.assert_in_step()


def test_a_document_solr_refuses_is_a_failure_cleared_when_it_indexes_later(quiet):
    from solrsync.contrib.django.models import Failure
    layer = quiet.make_layer(title="Fine")
    drain()
    from solrsync.sink import SolrSink
    real = SolrSink.add_batch
    from solrsync.sink import Rejected

    def refuse(self, docs, commit=False, version=None, fence=None):
        return [Rejected(d["id"], "ERROR: [doc=%s] refused for the test" % d["id"]) for d in docs]
    SolrSink.add_batch = refuse
    try:
        layer.title = "Refused"
        layer.save()
        drain()
    finally:
        SolrSink.add_batch = real
    assert Failure.objects.filter(object_pk=str(layer.pk)).exists()
    layer.title = "Accepted"
    layer.save()
    drain()
    assert not Failure.objects.exists()
    quiet.assert_in_step()


def test_resume_with_prune_keeps_what_was_indexed_before_the_interruption(quiet, tmp_path):
    from solrsync.reindex import reindex
    layers(quiet, 50)
    quiet.solr.post("update", [GHOST], commit="true")
    calls = []

    def interrupt(result, n):
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt
    result = reindex(syncer(), "layers", batch_size=10, prune=True, on_batch=interrupt)
    # the Ctrl-C waits for the posts under way (up to POSTS_IN_FLIGHT) and counts them
    assert result.interrupted and 20 <= result.seen < 50
    result = reindex(syncer(), "layers", batch_size=10, resume=True)
    assert result.deleted == 1
    assert quiet.assert_in_step() == 50


def test_deletes_leave_no_trace_in_searches_counts_or_verify(quiet):
    from solrsync.verify import verify
    kept, gone = layers(quiet, 2)
    drain()
    gone.delete()
    drain()
    quiet.solr.post("update", {"commit": {}})
    assert quiet.solr.select("*:*")["numFound"] == 1
    status, body = quiet.solr.get("get", id=gone.uuid)
    assert body["doc"] is not None and set(body["doc"]) <= {"id", "solrsync_version", "_version_"}  # a tombstone
    drift = verify(syncer(), "layers")
    assert drift.drifted == 0 and drift.checked == 1 and drift.solr_checked == 1
    from solrsync.cli import collect_status
    info = collect_status(syncer())["pipelines"]["layers"]
    assert info["solr_count"] == 1 and info["versioned"] is True
    quiet.solr.post("update", {"commit": {}})
    syncer().settings.TOMBSTONE_SECONDS = 0
    try:
        syncer().purge_tombstones()
    finally:
        syncer().settings.TOMBSTONE_SECONDS = 3600
    quiet.solr.post("update", {"commit": {}})
    assert quiet.solr.get("get", id=gone.uuid)[1]["doc"] is None and quiet.doc(kept) is not None


def _mixed_writes(project, victims):
    """Edits, deletes, unpublishes, m2m changes, update() and raw SQL -- what a rebuild must keep."""
    from layers.models import Keyword, Layer
    edited, deleted, unpublished, tagged, bulk, raw = victims
    edited.title = "Edited during the rebuild"
    edited.save()
    deleted.delete()
    unpublished.is_published = False
    unpublished.save()
    tagged.keywords.set([Keyword.objects.create(name="rebuilt")])
    Layer.objects.filter(pk=bulk.pk).update(title="Updated in bulk during the rebuild")
    with connection.cursor() as cur:
        cur.execute("UPDATE layers_layer SET abstract = 'raw SQL' WHERE id = %s", [raw.pk])
    drain()


def test_swap_under_mixed_writes_keeps_every_change(quiet, monkeypatch):
    from solrsync.reindex import reindex
    all_layers = layers(quiet, 250)
    drain()
    _pause_first_chunk(monkeypatch, lambda: _mixed_writes(quiet, all_layers[:6]))
    result = reindex(syncer(), "layers", batch_size=100, swap=True)
    assert not result.rejected
    assert quiet.assert_in_step() == 248
    assert not quiet.solr.rebuild_leftovers()
    from solrsync.contrib.django.models import Rebuild
    assert not Rebuild.objects.exists()
    # live writes after the swap go to the core now live
    all_layers[7].title = "After the swap"
    all_layers[7].save()
    drain()
    quiet.assert_in_step()


def test_a_swap_between_the_two_writes_of_one_batch_loses_nothing(quiet, monkeypatch):
    """The rebuild goes live while a worker is between its writes to the two cores."""
    from solrsync import rebuild
    from solrsync.sink import SolrSink
    from solrsync.reindex import reindex
    doomed, edited = layers(quiet, 2)
    drain()
    real_finish = rebuild.finish
    held = {}
    monkeypatch.setattr(rebuild, "finish", lambda *args, **kw: held.setdefault("args", (args, kw)))
    reindex(syncer(), "layers", swap=True)  # streamed, registered, not yet live
    args, kw = held["args"]
    real_add = SolrSink.add_batch
    swapped = []

    def add_then_swap(self, docs, commit=False, version=None, fence=None):
        out = real_add(self, docs, commit=commit, version=version, fence=fence)
        if not swapped:
            swapped.append(self.url)
            real_finish(*args, **dict(kw, fence=None))  # goes live right after this worker's first write
        return out
    monkeypatch.setattr(SolrSink, "add_batch", add_then_swap)
    doomed.delete()
    edited.title = "Edited as the rebuild went live"
    edited.save()
    drain()
    assert quiet.assert_in_step() == 1


def rebuilds_without(field, quiet, monkeypatch, tmp_path):
    """Cores a --swap creates get the shipped configset with ``field`` renamed: Solr refuses the
    documents that fill it."""
    quiet.solr.need_emulator("a configset of the test's own")
    import shutil
    from solrsync import rebuild
    from solrsync.admin import core_admin
    conf = tmp_path / "strict" / "conf"
    shutil.copytree(os.path.join(os.path.dirname(rebuild.__file__), "configsets", "layers", "conf"), conf)
    schema = conf / "managed-schema"
    schema.write_text(schema.read_text().replace('<field name="%s"' % field, '<field name="%s_was"' % field))
    monkeypatch.setattr(rebuild, "create_core", lambda settings, name, configset: core_admin(
        settings, action="CREATE", name=name, instanceDir=str(conf.parent)))


def test_a_rebuild_solr_refused_does_not_go_live(quiet, monkeypatch, tmp_path):
    from solrsync import rebuild
    from solrsync.reindex import reindex
    rebuilds_without("title", quiet, monkeypatch, tmp_path)
    layers(quiet, 20)
    drain()
    with pytest.raises(rebuild.RebuildRefused) as refused:
        reindex(syncer(), "layers", swap=True)
    assert "refused 20" in str(refused.value) and "untouched" in str(refused.value)
    assert quiet.assert_in_step() == 20  # the live core as it was
    status = quiet.solr.admin(action="STATUS")[1]["status"]
    assert [name for name in status if "_rebuild_" in name]  # kept for inspection
    result = reindex(syncer(), "layers", swap=True, allow_rejected=20)  # a known handful may pass
    assert result.skipped["rejected by Solr"] == 20


def test_a_refused_rebuild_never_goes_live_through_a_resume(quiet, monkeypatch, tmp_path):
    """A refused rebuild left nothing to resume, yet ``status`` offered --resume, and the resume
    swapped the kept core live without the documents Solr had refused: a live core emptied. Now a
    refused rebuild is over (nothing to resume), a resume only continues a rebuild still registered,
    and the refusals of the part before an interruption count at the swap."""
    from solrsync import rebuild
    from solrsync.reindex import reindex
    rebuilds_without("abstract", quiet, monkeypatch, tmp_path)
    layers(quiet, 10)  # with an abstract: the rebuilt core refuses them
    layers(quiet, 10, abstract="")
    drain()
    with pytest.raises(rebuild.RebuildRefused):
        reindex(syncer(), "layers", swap=True)
    assert syncer().changelog.reindex_state("layers") is None  # status offers no --resume
    filed = syncer().changelog.failures("layers")
    assert len(filed) == 10 and all("the rebuild into layers_rebuild_" in f.message for f in filed)  # not the live core
    with pytest.raises(ValueError, match="nothing to resume"):
        reindex(syncer(), "layers", resume=True)
    assert quiet.assert_in_step() == 20

    calls = []

    def interrupt_after_the_refused(result, n):  # chunks of 5: the first two are the refused ten
        calls.append(n)
        if len(calls) == 2:
            raise KeyboardInterrupt
    result = reindex(syncer(), "layers", swap=True, batch_size=5, on_batch=interrupt_after_the_refused)
    assert result.interrupted and result.skipped["rejected by Solr"] == 10
    assert syncer().changelog.reindex_state("layers")["refused"] == 10
    with pytest.raises(rebuild.RebuildRefused, match="refused 10"):
        reindex(syncer(), "layers", resume=True)  # the other ten go in; the ten refused before still count
    assert quiet.assert_in_step() == 20

    calls.clear()
    reindex(syncer(), "layers", swap=True, batch_size=5, on_batch=interrupt_after_the_refused)
    core = syncer().changelog.reindex_state("layers")["core"]
    syncer().changelog.end_rebuild("layers", core)  # another run ended it meanwhile
    with pytest.raises(ValueError, match="is over"):
        reindex(syncer(), "layers", resume=True)
    assert quiet.assert_in_step() == 20


def test_a_rebuild_that_refused_a_live_write_never_goes_live(quiet, monkeypatch, tmp_path):
    """The live sync writes each change to the cores being rebuilt too. A rebuild built from
    another configset (a field it lacks) refused an edit made while it was built; the swap counted
    only its own stream's refusals and put the core live without the edit. Now such a rebuild is
    unregistered at once and the swap refuses it."""
    from solrsync import rebuild
    from solrsync.reindex import reindex
    rebuilds_without("abstract", quiet, monkeypatch, tmp_path)
    made = layers(quiet, 10, abstract="")  # the rebuild's own stream refuses nothing
    drain()
    calls = []

    def edit_during_the_rebuild(result, n):
        calls.append(n)
        if len(calls) == 1:
            made[0].abstract, made[0].title = "Now with an abstract", "Edited during the rebuild"
            made[0].save()
            drain()  # to the live core, which takes it, and to the rebuild, which refuses it
    with pytest.raises(rebuild.RebuildRefused, match="refused live writes"):
        reindex(syncer(), "layers", swap=True, batch_size=5, on_batch=edit_during_the_rebuild)
    assert syncer().changelog.rebuilds("layers") == []
    assert quiet.assert_in_step() == 10  # the live core, with the edit
    assert quiet.doc(made[0])["title"] == "Edited during the rebuild"


def test_uuid_edit_on_the_signal_path_removes_the_old_document(project):
    use_capture("signals")
    from layers.models import Layer
    layer = project.make_layer(title="Renamed id")
    layer.uuid = "new-" + layer.uuid[4:]  # the instance that created it
    layer.save()
    project.solr.post("update", {"commit": {}})
    assert project.solr.ids() == [layer.uuid]
    loaded = Layer.objects.get(pk=layer.pk)  # and one loaded from the database
    loaded.uuid = "nwr-" + loaded.uuid[4:]
    loaded.save()
    project.solr.post("update", {"commit": {}})
    assert project.solr.ids() == [loaded.uuid]
    project.assert_in_step()


WRITER = r"""
import random, time
from django.db import connection
from layers.models import Keyword, Layer
from solrsync.contrib.django.models import Rebuild
deadline = time.monotonic() + 60
while not Rebuild.objects.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
assert Rebuild.objects.exists(), "the rebuild never began"
rnd = random.Random(7)
pks = list(Layer.objects.order_by("pk").values_list("pk", flat=True))
rnd.shuffle(pks)
for i in range(60):
    layer = Layer.objects.filter(pk=pks[i]).first()
    kind = i % 5
    if kind == 0:
        layer.delete()
    elif kind == 1:
        layer.is_published = not layer.is_published
        layer.save()
    elif kind == 2:
        layer.keywords.set([Keyword.objects.get_or_create(name="during-%d" % i)[0]])
    elif kind == 3:
        Layer.objects.filter(pk=layer.pk).update(title="update() during the rebuild %d" % i)
    else:
        layer.title = "edited during the rebuild %d" % i
        layer.save()
    time.sleep(0.03)
print("writer done")
"""


@pytest.mark.parametrize("via_queue", [[], ["--via-queue"]], ids=["local", "via-queue"])
def test_end_to_end_swap_with_consumers_while_another_process_writes(project, via_queue):
    """`manage.py solrsync reindex --swap` with real consumer processes, while another process
    deletes, unpublishes, edits keywords and runs update(): every document as the database has it.
    With --via-queue, two consumers run the ranges, and both take part."""
    import subprocess
    import sys
    import time
    from conftest import DEMO, stop, use_queue, wait_until
    from layers.management.commands.demo import Command
    from solrsync.contrib.django.models import Change
    Command().load(1500)
    use_queue("sqlite:///%s/e2e-%d.sqlite3" % (project.info["var"], time.monotonic_ns()))
    from solrsync.reindex import reindex
    reindex(syncer(), "layers")  # the demo loader records no changes: index it as it is
    project.assert_in_step()
    if project.solr.emulator:
        project.solr.emulator.faults.delay(0.15)  # a rebuild long enough to write into
    consumers = [project.consumer() for _ in range(2 if via_queue else 1)]
    env = dict(os.environ, PYTHONPATH=str(DEMO))
    try:
        rebuild = subprocess.Popen([sys.executable, "manage.py", "solrsync", "reindex", "--swap", "--batch-size", "50",
                                    "--quiet", *via_queue], cwd=str(DEMO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        writer = subprocess.run([sys.executable, "manage.py", "shell", "-c", WRITER], cwd=str(DEMO), env=env,
                                capture_output=True, text=True, timeout=120)
        assert "writer done" in writer.stdout, writer.stderr[-2000:] + (rebuild.communicate()[1][-3000:] if rebuild.poll() is not None else "")
        assert rebuild.poll() is None or not project.solr.emulator, "the rebuild ended before the writes"
        out, err = rebuild.communicate(timeout=300)
        assert rebuild.returncode == 0, err[-2000:]
        if project.solr.emulator:
            project.solr.emulator.faults.delay(0)
        assert wait_until(lambda: Change.objects.count() == 0, timeout=60), open(consumers[0].log_path).read()[-3000:]
        time.sleep(0.5)  # the last push of the consumer lands
        assert project.assert_in_step() > 1000
        assert not project.solr.rebuild_leftovers()
        if via_queue:
            ran = out.split("ranges run by: ")[1].splitlines()[0]
            assert all(":%d:" % c.pid in ran for c in consumers), out
    finally:
        for consumer in consumers:
            stop(consumer)


def test_verify_fix_goes_through_the_change_log_and_outranks_the_drift(quiet):
    import time
    from solrsync.verify import verify
    kept, renamed = layers(quiet, 2)
    drain()
    quiet.solr.post("update", {"commit": {}})
    # a title Solr holds that the database never had (a missed rename), at a version of now
    doc = quiet.solr.select("id:%s" % renamed.uuid, fl="*")["docs"][0]
    doc.update(title="Stale", solrsync_version=time.time_ns() // 1000)
    doc.pop("_version_", None)
    quiet.solr.post("update", [doc], commit="true")
    drift = verify(syncer(), "layers", fix=True)
    assert drift.counts["stale"] == 1 and drift.drifted == 1 and drift.queued == 1
    assert drift.examples["stale"][0][:2] == (str(renamed.uuid), renamed.pk)
    assert syncer().changelog.pending_count("layers") == 1  # queued, not written: it races no live write
    drain()
    quiet.assert_in_step()
    assert verify(syncer(), "layers").drifted == 0
