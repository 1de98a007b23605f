"""`solrsync reindex` and its options, on the demo project."""
import json
import os
import subprocess
import sys

import pytest

from conftest import DEMO, GHOST

pytestmark = pytest.mark.django


@pytest.fixture
def loaded(project):
    from layers.management.commands.demo import Command
    Command().load(1500)
    from layers.models import Layer
    project.published = Layer.objects.filter(is_published=True).count()
    return project


def run_cli(*args, env=None, **kw):
    return subprocess.run([sys.executable, "manage.py", "solrsync", *args], cwd=str(DEMO), capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, **(env or {})), **kw)


def published_ids():
    from layers.models import Layer
    return sorted(Layer.objects.filter(is_published=True).values_list("uuid", flat=True))


@pytest.mark.parametrize("kind", [[], ["--threads"]], ids=["processes", "threads"])
def test_reindex_with_workers_indexes_everything_once(loaded, kind):
    loaded.solr.post("update", [GHOST], commit="true")
    proc = run_cli("reindex", "--workers", "3", "--batch-size", "200", "--prune", "--quiet", *kind)
    assert proc.returncode == 0, proc.stderr
    assert "indexed %d" % loaded.published in proc.stdout and "rows filtered out" in proc.stdout
    assert "deleted 1" in proc.stdout  # the ids the workers built are the live set --prune keeps
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_four_queries_per_chunk(loaded):
    """A chunk costs its rows, its two many-to-many tables, its version, the check of the hold
    before it is posted and its progress (kept in the database, so any host can resume): no query
    per row."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    get_syncer().version()  # the clock row a flush removed is back (once per database)
    with CaptureQueriesContext(connection) as ctx:
        result = reindex(get_syncer(), "layers", batch_size=250)
    assert result.indexed == loaded.published
    chunks = -(-result.seen // 250)
    # per run: the start version, the pass to find the last page, clearing old failure records,
    # taking and releasing the pipeline's reindex (up to 5), the hold checked and the progress cleared at the end
    assert len(ctx.captured_queries) <= 6 * chunks + 10, "%d queries for %d rows" % (len(ctx.captured_queries),
                                                                                    result.seen)


def test_flat_rows_build_the_documents_model_instances_do(loaded):
    """The reindex reads dict rows and builds them with generated code; the save path builds
    from model instances. Both must give the same documents and the same warnings."""
    from solrsync.contrib.django.runtime import get_syncer
    source = get_syncer().sources["layers"]
    document = source.pipeline.document
    flat = list(source.iter_chunks(500))
    assert flat and type(flat[0][0]) is dict
    instances = {layer.pk: layer for layer in source.queryset()}
    built, warned = 0, 0
    for rows in flat:
        for row in rows:
            doc, warnings = document.build(row)
            assert (doc, warnings) == document.build(instances[row["pk"]])
            built, warned = built + 1, warned + bool(warnings)
    assert built == len(instances) and warned  # the demo data has bboxes that must be dropped


def test_export_writes_jsonl_and_posts_nothing(loaded, tmp_path):
    out = tmp_path / "layers.jsonl"
    proc = run_cli("reindex", "layers", "--export", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == loaded.published
    assert "exported %d" % loaded.published in proc.stdout and "indexed" not in proc.stdout, proc.stdout
    doc = json.loads(lines[0])
    assert doc["id"] and doc["title"] and doc["modified_date"].endswith("Z")
    assert loaded.solr.select()["numFound"] == 0


def test_since_and_ids_are_partial(loaded):
    from layers.models import Layer
    first = Layer.objects.filter(is_published=True).order_by("pk")[:3]
    proc = run_cli("reindex", "layers", "--ids", ",".join(str(l.pk) for l in first), "--quiet")
    assert proc.returncode == 0 and "indexed 3" in proc.stdout, proc.stdout + proc.stderr
    proc = run_cli("reindex", "layers", "--since", "2999-01-01T00:00:00Z", "--quiet")
    assert proc.returncode == 0 and "indexed 0" in proc.stdout
    proc = run_cli("reindex", "--since", "yesterday")
    assert proc.returncode == 2
    proc = run_cli("reindex", "--ids", "1", "--quiet")  # the maps pipeline's keys are UUIDs
    assert proc.returncode == 2 and proc.stderr.splitlines()[-1].startswith(
        "manage.py solrsync: pipeline maps: --ids: "), proc.stderr


def test_verify_compares_content_and_fix_repairs_exactly_the_drift(loaded):
    import time
    from layers.models import Layer
    assert run_cli("reindex", "--quiet").returncode == 0
    proc = run_cli("reindex", "--verify", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("layers: verified %d documents and %d Solr ids" % (loaded.published, loaded.published) in proc.stdout
            and "0 missing, 0 stale, 0 orphaned, 0 filtered out" in proc.stdout)
    # drift behind solrsync's back, each written with a version the next sync outranks
    now = time.time_ns() // 1000
    ids = published_ids()
    stale = loaded.solr.select("id:%s" % ids[1], fl="*")["docs"][0]
    stale.update(title="An old title", solrsync_version=now)
    stale.pop("_version_", None)
    hidden = Layer.objects.filter(is_published=False).first()
    loaded.solr.post("update", [stale, {"id": "ghost", "solrsync_pipeline": "layers", "solrsync_version": now},
                                {"id": str(hidden.uuid), "title": "unpublished", "solrsync_pipeline": "layers",
                                 "solrsync_version": now}])
    loaded.solr.post("update", {"delete": ids[0]}, commit="true", solrsync_version=now)
    proc = run_cli("reindex", "--verify", "--quiet")
    assert proc.returncode == 1
    assert "1 missing, 1 stale, 1 orphaned, 1 filtered out" in proc.stdout, proc.stdout
    for line in ("missing %s (pk " % ids[0], "stale %s (pk " % ids[1], "orphaned ghost",
                 "filtered out %s (pk %s)" % (hidden.uuid, hidden.pk)):
        assert line in proc.stdout, proc.stdout
    assert "differs in title" in proc.stdout
    proc = run_cli("reindex", "--verify", "--fix", "--quiet")
    assert proc.returncode == 0 and "re-queued 4 for the consumer" in proc.stdout, proc.stdout + proc.stderr
    from solrsync.contrib.django.runtime import get_syncer
    get_syncer().drain("layers", coalesce=False)  # the command woke a worker (inline here) to drain the log
    assert loaded.assert_in_step() == loaded.published
    assert run_cli("reindex", "--verify", "--quiet").returncode == 0


def test_prune_dry_run_counts_what_it_would_delete_and_deletes_nothing(loaded):
    assert run_cli("reindex", "--quiet").returncode == 0
    loaded.solr.post("update", [GHOST], commit="true")
    proc = run_cli("reindex", "--prune", "--dry-run", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "would index %d" % loaded.published in proc.stdout and "would delete 1" in proc.stdout, proc.stdout
    assert "ghost" in loaded.solr.ids(rows=5000)
    assert run_cli("--help").returncode == 0
    proc = run_cli("reindex", "--fix")
    assert proc.returncode == 2 and "--fix goes with --verify" in proc.stderr


def test_swap_rebuilds_into_a_fresh_core_and_swaps_it_live(loaded):
    loaded.solr.post("update", [GHOST], commit="true")
    proc = run_cli("reindex", "--swap", "--quiet")
    if proc.returncode != 0 and loaded.solr.is_real and "configsets" in proc.stderr:
        pytest.skip("the real Solr has no 'layers' configset: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    assert loaded.solr.ids(rows=5000) == published_ids()
    status = loaded.solr.admin(action="STATUS")[1]["status"]
    assert not [name for name in status if "_rebuild_" in name]


def test_a_swap_removes_the_old_cores_instance_dir(loaded):
    """The core swapped out is unloaded with its instance dir (index, transaction logs): a rebuild
    leaves nothing on disk (on the emulator, or on a real Solr on this machine). Named SolrCloud
    (an alias), the collection swapped out is deleted with its shards' cores' dirs."""
    solr = loaded.solr

    def live_dirs():  # dataDir's parent: 5.3.1 reports a configSet core's instanceDir as the configset's
        cores = [s["leader"] for s in solr.shards(fresh=True)] if solr.is_cloud else [solr.core]
        statuses = [solr.admin(action="STATUS", core=core)[1]["status"][core] for core in cores]
        return sorted(os.path.dirname(status["dataDir"].rstrip("/")) for status in statuses)
    proc = run_cli("reindex", "--swap", "--quiet")  # the live core is now one a rebuild made
    if proc.returncode != 0 and solr.is_real and "configsets" in proc.stderr:
        pytest.skip("the real Solr has no 'layers' configset: " + proc.stderr.strip())
    assert proc.returncode == 0, proc.stderr
    before = live_dirs()
    if not all(os.path.isdir(d) for d in before):
        pytest.skip("the real Solr's instance dirs are not on this machine")
    assert run_cli("reindex", "--swap", "--quiet").returncode == 0
    after = live_dirs()
    assert set(after).isdisjoint(before) and all(os.path.isdir(d) for d in after), (before, after)
    assert not [d for d in before if os.path.exists(d)]
    assert solr.ids(rows=5000) == published_ids()


def test_progress_is_written_once_a_second_not_per_chunk(loaded, monkeypatch):
    """Each progress write is a commit (on SQLite one that waits for the disk): a reindex of many
    chunks within a second writes where it got to once, when it ends -- and at a Ctrl-C (above)."""
    from solrsync import reindex as reindex_module
    from solrsync.contrib.django.runtime import get_syncer
    log = get_syncer().changelog
    writes = []
    real = type(log).save_reindex_state

    def save(self, pipeline, state, *args):
        writes.append(state)
        return real(self, pipeline, state, *args)
    monkeypatch.setattr(type(log), "save_reindex_state", save)
    monkeypatch.setattr(reindex_module, "PROGRESS_SECONDS", 3600, raising=False)
    result = reindex_module.reindex(get_syncer(), "layers", batch_size=100)
    assert result.seen > 500  # many chunks
    assert [w and w["last_pk"] for w in writes] == [result.last_pk, None]


def test_one_process_builds_the_next_chunk_while_it_posts_one(loaded, monkeypatch):
    """The second chunk's post is held until the third chunk is built: a reindex that built and
    posted in turn would never build it (the wait gives up and the test fails). Posts stay in
    order and every document arrives."""
    import threading
    from solrsync import reindex as reindex_module
    from solrsync.chunk import Chunk
    from solrsync.contrib.django.runtime import get_syncer
    built, posted, third_built = [], [], threading.Event()
    real_init, real_post = Chunk.__init__, Chunk.post

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        built.append(self)
        if len(built) == 3:
            third_built.set()

    def post(self, *args, **kwargs):
        posted.append(built.index(self))
        if len(posted) == 2:
            assert third_built.wait(10), "the next chunk was not built while this one was posted"
        return real_post(self, *args, **kwargs)
    monkeypatch.setattr(Chunk, "__init__", init)
    monkeypatch.setattr(Chunk, "post", post)
    result = reindex_module.reindex(get_syncer(), "layers", batch_size=100)
    assert result.indexed == loaded.published
    assert posted == list(range(len(built)))
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_chunks_take_their_versions_ahead_but_not_from_before_a_pause(loaded, monkeypatch):
    """The chunks' versions are taken VERSIONS_AHEAD at a time (one write of the clock for several
    chunks), each before its chunk is read. A reindex paused past VERSIONS_AHEAD_SECONDS (here in
    the third chunk's post) takes fresh ones: the fourth chunk's version is newer than one another
    worker took during the pause, not one left from before it."""
    import time
    from solrsync import reindex as reindex_module
    from solrsync.chunk import Chunk
    from solrsync.contrib.django.runtime import get_syncer
    syncer = get_syncer()
    monkeypatch.setattr(reindex_module, "POST_IN_THREAD", False)  # read, build and post in turn
    monkeypatch.setattr(reindex_module, "VERSIONS_AHEAD_SECONDS", 0.5)
    clock_writes, posted, during_pause = [], [], []
    real_version, real_post = syncer.version, Chunk.post

    def version(count=1):
        clock_writes.append(count)
        return real_version(count)

    def post(self, sink, version=None, fence=None):
        posted.append(version)
        if len(posted) == 3:
            time.sleep(0.6)
            during_pause.append(real_version())  # another worker's, taken while this one is paused
        return real_post(self, sink, version, fence)
    monkeypatch.setattr(syncer, "version", version)
    monkeypatch.setattr(Chunk, "post", post)
    result = reindex_module.reindex(syncer, "layers", batch_size=100)
    assert result.indexed == loaded.published
    assert posted == sorted(set(posted)) and len(posted) > reindex_module.VERSIONS_AHEAD
    assert posted[1:3] == [posted[0] + 1, posted[0] + 2]  # taken together, ahead
    assert posted[3] > during_pause[0]  # after the pause: taken anew
    # the run's start version, then one write for each VERSIONS_AHEAD chunks but for the pause
    assert clock_writes[:3] == [1] + [reindex_module.VERSIONS_AHEAD] * 2 and len(clock_writes) < len(posted) / 2
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_chunks_after_the_first_are_read_with_queries_compiled_once(loaded, monkeypatch):
    """A reindex's pages differ only in their keys: Django compiles each of the queries once (a
    process and thread), each page runs them with its own keys, and the rows are those of queries
    compiled anew (three a chunk before)."""
    from django.db.models.sql.compiler import SQLCompiler
    from solrsync.contrib.django import reads
    from solrsync.contrib.django.runtime import get_syncer
    source = get_syncer().sources["layers"]
    compiled, real_as_sql = [], SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        compiled.append(self.query.model.__name__)
        return real_as_sql(self, *args, **kwargs)
    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    chunks = list(source.iter_chunks(100))
    assert len(chunks) >= 10 and len(compiled) <= 4, compiled  # the first page's three, the next page's
    monkeypatch.setattr(SQLCompiler, "as_sql", real_as_sql)
    monkeypatch.setattr(reads.Reused, "__call__",
                        lambda self, *keys: reads.fetch_values(self.make(*keys), *self.lookups))
    assert list(source.iter_chunks(100)) == chunks


def test_claims_are_read_with_queries_compiled_once_a_shape(loaded, monkeypatch):
    """A drain loads each claim's objects by their keys: keys filling their range, or scattered in
    it (one array parameter). Each shape's queries (the rows, each many-to-many; a related set's
    document ids) are compiled once a process and thread, whatever the keys, and give the rows of
    queries compiled anew; keys that are no integers are compiled each time."""
    from django.db.models.sql.compiler import SQLCompiler
    from solrsync.contrib.django import reads
    from solrsync.contrib.django.runtime import get_syncer
    from layers.models import Layer
    source = get_syncer().sources["layers"]
    pks = sorted(Layer.objects.values_list("pk", flat=True))
    claims = [[str(pk) for pk in pks[i:i + 40]] for i in range(0, 400, 40)]  # whole ranges
    claims += [[str(pk) for pk in pks[i:i + 120:3]] for i in range(0, 600, 120)]  # scattered
    claims += [[str(pks[5]), "x", str(pks[9])]]  # a key that is no integer: filed, the rest read
    compiled, real_as_sql = [], SQLCompiler.as_sql

    def as_sql(self, *args, **kwargs):
        compiled.append(self.query.model.__name__)
        return real_as_sql(self, *args, **kwargs)
    monkeypatch.setattr(SQLCompiler, "as_sql", as_sql)
    loads = [(source.load(keys, errors=errors), errors) for keys, errors in ((k, {}) for k in claims)]
    assert all(len(rows) > 10 for rows, _ in loads[:-1]) and loads[-1][1] == {"x": loads[-1][1]["x"]}
    many = len(source.plan[1])
    # each shape: its rows' query and one per many-to-many field; then the last claim's two keys
    # (scattered, their shape's already compiled) -- nothing compiled anew for any later claim
    assert len(compiled) <= 2 * (1 + many), compiled
    # a related set's pages of (pk, document id): the ids' query compiled once a shape too
    from django.db.models import Count
    from layers.models import Keyword
    keyword = Keyword.objects.annotate(n=Count("layer")).order_by("-n").first()
    del compiled[:]
    pages = list(source.related("keywords__id", keyword.pk, 7))
    assert len(pages) >= 5 and len(compiled) <= 1 + 2, compiled  # the set's keys; each shape's ids
    monkeypatch.setattr(SQLCompiler, "as_sql", real_as_sql)
    monkeypatch.setattr(reads.Reused, "__call__",
                        lambda self, *keys: reads.fetch_values(self.make(*keys), *self.lookups))
    assert [(source.load(keys, errors=errors), errors) for keys, errors in ((k, {}) for k in claims)] == loads
    assert list(source.related("keywords__id", keyword.pk, 7)) == pages


def test_one_process_posts_a_chunk_while_the_one_before_is_under_way(loaded, monkeypatch):
    """Two posts under way at once: the first chunk's post is held until the second's is answered
    (a reindex posting one at a time never sends the second: the wait gives up and the test
    fails). Until the first is answered nothing is accounted for, though the second is: progress
    never passes a chunk not yet posted. Then both, in order."""
    import threading
    from solrsync import reindex as reindex_module
    from solrsync.chunk import Chunk
    from solrsync.contrib.django.runtime import get_syncer
    monkeypatch.setattr(reindex_module, "PROGRESS_SECONDS", 0)  # written after every chunk accounted for
    posts, second_answered, seen = [], threading.Event(), []
    real_post = Chunk.post

    def post(self, *args, **kwargs):
        posts.append(self)
        if len(posts) == 1:
            assert second_answered.wait(10), "the second chunk was not posted while the first was under way"
            assert seen == [] and get_syncer().changelog.reindex_state("layers") is None, \
                "progress passed a chunk not posted yet"
            return real_post(self, *args, **kwargs)
        done = real_post(self, *args, **kwargs)
        if len(posts) == 2:
            second_answered.set()
        return done
    monkeypatch.setattr(Chunk, "post", post)
    result = reindex_module.reindex(get_syncer(), "layers", batch_size=100,
                                    on_batch=lambda result, n: seen.append(result.last_pk))
    assert result.indexed == loaded.published
    assert seen == sorted(seen) and len(seen) == len(posts) and seen[-1] == result.last_pk
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_an_error_in_one_of_two_posts_under_way_records_nothing_after_it(loaded, monkeypatch):
    """The second chunk's post fails (Solr answers 503) once the third's, sent beside it, was
    answered: the reindex stops with that error, its progress stays at the first chunk (the third
    is not recorded as done: the second is not), no fourth chunk is posted, and --resume indexes
    everything."""
    import threading
    from solrsync import reindex as reindex_module
    from solrsync.chunk import Chunk
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.sink import SolrUnavailable
    monkeypatch.setattr(reindex_module, "PROGRESS_SECONDS", 0)
    posts, third_answered, seen = [], threading.Event(), []
    real_post = Chunk.post

    def post(self, *args, **kwargs):
        posts.append(self)
        n = len(posts)
        done = real_post(self, *args, **kwargs)
        if n == 2:
            if not third_answered.wait(10):
                raise AssertionError("the third chunk was not posted while the second was under way")
            raise SolrUnavailable("Solr at http://solr answered 503: a fault after it took the batch", 503)
        if n == 3:
            third_answered.set()
        return done
    monkeypatch.setattr(Chunk, "post", post)
    with pytest.raises(SolrUnavailable):
        reindex_module.reindex(get_syncer(), "layers", batch_size=100,
                               on_batch=lambda result, n: seen.append(result.last_pk))
    assert len(posts) == 3  # the first error stops everything: the fourth chunk is not sent
    assert len(seen) == 1 and get_syncer().changelog.reindex_state("layers")["last_pk"] == seen[0]
    monkeypatch.setattr(Chunk, "post", real_post)
    result = reindex_module.reindex(get_syncer(), "layers", batch_size=100, resume=True)
    assert not result.interrupted
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_a_ctrl_c_while_waiting_for_a_post_waits_for_it_and_counts_it(loaded, monkeypatch):
    """The Ctrl-C comes while the reindex waits for the first chunk's post, the second's under way
    beside it: both are waited for and accounted for, in order (dropping the first would let
    progress pass a chunk never accounted for -- perhaps never posted)."""
    import multiprocessing.pool
    import threading
    from solrsync import reindex as reindex_module
    from solrsync.chunk import Chunk
    from solrsync.contrib.django.runtime import get_syncer
    interrupted, posts = threading.Event(), []
    real_post, real_get = Chunk.post, multiprocessing.pool.ApplyResult.get

    def post(self, *args, **kwargs):
        posts.append(self)
        if len(posts) == 1:
            assert interrupted.wait(10), "the reindex never waited for the first chunk's post"
        return real_post(self, *args, **kwargs)

    def get(self, timeout=None):
        if not interrupted.is_set() and not self.ready() and threading.current_thread() is threading.main_thread():
            interrupted.set()
            raise KeyboardInterrupt  # as a terminal's Ctrl-C lands in the wait
        return real_get(self, timeout)
    monkeypatch.setattr(Chunk, "post", post)
    monkeypatch.setattr(multiprocessing.pool.ApplyResult, "get", get)
    result = reindex_module.reindex(get_syncer(), "layers", batch_size=100)
    assert result.interrupted and interrupted.is_set()
    assert result.seen == 100 * len(posts) == 200
    assert get_syncer().changelog.reindex_state("layers")["last_pk"] == result.last_pk
    from layers.models import Layer
    upto = sorted(Layer.objects.filter(is_published=True, pk__lte=result.last_pk).values_list("uuid", flat=True))
    assert loaded.solr.ids(rows=5000) == upto


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_run_resumes_where_it_stopped(loaded, tmp_path, workers):
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    calls = []

    def interrupt_on_third(result, n):
        calls.append(n)
        if len(calls) == 3:
            raise KeyboardInterrupt
    result = reindex(get_syncer(), "layers", batch_size=100, on_batch=interrupt_on_third, workers=workers)
    assert result.interrupted and result.last_pk is not None
    saved = get_syncer().changelog.reindex_state("layers")  # in the database: any host can resume
    assert saved["last_pk"] == result.last_pk
    # Solr is consistent: exactly the rows up to the last acknowledged key are there, committed
    from layers.models import Layer
    upto = sorted(Layer.objects.filter(is_published=True, pk__lte=result.last_pk).values_list("uuid", flat=True))
    assert loaded.solr.ids(rows=5000) == upto
    result = reindex(get_syncer(), "layers", batch_size=100, resume=True)
    assert not result.interrupted
    assert loaded.solr.ids(rows=5000) == published_ids()
    assert get_syncer().changelog.reindex_state("layers") is None


def test_a_ctrl_c_that_breaks_the_connection_still_saves_progress_and_releases_the_hold(loaded):
    """A Ctrl-C inside a query leaves the connection unusable (psycopg2 gives it up): the progress
    and the hold's release are written on a new one, so ``--resume`` works at once, not after the
    lease runs out."""
    from django.db import connection
    if connection.vendor != "postgresql":
        pytest.skip("a connection broken under a query: PostgreSQL")
    from django.db import connections
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.reindex import reindex
    calls = []

    def break_the_connection_on_third(result, n):
        calls.append(n)
        if len(calls) == 3:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                pid = cur.fetchone()[0]
            other = connections.create_connection("default")
            with other.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(%s)", [pid])
            other.close()
            raise KeyboardInterrupt
    result = reindex(get_syncer(), "layers", batch_size=100, on_batch=break_the_connection_on_third)
    assert result.interrupted
    assert get_syncer().changelog.reindex_state("layers")["last_pk"] == result.last_pk
    result = reindex(get_syncer(), "layers", batch_size=100, resume=True)  # not ReindexRunning
    assert not result.interrupted
    assert loaded.solr.ids(rows=5000) == published_ids()


# The command run as `manage.py solrsync reindex ...`, with a terminal's Ctrl-C (SIGINT to the whole
# process group) sent from the progress callback once CTRL_C_AFTER chunks are accounted for: at a chosen
# point of every run, on the emulator and on a real Solr alike, whatever the machine's speed (and whether
# or not the tests themselves run as a background job, which inherits SIGINT ignored).
CTRL_C_DRIVER = """
import os, runpy, signal, sys
from solrsync import reindex
chunks = [0]
real = reindex.Progress.__call__
def progress(self, result, n):
    real(self, result, n)
    chunks[0] += 1
    if chunks[0] == int(os.environ["CTRL_C_AFTER"]):
        os.killpg(os.getpgid(0), signal.SIGINT)
reindex.Progress.__call__ = progress
signal.signal(signal.SIGINT, signal.default_int_handler)  # as on a terminal: a shell's background job ignores it
sys.argv = ["manage.py"] + sys.argv[1:]
runpy.run_path("manage.py", run_name="__main__")
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_on_the_command_prints_how_to_resume(loaded, tmp_path, workers):
    proc = subprocess.run([sys.executable, "-c", CTRL_C_DRIVER, "solrsync", "reindex", "--batch-size", "50",
                           "--workers", workers], cwd=str(DEMO), capture_output=True, text=True, timeout=300,
                          start_new_session=True, env=dict(os.environ, CTRL_C_AFTER="3"))
    assert proc.returncode == 130, proc.stderr
    assert "--resume" in proc.stdout and "Solr is consistent" in proc.stdout, proc.stdout
    seen = int(proc.stdout.split("interrupted after ")[1].split()[0])
    assert 150 <= seen < loaded.published  # three chunks of 50 rows or more, not the whole table
    from solrsync.contrib.django.runtime import get_syncer
    last_pk = get_syncer().changelog.reindex_state("layers")["last_pk"]
    from layers.models import Layer
    upto = sorted(Layer.objects.filter(is_published=True, pk__lte=last_pk).values_list("uuid", flat=True))
    assert loaded.solr.ids(rows=5000) == upto  # exactly the rows up to the last acknowledged key
    proc = run_cli("reindex", "--resume", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert loaded.solr.ids(rows=5000) == published_ids()


def test_resume_without_state_is_misuse(loaded):
    proc = run_cli("reindex", "--resume")
    assert proc.returncode == 2 and "nothing to resume" in proc.stderr
