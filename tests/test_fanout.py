"""A related row many documents read changes (a keyword renamed): the triggers record one change
naming the set, and a worker streams the set's rows in chunks, as a reindex does. Each test forces
an interleaving and ends comparing every document, field by field, with what the database would
build now (Project.assert_in_step). Run on SQLite and, with SOLRSYNC_DEMO_DB=postgres, PostgreSQL."""
import pytest

from conftest import first_post_held_until_next_read, use_queue

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


@pytest.fixture
def world(project):
    """30 layers sharing a keyword (one unpublished), indexed; changes then wait for a drain."""
    from layers.models import Keyword
    kw = Keyword.objects.create(name="ice")
    layers = [project.make_layer(name="l%d" % i, title="Layer %d" % i, is_published=i != 4) for i in range(30)]
    for layer in layers:
        layer.keywords.add(kw)
    syncer().drain("layers", coalesce=False)
    use_queue("memory://")
    return project, kw, layers


def captured_by_triggers():
    from solrsync.contrib.django import triggers
    return "layers" in triggers.installed("default")


def pending():
    from solrsync.contrib.django.models import Change
    return list(Change.objects.order_by("seq").values_list("object_pk", "doc_id", "op"))


def test_a_rename_is_one_change_streamed_in_chunks_while_rows_move(world, monkeypatch):
    """The keyword is renamed; while the set streams (chunks of 7), a layer further on loses the
    keyword, one is unpublished and one already pushed is edited: every document ends as the
    database has it now, and the change log ends empty."""
    from solrsync import sync as sync_module
    from solrsync.contrib.django.source import DjangoSource
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    kw.name = "firn"
    kw.save()
    assert pending() == [("keywords__id", str(kw.pk), "related")]
    monkeypatch.setattr(sync_module, "RELATED_CHUNK", 7)
    real_related, pages = DjangoSource.related, []

    def related(self, lookup, value, size):
        for page in real_related(self, lookup, value, size):
            pages.append(page)
            if len(pages) == 2:  # between chunks: rows move
                layers[25].keywords.remove(kw)
                layers[26].is_published = False
                layers[26].save()
                layers[0].title = "edited after its chunk went"
                layers[0].save()
            yield page
    monkeypatch.setattr(DjangoSource, "related", related)
    syncer().drain("layers", coalesce=False)
    assert len(pages) == 5 and sum(map(len, pages)) == 30  # the set as it was when the stream began
    syncer().drain("layers", coalesce=False)  # the per-row changes the moves recorded
    assert pending() == []
    assert project.assert_in_step() == 28
    assert project.doc(layers[1])["keywords"] == ["firn"] and "keywords" not in project.doc(layers[25])


def test_an_unversioned_core_turns_the_set_into_a_change_per_object(world, monkeypatch):
    """Without versions two pushes of one object must not overlap: the set becomes per-object
    change rows, claimed exclusively like any other."""
    from solrsync.sink import SolrSink
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    kw.name = "firn"
    kw.save()
    assert pending() == [("keywords__id", str(kw.pk), "related")]
    sync = syncer()
    monkeypatch.setattr(SolrSink, "versioned", property(lambda self: False))
    sync.drain("layers", coalesce=False, max_batches=1)  # the set is claimed and expanded
    assert sorted(int(pk) for pk, _, op in pending()) == sorted(layer.pk for layer in layers)
    monkeypatch.undo()
    sync.drain("layers", coalesce=False)
    assert pending() == []
    assert project.assert_in_step() == 29


def test_a_batch_of_keys_reads_exactly_its_rows(world):
    """``source.among`` (a batch's keys as one parameter within their range; a range they fill
    read by the range alone) reads exactly the rows asked for: keys filling their range, keys with
    gaps, one key, unknown keys, text keys -- rows, many-to-many values and document ids alike."""
    from layers.models import Layer
    from solrsync.contrib.django.reads import among
    project, kw, layers = world
    source = syncer().sources["layers"]
    pks = sorted(layer.pk for layer in layers)
    for keys in (pks[3:13], pks[::3], pks[5:6], [pks[0], pks[-1], pks[-1] + 1000], [pks[7], pks[2], pks[7]]):
        wanted = {pk for pk in keys if pk in set(pks)} - {layers[4].pk}  # the unpublished one is filtered out
        rows = source.load(keys)
        assert set(rows) == wanted
        assert all(rows[pk]["keywords.name"] == ["ice"] for pk in wanted)
        assert sorted(among(Layer.objects.all(), "pk", keys).values_list("pk", flat=True)) == sorted(
            {pk for pk in keys if pk in set(pks)})
    uuids = [str(layers[i].uuid) for i in (1, 8, 2)]
    assert sorted(among(Layer.objects.all(), "uuid", uuids).values_list("uuid", flat=True)) == sorted(uuids)
    assert list(among(Layer.objects.all(), "pk", [])) == []


def test_a_set_streams_side_by_side_and_one_error_stops_every_stream(world, monkeypatch):
    """The set's pages are pushed by RELATED_STREAMS streams at once: the first page's post is held
    until another page has been posted meanwhile (one stream at a time would never get there).
    Then a second rename whose post fails once: the error reaches the drain, which releases the
    change (nothing recorded), and the next drain pushes it all."""
    import threading
    from solrsync import sync as sync_module
    from solrsync.sink import SolrSink, SolrUnavailable
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    monkeypatch.setattr(sync_module, "RELATED_CHUNK", 7)
    real_add, other_posted, first, threads = SolrSink.add_batch, threading.Event(), [], set()

    def add(self, docs, **kw):
        threads.add(threading.current_thread().name.split("/")[0])  # a stream's posting thread is that stream
        if not first:
            first.append(docs)
            assert other_posted.wait(30), "no other page was posted while the first one's post was held"
        else:
            other_posted.set()
        return real_add(self, docs, **kw)
    monkeypatch.setattr(SolrSink, "add_batch", add)
    kw.name = "firn"
    kw.save()
    syncer().drain("layers", coalesce=False)
    assert pending() == [] and len(threads) == 2
    assert project.assert_in_step() == 29

    failed = []

    def fail_once(self, docs, **kw):
        if not failed:
            failed.append(docs)
            raise SolrUnavailable("Solr went away", 503)
        return real_add(self, docs, **kw)
    monkeypatch.setattr(SolrSink, "add_batch", fail_once)
    kw.name = "neve"
    kw.save()
    with pytest.raises(SolrUnavailable):
        syncer().drain("layers", coalesce=False)
    assert pending() == [("keywords__id", str(kw.pk), "related")]  # released, not recorded
    syncer().drain("layers", coalesce=False)
    assert pending() == []
    assert project.assert_in_step() == 29 and project.doc(layers[1])["keywords"] == ["neve"]


def test_a_stream_reads_and_builds_its_next_page_while_the_last_one_posts(world, monkeypatch):
    """A stream posts a page on a thread of its own while it reads and builds the next, as a
    reindex posts a chunk while it reads the next: the first page's post is held until the next
    page's rows have been read, which one stream doing each step in turn never gets to. One post
    at a time per stream; the set's change is recorded only once every post is in; Solr ends equal
    to the database field by field."""
    from solrsync import sync as sync_module
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    monkeypatch.setattr(sync_module, "RELATED_CHUNK", 7)
    monkeypatch.setattr(sync_module, "RELATED_STREAMS", 1)
    sync = syncer()
    real_done, events = sync.changelog.done, []
    first_post_held_until_next_read(monkeypatch, sync.sources["layers"], events)

    def done(changes):
        events.append("done")
        real_done(changes)
    monkeypatch.setattr(sync.changelog, "done", done)
    kw.name = "firn"
    kw.save()
    assert sync.drain("layers", coalesce=False).indexed == 29
    assert events[0] == "held" and events[-1] == "done" and events.count("done") == 1, events
    assert pending() == []
    assert project.assert_in_step() == 29 and project.doc(layers[1])["keywords"] == ["firn"]


def test_a_set_of_one_page_is_posted_by_its_stream_without_a_posting_thread(world, monkeypatch):
    """A rename touching a few layers (one page) is the live path's common case: its stream posts
    the page itself, starting no posting thread for it."""
    import threading
    from solrsync.sink import SolrSink
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    real_add, posters = SolrSink.add_batch, []

    def add(self, docs, **kw):
        posters.append(threading.current_thread().name)
        return real_add(self, docs, **kw)
    monkeypatch.setattr(SolrSink, "add_batch", add)
    kw.name = "firn"
    kw.save()
    assert syncer().drain("layers", coalesce=False).indexed == 29
    assert posters and not [name for name in posters if name.endswith("/post")], posters
    assert pending() == []
    assert project.assert_in_step() == 29


def test_a_set_of_several_pages_is_committed_at_its_end(world, monkeypatch):
    """A related set streamed in several pages is a small reindex: committed at its end, so every
    document shows the new name at once, not commitWithin after the last page (here a minute:
    without the commit nothing would show yet)."""
    from solrsync import sync as sync_module
    project, kw, layers = world
    if not captured_by_triggers():
        pytest.skip("the layers pipeline is not captured by triggers here")
    monkeypatch.setattr(sync_module, "RELATED_CHUNK", 7)
    sync = syncer()
    monkeypatch.setattr(sync.settings, "COMMIT_WITHIN_MS", 60000)
    sync._local.__dict__.pop("sinks", None)  # sinks made from here on: commitWithin a minute
    kw.name = "firn"
    kw.save()
    sync.drain("layers", coalesce=False)
    assert pending() == []
    assert project.solr.select("keywords:firn", rows=100)["numFound"] == 29  # no commit asked for here
    assert project.assert_in_step() == 29
