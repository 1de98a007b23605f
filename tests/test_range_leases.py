"""Leases that are worked under are renewed; a range that keeps failing is given up on (issue 25:
a range slower than LEASE_SECONDS was re-sent, re-claimed and refused again and again, the
command never ending). Each test forces its interleaving with hooks -- the first range's post
returns only once the database's clock is past the lease it was claimed with -- and ends with
every document compared, field by field, with what the database builds now."""
import collections

import pytest

from conftest import use_queue, wait_until

pytestmark = pytest.mark.django


def syncer():
    from solrsync.contrib.django.runtime import get_syncer
    return get_syncer()


@pytest.fixture
def loaded(project):
    from layers.management.commands.demo import Command
    Command().load(300)
    return project


def count_claims(monkeypatch):
    """{range seq: times claimed}, counted as the change log hands them out."""
    changelog = syncer().changelog
    real = type(changelog).claim_range
    claims = collections.Counter()

    def counting(self, run, owner, lease_seconds, max_attempts=None):
        got = real(self, run, owner, lease_seconds, max_attempts=max_attempts)
        if got is not None:
            claims[got[0]] += 1
        return got
    monkeypatch.setattr(type(changelog), "claim_range", counting)
    return claims


def test_a_range_slower_than_its_lease_is_renewed_and_finishes_once(loaded, monkeypatch):
    from solrsync.chunk import Chunk
    from solrsync.reindex import reindex
    tasks = use_queue("immediate", SOLRSYNC_LEASE_SECONDS="1")  # the consumers (inline) run every range
    claims = count_claims(monkeypatch)
    changelog = syncer().changelog
    real_post, slow = Chunk.post, []

    def outlast_the_lease(self, sink, version=None, fence=None):
        out = real_post(self, sink, version, fence)
        if not slow:  # the first range: its work goes on past the lease it was claimed with
            claimed_until = fence.token
            slow.append(wait_until(lambda: changelog.now() > claimed_until and fence.token > changelog.now(),
                                   timeout=30))
        return out
    monkeypatch.setattr(Chunk, "post", outlast_the_lease)
    result = reindex(syncer(), "layers", batch_size=100, via_queue=tasks)
    assert slow == [True]  # its first lease ran out by the database's clock while it worked, renewed
    assert set(claims.values()) == {1} and len(claims) == 3  # every range claimed once, none re-run
    assert result.seen == syncer().sources["layers"].count() and not result.rejected
    assert loaded.assert_in_step() == result.indexed


def test_a_range_that_always_fails_is_given_up_with_a_record_and_exit_1(loaded, monkeypatch, capsys):
    from solrsync import range_tasks
    from solrsync.chunk import Chunk
    from solrsync.cli import main
    from solrsync.contrib.django.models import RangeFailure, ReindexRange
    from solrsync.contrib.django.runtime import get_tasks
    from solrsync.sink import SolrUnavailable
    from solrsync.reindex import reindex
    use_queue("immediate")
    reindex(syncer(), "layers")  # Solr holds every layer before the rebuild that will fail
    monkeypatch.setattr(range_tasks, "IDLE_SECONDS", 600)
    claims = count_claims(monkeypatch)
    real_post, posts = Chunk.post, collections.Counter()

    def second_range_refused(self, sink, version=None, fence=None):
        seq = fence.key[1]
        posts[seq] += 1
        if seq == 1:
            raise SolrUnavailable("Solr at http://solr.example/solr/layers answered 503: always down for this one")
        return real_post(self, sink, version, fence)
    monkeypatch.setattr(Chunk, "post", second_range_refused)
    code = main(["reindex", "layers", "--via-queue", "--batch-size", "100", "--quiet"],
                syncer_factory=syncer, tasks_factory=get_tasks)
    err = capsys.readouterr().err
    assert code == 1
    assert "range #1" in err and "failed 5 times" in err and "always down for this one" in err
    assert len(err.strip().splitlines()) == 1, err
    assert claims[1] == range_tasks.MAX_ATTEMPTS == posts[1]  # bounded: not sent again after the fifth
    failure = RangeFailure.objects.get()
    assert (failure.pipeline, failure.seq, failure.attempts) == ("layers", 1, 5)
    assert "always down for this one" in failure.reason and failure.first and failure.last
    assert not ReindexRange.objects.exists()  # the run's ranges dropped; the record stays
    # indexed before; nothing was pruned or swapped
    assert loaded.assert_in_step() == syncer().sources["layers"].count()


def test_a_pipeline_name_of_any_length_runs_through_the_queue():
    from solrsync.range_tasks import run_prefix
    long_name = "a_pipeline_whose_name_is_longer_than_thirty_one_characters_by_far"
    assert len("%s:%s" % (run_prefix(long_name), "0" * 32)) <= 64
    assert run_prefix(long_name) != run_prefix(long_name[:-1] + "x")  # a digest: distinct names stay distinct
    assert run_prefix("layers") == "layers"


def test_a_pipeline_name_longer_than_the_change_log_keeps_is_one_clear_line():
    from solrsync.config import ConfigError, MAX_PIPELINE_NAME, load_settings
    with pytest.raises(ConfigError) as exc:
        load_settings({"PIPELINES": {"p" * (MAX_PIPELINE_NAME + 1): {}}})
    assert "1 to 64 characters" in str(exc.value) and "\n" not in str(exc.value)
    load_settings({"PIPELINES": {"p" * MAX_PIPELINE_NAME: {}}})


def test_long_pipeline_names_get_triggers_of_their_own(django_project):
    from solrsync.contrib.django.triggers import trigger_name
    a, b = "x" * 50 + "_first", "x" * 50 + "_second"
    assert trigger_name(a) != trigger_name(b) and len(trigger_name(a)) <= 63
    assert trigger_name("layers") == "solrsync_layers"  # short names keep the triggers they have
