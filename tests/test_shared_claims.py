"""Claims on a versioned core do not serialise: two consumers claim pending rows side by side,
never waiting for each other, never holding one object at once. Each test forces its interleaving and ends comparing every
document, field by field, with what the database would build now (Project.assert_in_step).
Run on SQLite and, with SOLRSYNC_DEMO_DB=postgres, PostgreSQL."""
import threading

import pytest
from django.db import connection, connections

from conftest import first_post_held_until_next_read

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


@pytest.fixture
def quiet(project):
    from conftest import use_queue
    use_queue("memory://")
    return project


def edit(layers, title):
    for layer in layers:
        layer.title = title % layer.pk
        layer.save()


def test_a_claim_skips_objects_another_holds_and_solr_ends_with_the_newest_state(quiet, monkeypatch):
    """Consumer A claims a backlog's first objects, reads them and stalls before its post; three
    of them are edited; consumer B's claim takes the rest but not their new rows (A holds them:
    two pushes of one object never overlap); A's post lands, then the edits are drained."""
    from solrsync.sink import SolrSink
    layers = [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(12)]
    sync, log = syncer(), syncer().changelog
    assert not sync.exclusive("layers")  # the test core is versioned
    a = log.claim("layers", 5, 60, exclusive=False)
    assert len({c.pk for c in a}) == 5
    real_add, stalled = SolrSink.add_batch, []

    def stall(self, docs, commit=False, version=None, fence=None):
        if not stalled:
            stalled.append((self, docs, version))
            return []
        return real_add(self, docs, commit=commit, version=version, fence=fence)
    monkeypatch.setattr(SolrSink, "add_batch", stall)
    report_a = sync.apply("layers", a)  # A read "first"; its post is held
    monkeypatch.setattr(SolrSink, "add_batch", real_add)
    held = {c.pk for c in a}
    edited = [x for x in layers if str(x.pk) in held][:3]
    edit(edited, "second %d")
    b = log.claim("layers", 100, 60, exclusive=False)
    assert not held & {c.pk for c in b}, "an object claimed while another claim held it"
    assert len({c.pk for c in b}) == 7
    sync.apply("layers", b)
    log.done(b)
    sink, docs, version = stalled[0]
    real_add(sink, docs, version=version)
    log.done(a)
    assert report_a.indexed == 5
    sync.drain("layers", coalesce=False)  # the edits, free once A is done
    from solrsync.contrib.django.models import Change
    assert not Change.objects.exists()
    assert quiet.assert_in_step() == 12
    assert quiet.doc(edited[0])["title"] == "second %d" % edited[0].pk


def test_a_claim_in_progress_is_passed_over_not_waited_for(quiet):
    """Consumer A's claim is paused inside its transaction, its rows taken (locked, not yet
    committed); consumer B claims meanwhile: it gets the other rows at once (passing over
    A's per-object locks), none of A's objects. Then A finishes, and the two drain the backlog."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: a second claim waits for the first by design "
                    "(run with SOLRSYNC_DEMO_DB=postgres)")
    layers = [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(20)]
    log = syncer().changelog
    taken, go, claimed = threading.Event(), threading.Event(), {}

    def pause_after_taking(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "ORDER BY seq LIMIT" in sql:  # the first pick: its objects are being claimed
            taken.set()
            assert go.wait(30)
        return result

    def consumer_a():
        try:
            with connections["default"].execute_wrapper(pause_after_taking):
                claimed["a"] = syncer().changelog.claim("layers", 8, 60, exclusive=False)
        finally:
            connections.close_all()
    thread = threading.Thread(target=consumer_a)
    thread.start()
    try:
        assert taken.wait(30)
        claimed["b"] = log.claim("layers", 100, 60, exclusive=False)  # would block on A's locks
    finally:
        go.set()
        thread.join(30)
    a, b = claimed["a"], claimed["b"]
    assert len(a) == 8 and len(b) == 12
    assert not {c.seq for c in a} & {c.seq for c in b}
    edit(layers[::2], "second %d")
    sync = syncer()
    for batch in (b, a):  # B first, then A: the order requests land in does not matter
        sync.apply("layers", batch)
        log.done(batch)
    sync.drain("layers", coalesce=False)
    assert quiet.assert_in_step() == 20


def test_two_consumers_drain_one_backlog_concurrently(quiet, monkeypatch):
    """Two consumer threads (each its own connection and Solr session) drain one backlog in small
    batches while a third keeps editing; no object is held by both at once, and Solr ends equal
    to the database field by field."""
    from solrsync.contrib.django.models import Change
    layers = [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(60)]
    edit(layers[::3], "second %d")
    sync = syncer()
    monkeypatch.setattr(sync.settings, "BATCH_SIZE", 7)
    log = sync.changelog
    real_claim, real_done, held, twice, errors, lock = log.claim, log.done, set(), [], [], threading.Lock()

    def claim(*args, **kw):  # no object is handed out while another claim holds it
        out = real_claim(*args, **kw)
        with lock:
            twice.extend(c.pk for c in out if c.pk in held)
            held.update(c.pk for c in out)
        return out

    def done(changes):  # forgotten first: a claim right after the delete may take the object
        with lock:
            held.difference_update(c.pk for c in changes)
        real_done(changes)
    monkeypatch.setattr(log, "claim", claim)
    monkeypatch.setattr(log, "done", done)

    def consumer():
        try:
            sync.drain("layers", coalesce=False)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()
    threads = [threading.Thread(target=consumer) for _ in range(2)]
    for t in threads:
        t.start()
    edit(layers[1::4], "third %d")
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not twice, "objects claimed while another claim held them: %s" % twice
    sync.drain("layers", coalesce=False)  # the edits made after both had finished
    assert not Change.objects.exists()
    assert quiet.assert_in_step() == 60


def test_an_unversioned_core_keeps_claims_exclusive(quiet, monkeypatch):
    """A core from an older configset has no versions: an older state could land last, so claims
    keep excluding objects leased elsewhere."""
    from solrsync.sink import SolrSink
    layer = quiet.make_layer()
    sync = syncer()
    monkeypatch.setattr(SolrSink, "versioned", property(lambda self: False))
    assert sync.exclusive("layers")
    held = sync.changelog.claim("layers", 10, 60, exclusive=True)
    assert [c.pk for c in held] == [str(layer.pk)]
    edit([layer], "again %d")
    assert sync.changelog.claim("layers", 10, 60, exclusive=True) == []  # held elsewhere: skipped
    assert sync.changelog.claim("layers", 10, 60, exclusive=False) == []


def test_a_backlog_is_claimed_in_growing_claims_each_request_batch_size(quiet, monkeypatch):
    """Working through a backlog, a claim that comes back full is followed by one twice its size,
    up to CLAIM_GROWTH x BATCH_SIZE (what a claim costs besides its rows is then paid once per
    several requests); every request to Solr still carries at most BATCH_SIZE documents, each
    sent under the lease (checked before it); the end is field by field what the database holds."""
    from solrsync import sync as sync_module
    from solrsync.contrib.django.models import Change
    from solrsync.sink import SolrSink
    [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(45)]
    sync = syncer()
    monkeypatch.setattr(sync.settings, "BATCH_SIZE", 3)
    monkeypatch.setattr(sync_module, "DRAIN_STREAMS", 1)  # one stream: its claims in order
    log = sync.changelog
    real_claim, real_post, limits, posted = log.claim, SolrSink._post, [], []

    def claim(pipeline, limit, *args, **kw):
        limits.append(limit)
        return real_claim(pipeline, limit, *args, **kw)

    def post(self, message, commit=False, adds=0, deletes=0, fence=None, version=None, client=None, **params):
        posted.append((adds, fence is not None))
        return real_post(self, message, commit=commit, adds=adds, deletes=deletes, fence=fence, version=version,
                         client=client, **params)
    monkeypatch.setattr(log, "claim", claim)
    monkeypatch.setattr(SolrSink, "_post", post)
    assert sync.drain("layers", coalesce=False).indexed == 45
    assert limits == [3, 6, 12, 12, 12, 12], limits  # 3 + 6 + 12 + 12 + 12 = 45, then an empty claim
    assert [n for n, _ in posted if n] == [3] * 15 and all(fenced for _, fenced in posted)
    assert not Change.objects.exists()
    assert quiet.assert_in_step() == 45


def test_a_claim_takes_objects_whose_keys_need_quoting(quiet):
    """Object keys with quotes, backslashes, commas and braces (a text primary key, or a change
    recorded by hand) go to the database as one parameter (on PostgreSQL an array literal, each
    element quoted): the claim leases exactly their rows, and they are deleted once pushed."""
    from solrsync.contrib.django.models import Change
    odd = ['a"b', "c\\d", "e,f", "{g}", " h ", "NULL", "i'j"]
    for pk in odd:
        Change.objects.create(pipeline="layers", object_pk=pk, doc_id="", op="save")
    log = syncer().changelog
    claimed = log.claim("layers", 100, 60, exclusive=False)
    assert sorted(c.pk for c in claimed) == sorted(odd)
    assert not log.claim("layers", 100, 60, exclusive=False)  # all held
    log.done(claimed)
    assert not Change.objects.exists()


def test_a_backlog_is_drained_by_streams_side_by_side(quiet, monkeypatch):
    """Once a claim comes back full, a second stream claims and pushes beside the first (as a
    reindex's workers do): the first stream's post is held until the other has posted meanwhile
    (one stream alone would never get there). No object is claimed by both, and Solr ends equal to
    the database field by field."""
    from solrsync.contrib.django.models import Change
    from solrsync.sink import SolrSink
    [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(40)]
    sync = syncer()
    monkeypatch.setattr(sync.settings, "BATCH_SIZE", 4)
    log = sync.changelog
    real_claim, real_done, real_add = log.claim, log.done, SolrSink.add_batch
    held, twice, lock, streams = set(), [], threading.Lock(), set()
    first, other_posted = [], threading.Event()

    def claim(*args, **kw):
        out = real_claim(*args, **kw)
        with lock:
            twice.extend(c.pk for c in out if c.pk in held)
            held.update(c.pk for c in out)
        return out

    def done(changes):
        with lock:
            held.difference_update(c.pk for c in changes)
        real_done(changes)

    def add(self, docs, **kw):
        name = threading.current_thread().name.split("/")[0]  # a stream's posting thread is that stream
        with lock:
            streams.add(name)
            hold = not first
            if hold:
                first.append(name)
            elif name != first[0]:
                other_posted.set()
        if hold:
            assert other_posted.wait(30), "no other stream posted while the first one's post was held"
        return real_add(self, docs, **kw)
    monkeypatch.setattr(log, "claim", claim)
    monkeypatch.setattr(log, "done", done)
    monkeypatch.setattr(SolrSink, "add_batch", add)
    assert sync.drain("layers", coalesce=False).indexed == 40
    assert len(streams) == 2 and not twice, (streams, twice)
    assert not Change.objects.exists()
    assert quiet.assert_in_step() == 40


def test_a_stream_reads_and_builds_its_next_claim_while_the_last_one_posts(quiet, monkeypatch):
    """Working through a backlog, a stream posts a claim on a thread of its own while it claims,
    reads and builds the next (as a reindex posts a chunk while it reads the next): the first post
    is held until the next claim's rows have been read, which one stream doing each step in turn
    never gets to. One post at a time per stream, each under its lease; the claim is recorded
    (its rows deleted) only once its post is in; Solr ends equal to the database field by field."""
    from solrsync import sync as sync_module
    from solrsync.contrib.django.models import Change
    [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(30)]
    sync = syncer()
    monkeypatch.setattr(sync.settings, "BATCH_SIZE", 4)
    monkeypatch.setattr(sync_module, "DRAIN_STREAMS", 1)
    log = sync.changelog
    real_done, events = log.done, []
    first_post_held_until_next_read(monkeypatch, sync.sources["layers"], events)

    def done(changes):
        events.append("done %d" % len(changes))
        real_done(changes)
    monkeypatch.setattr(log, "done", done)
    assert sync.drain("layers", coalesce=False).indexed == 30
    assert events[:3] == ["held", "posted 4", "done 4"], events  # the first claim recorded once posted, after the next was read
    assert not Change.objects.exists()
    assert quiet.assert_in_step() == 30


def test_a_stream_failing_while_a_post_is_in_flight_records_it_and_frees_the_next_claim(quiet, monkeypatch):
    """The stream's read of its next claim fails while the last claim's post is in flight: the post
    ends first (no other worker may take those objects before), is recorded, and the claim being
    read is freed at once for the retry; the error is raised. Nothing is lost: the retry drains
    the rest and Solr ends equal to the database field by field."""
    from solrsync import sync as sync_module
    from solrsync.contrib.django.models import Change
    from solrsync.sink import SolrSink
    [quiet.make_layer(name="l%d" % i, title="first %d" % i) for i in range(30)]
    sync = syncer()
    monkeypatch.setattr(sync.settings, "BATCH_SIZE", 4)
    monkeypatch.setattr(sync_module, "DRAIN_STREAMS", 1)
    source = sync.sources["layers"]
    real_load, real_add = source.load, SolrSink.add_batch
    reading, posted = threading.Event(), []

    def load(pks, **kw):
        if posted:  # the second claim: its read fails while the first one's post is held
            reading.set()
            raise RuntimeError("the database went away")
        return real_load(pks, **kw)

    def add(self, docs, **kw):
        posted.append(len(docs))
        assert reading.wait(20), "the next claim was not read while the first one's post was held"
        return real_add(self, docs, **kw)
    monkeypatch.setattr(source, "load", load)
    monkeypatch.setattr(SolrSink, "add_batch", add)
    with pytest.raises(RuntimeError, match="went away"):
        sync.drain("layers", coalesce=False)
    assert posted == [4]
    assert Change.objects.count() == 26  # the first claim recorded
    assert not Change.objects.filter(leased_until__isnull=False).exists()  # the second one freed, not left to its lease
    monkeypatch.setattr(source, "load", real_load)
    monkeypatch.setattr(SolrSink, "add_batch", real_add)
    assert sync.drain("layers", coalesce=False).indexed == 26
    assert quiet.assert_in_step() == 30


def test_a_claim_writes_its_leases_in_place(quiet):
    """PostgreSQL: a claim writes each row's lease as a HOT update -- in place on the row's page,
    no new entry in the primary key or object_pk index -- for every row of a full page, which
    needs as much room left free on a page as its rows take (the table's fillfactor, migration
    0011). With 60 % filled, a claim of whole pages updated a third of its rows the costly way."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's heap-only updates (run with SOLRSYNC_DEMO_DB=postgres)")
    from django.db import transaction
    from solrsync.contrib.django.models import Change
    Change.objects.bulk_create([Change(pipeline="layers", object_pk=str(i), doc_id="%032x" % i, op="save")
                                for i in range(600)])
    def counts():  # this session's, including earlier transactions' not yet flushed (PostgreSQL 15): a difference
        with connection.cursor() as cur:
            cur.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
                        [Change._meta.db_table])
            return cur.fetchone()
    with transaction.atomic():
        before = counts()
        claimed = syncer().changelog.claim("layers", 600, 60, exclusive=False)
        updated, in_place = (a - b for a, b in zip(counts(), before))
    assert len(claimed) == updated == 600
    assert in_place == updated, "%d of %d leases written out of place" % (updated - in_place, updated)


def test_a_drain_runs_the_cycle_collector_as_rarely_as_a_reindex_and_puts_it_back(quiet, monkeypatch):
    """A drain allocates a reindex's short-lived rows and documents, none in a cycle: the collector
    runs every 50,000 allocations while it works (every 700 cost a reindex a quarter of its reading
    time), as during a reindex, and its setting is put back once the last of them ends -- also
    when a drain and a reindex overlap in one process, in any order."""
    import gc
    from solrsync.reindex import reindex
    from solrsync.sink import SolrSink
    [quiet.make_layer(name="l%d" % i) for i in range(3)]
    sync = syncer()
    before = gc.get_threshold()
    real_add, seen = SolrSink.add_batch, []

    def add(self, docs, **kw):
        seen.append(gc.get_threshold()[0])
        if len(seen) == 1:  # a reindex starts and ends inside the drain's push
            reindex(sync, "layers", commit=False)
            seen.append(gc.get_threshold()[0])
        return real_add(self, docs, **kw)
    monkeypatch.setattr(SolrSink, "add_batch", add)
    sync.drain("layers", coalesce=False)
    assert seen[:3] == [50000, 50000, 50000], seen
    assert gc.get_threshold() == before
