"""Prometheus metrics: the Django view and each consumer's port report what really happened."""
import socket
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import stop, use_queue, wait_until

PORT = 29510  # this suite's ports: 29500-29599


def parse(text):
    """{(sample name, ((label, value), ...)): value}"""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape_view():
    from django.test import Client
    response = Client().get("/solrsync/metrics", HTTP_HOST="localhost")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def scrape_port(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as response:
        return parse(response.read().decode())


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def idle_queue(project, name="metrics"):
    """A SQLite queue no consumer reads: saves stay pending in the change log."""
    return use_queue("sqlite:///%s/%s-%d.sqlite3" % (project.info["var"], name, time.monotonic_ns()))


def test_a_bad_metrics_port_is_one_line():
    from solrsync.config import ConfigError, load_settings
    with pytest.raises(ConfigError, match="setting METRICS_PORT: 70000 is not a TCP port"):
        load_settings({"METRICS_PORT": 70000}, environ={})
    with pytest.raises(ConfigError, match="setting METRICS_PORT: 'x' is not a number"):
        load_settings({}, environ={"SOLRSYNC_METRICS_PORT": "x"})
    assert load_settings({}, environ={}).METRICS_PORT == 0


def test_rebuild_progress_never_stops_a_rebuild_when_the_broker_is_down(caplog):
    from solrsync.metrics import RebuildProgress

    class DownBroker:
        puts = 0

        def put(self, key, value):
            self.puts += 1
            raise ConnectionError("redis at 127.0.0.1:1: connection refused")

    class Result:
        seen = 0
    broker, shown = DownBroker(), []
    progress = RebuildProgress(broker, "layers", 10, then=lambda result, n: shown.append(result.seen), every=0)
    for _ in range(5):
        Result.seen += 2
        progress(Result, 2)
    progress.close()
    assert shown == [2, 4, 6, 8, 10] and broker.puts == 1
    assert [r.message for r in caplog.records] == [
        "could not publish the rebuild progress of layers (not tried again in this run): redis at 127.0.0.1:1: "
        "connection refused"]


@pytest.mark.django
def test_view_reports_pending_changes_and_their_age(project):
    from solrsync.contrib.django.models import Change
    from solrsync.contrib.django.runtime import get_syncer
    idle_queue(project)
    assert value(scrape_view(), "solrsync_pending_changes", pipeline="layers") == 0
    assert value(scrape_view(), "solrsync_oldest_pending_seconds", pipeline="layers") == 0
    for i in range(3):
        project.make_layer(name="pending_%d" % i)
    changelog = get_syncer().changelog
    before = changelog.oldest_age("layers")
    samples = scrape_view()
    after = changelog.oldest_age("layers")
    assert value(samples, "solrsync_pending_changes", pipeline="layers") == Change.objects.count() == 3
    assert before <= value(samples, "solrsync_oldest_pending_seconds", pipeline="layers") <= after
    assert value(samples, "solrsync_failures", pipeline="layers") == 0
    assert value(samples, "solrsync_changelog_up") == 1 and value(samples, "solrsync_broker_up") == 1


@pytest.mark.django
def test_view_counts_documents_pushed_and_deleted_by_a_drain(project):
    from solrsync.contrib.django.runtime import get_syncer
    idle_queue(project)
    start = scrape_view()
    layers = [project.make_layer(name="pushed_%d" % i) for i in range(4)]
    report = get_syncer().drain("layers", coalesce=False)
    assert report.indexed == 4
    samples = scrape_view()
    pushed = "solrsync_documents_pushed_total"
    assert value(samples, pushed, pipeline="layers") - (value(start, pushed, pipeline="layers") or 0) == 4
    assert value(samples, "solrsync_pending_changes", pipeline="layers") == 0
    requests = value(samples, "solrsync_solr_request_seconds_count", pipeline="layers")
    assert requests > (value(start, "solrsync_solr_request_seconds_count", pipeline="layers") or 0)
    layers[0].delete()
    layers[1].delete()
    report = get_syncer().drain("layers", coalesce=False)
    assert report.deleted == 2
    again = scrape_view()
    deleted = "solrsync_documents_deleted_total"
    assert value(again, deleted, pipeline="layers") - (value(samples, deleted, pipeline="layers") or 0) == 2
    assert value(again, pushed, pipeline="layers") == value(samples, pushed, pipeline="layers")
    project.assert_in_step()


@pytest.mark.django
def test_a_503_from_solr_is_counted_as_an_error_and_the_failure_gauge_follows_the_change_log(project):
    from solrsync.contrib.django.runtime import get_syncer
    from solrsync.sink import SolrUnavailable
    project.solr.need_emulator()
    idle_queue(project)
    project.make_layer(name="first_try_fails")
    start = scrape_view()
    errors = ("solrsync_solr_errors_total", dict(pipeline="layers", kind="unavailable", status="503"))
    project.solr.emulator.faults.fail(503, count=1)
    with pytest.raises(SolrUnavailable):
        get_syncer().drain("layers", coalesce=False)
    samples = scrape_view()
    assert value(samples, errors[0], **errors[1]) - (value(start, errors[0], **errors[1]) or 0) == 1
    assert value(samples, "solrsync_pending_changes", pipeline="layers") == 1  # kept for the retry
    get_syncer().drain("layers", coalesce=False)
    samples = scrape_view()
    assert value(samples, errors[0], **errors[1]) - (value(start, errors[0], **errors[1]) or 0) == 1
    assert value(samples, "solrsync_pending_changes", pipeline="layers") == 0
    # a document Solr refuses: a failure record, and a refused request
    get_syncer().changelog.record_failures("layers", [("12345", "some-id", "refused for the test")])
    assert value(scrape_view(), "solrsync_failures", pipeline="layers") == 1
    project.assert_in_step()


@pytest.mark.django
def test_consumers_alive_per_host(project, monkeypatch):
    import solrsync.fleet
    idle_queue(project)
    monkeypatch.setattr(solrsync.fleet, "consumers", lambda huey: [
        {"host": "web1", "alive": True}, {"host": "web1", "alive": False}, {"host": "web1", "alive": True},
        {"host": "worker2", "alive": False}])
    samples = scrape_view()
    assert value(samples, "solrsync_consumers_alive", host="web1") == 2
    assert value(samples, "solrsync_consumers_alive", host="worker2") == 0  # only dead ones: an alert's zero


@pytest.mark.django
def test_rebuild_progress_is_published_while_a_reindex_runs(project, monkeypatch):
    from solrsync import metrics
    from solrsync.cli import main
    from solrsync.contrib.django.runtime import get_syncer, get_tasks
    from solrsync.reindex import Progress
    from solrsync.contrib.django.signals import hooks_disabled
    tasks = idle_queue(project)
    with hooks_disabled():
        for i in range(7):
            project.make_layer(name="rebuilt_%d" % i)
    monkeypatch.setattr(metrics.RebuildProgress.__init__, "__defaults__", (None, 0.0))  # publish every batch
    seen = []

    def probe(self, result, n):
        samples = scrape_view()
        seen.append((result.seen, value(samples, "solrsync_rebuild_rows_done", pipeline="layers"),
                     value(samples, "solrsync_rebuild_rows_total", pipeline="layers"),
                     value(samples, "solrsync_rebuild_running", pipeline="layers")))
    monkeypatch.setattr(Progress, "__call__", probe)
    assert main(["reindex", "layers", "--batch-size", "2", "--quiet"], syncer_factory=get_syncer, tasks_factory=get_tasks) == 0
    assert seen == [(2, 2, 7, 1), (4, 4, 7, 1), (6, 6, 7, 1), (7, 7, 7, 1)]
    samples = scrape_view()
    assert value(samples, "solrsync_rebuild_rows_done", pipeline="layers") == 7
    assert value(samples, "solrsync_rebuild_running", pipeline="layers") == 0
    assert value(samples, "solrsync_rebuild_updated_timestamp_seconds", pipeline="layers") <= time.time()
    project.assert_in_step()
    # the periodic resync publishes too (the consumer runs it; here inline)
    tasks.huey.put("solrsync:rebuild-progress:layers", {"done": 0, "total": 0, "running": True, "updated": 0})
    tasks.huey.get("solrsync:resync:layers")  # else this tick's resync counts as done by the command's
    tasks.resync.call_local()
    samples = scrape_view()
    assert value(samples, "solrsync_rebuild_rows_done", pipeline="layers") == 7
    assert value(samples, "solrsync_rebuild_rows_total", pipeline="layers") == 7
    assert value(samples, "solrsync_rebuild_running", pipeline="layers") == 0


@pytest.mark.django
def test_worker_threads_of_one_process_share_one_port(project, monkeypatch):
    """huey runs the start-up hook in every worker thread: the first serves, the others find it."""
    import threading
    from solrsync import metrics
    from solrsync.config import load_settings
    from solrsync.contrib.django.runtime import close_db, get_syncer
    tasks = idle_queue(project)
    monkeypatch.setitem(metrics._serving, "pid", None)
    settings = load_settings({"METRICS_PORT": PORT + 20, "METRICS_ADDR": "127.0.0.1"}, environ={})
    ports = []
    threads = [threading.Thread(target=lambda: ports.append(metrics.serve(settings, get_syncer, tasks.huey, close_db)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert ports == [PORT + 20] * 4
        project.make_layer(name="served")
        assert value(scrape_port(PORT + 20), "solrsync_pending_changes", pipeline="layers") == 1
        with pytest.raises(OSError):
            scrape_port(PORT + 21)
    finally:
        metrics._serving["server"].shutdown()
        metrics._serving["server"].server_close()


@pytest.mark.django
def test_each_consumer_process_serves_its_own_port(project):
    """Two worker processes (-k process): ports PORT and PORT+1, one heartbeat each, and the
    documents they pushed add up to what was saved."""
    tasks = idle_queue(project, "consumer-metrics")
    env = {"SOLRSYNC_METRICS_PORT": str(PORT), "SOLRSYNC_METRICS_ADDR": "127.0.0.1"}
    consumer = project.consumer("-k", "process", env=env)
    try:
        def both():
            try:
                return [scrape_port(PORT), scrape_port(PORT + 1)]
            except OSError:
                return None
        assert wait_until(both, timeout=30), open(consumer.log_path).read()[-3000:]
        host = socket.gethostname()
        assert wait_until(lambda: all(value(s, "solrsync_consumers_alive", host=host) == 2 for s in both()),
                          timeout=30), (both(), open(consumer.log_path).read()[-3000:])
        with pytest.raises(OSError):
            scrape_port(PORT + 2)  # one port per process: the worker threads' hooks ran once
        for i in range(5):
            project.make_layer(name="consumed_%d" % i)

        def pushed():
            return sum(value(s, "solrsync_documents_pushed_total", pipeline="layers") or 0 for s in both())
        assert wait_until(lambda: pushed() == 5 and value(both()[0], "solrsync_pending_changes", pipeline="layers")
                          == 0, timeout=30), (pushed(), open(consumer.log_path).read()[-3000:])
        first, second = both()
        for name in ("solrsync_pending_changes", "solrsync_failures"):  # state: the same from any endpoint
            assert value(first, name, pipeline="layers") == value(second, name, pipeline="layers") == 0
    finally:
        stop(consumer)
    assert tasks is not None
    project.assert_in_step()
