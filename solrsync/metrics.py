"""Prometheus metrics (prometheus_client): what an operator scrapes from every host.

Two kinds, kept apart on purpose:

* **State**, computed at scrape time from the shared change log and the broker -- pending
  changes, the oldest one's age, failures, consumers alive per host, rebuild progress. Every
  endpoint (the Django view, each consumer's port) reports the same values, so any one is
  enough and several are aggregated with ``max``, never ``sum``.
* **Process counters**, counted where requests leave for Solr (the sink): documents pushed and
  deleted, request latency, errors. Each process counts its own; Prometheus sums the instances.

Each endpoint gets a registry of its own (``registry()``), never prometheus_client's global one,
so several Syncers in one process (tests, a web process beside a consumer) do not collide.
"""
import logging
import os
import socket
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily

from . import fleet

log = logging.getLogger("solrsync.metrics")

PROCESS = CollectorRegistry()  # this process's counters; registered again in every endpoint's registry
PUSHED = Counter("solrsync_documents_pushed", "Documents Solr accepted (adds), every core written to",
                 ["pipeline"], registry=PROCESS)
DELETED = Counter("solrsync_documents_deleted", "Document ids sent to Solr for deletion", ["pipeline"],
                  registry=PROCESS)
LATENCY = Histogram("solrsync_solr_request_seconds", "Solr request time, failed requests included", ["pipeline"],
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30), registry=PROCESS)
ERRORS = Counter("solrsync_solr_errors", "Solr requests that failed: unreachable (no answer, timeout), "
                 "unavailable (5xx, 404, 408, 429: retried), refused (other 4xx)",
                 ["pipeline", "kind", "status"], registry=PROCESS)


class SinkMetrics:
    """The counters of one pipeline, their label children bound once: a sink pays a few
    attribute look-ups and a lock per request, nothing per document."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.pushed, self.deleted = PUSHED.labels(pipeline), DELETED.labels(pipeline)
        self.latency = LATENCY.labels(pipeline)

    def request(self, seconds, error=None):
        self.latency.observe(seconds)
        if error is not None:
            status = getattr(error, "status", None)
            kind = ("unreachable" if status is None else "unavailable") if type(error).__name__ == "SolrUnavailable" \
                else "refused"
            ERRORS.labels(self.pipeline, kind, "" if status is None else str(status)).inc()

    def wrote(self, adds=0, deletes=0):
        if adds:
            self.pushed.inc(adds)
        if deletes:
            self.deleted.inc(deletes)


_sink_metrics = {}


def for_pipeline(pipeline):
    """The SinkMetrics of a pipeline (one per process)."""
    metrics = _sink_metrics.get(pipeline)
    if metrics is None:
        metrics = _sink_metrics.setdefault(pipeline, SinkMetrics(pipeline))
    return metrics


# ------------------------------------------------------------------ rebuild progress, via the broker
def _progress_key(pipeline):
    return "solrsync:rebuild-progress:%s" % pipeline


def publish_rebuild(huey, pipeline, done, total, running=True):
    """Note a rebuild's progress in the broker, where every endpoint on every host reads it (the
    command running the rebuild is not scraped). Never raises: metrics must not stop a rebuild."""
    try:
        huey.put(_progress_key(pipeline), {"done": done, "total": total, "running": running,
                                           "updated": fleet.broker_time(huey)})
        return True
    except Exception as exc:
        log.warning("could not publish the rebuild progress of %s (not tried again in this run): %s", pipeline, exc)
        return False


class RebuildProgress:
    """An ``on_batch`` for ``reindex``: publishes rows done / total every ``every`` seconds (and
    at the end, ``close()``), then calls ``then`` (the progress bar)."""

    def __init__(self, huey, pipeline, total, then=None, every=2.0):
        self.huey, self.pipeline, self.total, self.then, self.every = huey, pipeline, total, then, every
        self.done, self.last = 0, None
        self.publishing = publish_rebuild(huey, pipeline, 0, total)  # a broker down: one warning, not one a batch

    def __call__(self, result, n):
        self.done = result.seen
        now = time.monotonic()
        if self.publishing and (self.last is None or now - self.last >= self.every
                                or (self.total and self.done >= self.total)):
            self.last = now
            self.publishing = publish_rebuild(self.huey, self.pipeline, self.done, self.total)
        if self.then is not None:
            self.then(result, n)

    def close(self):
        if self.publishing:
            publish_rebuild(self.huey, self.pipeline, self.done, self.total, running=False)
        if self.then is not None and hasattr(self.then, "close"):
            self.then.close()


# ------------------------------------------------------------------ state, at scrape time
class StateCollector:
    """The gauges read from the change log and the broker when Prometheus scrapes. ``wrap``
    decorates the reads (Django closes the scraping thread's connections)."""

    def __init__(self, get_syncer, huey, wrap=None):
        self.get_syncer, self.huey = get_syncer, huey
        self.collect = (wrap or (lambda fn: fn))(self.collect)

    def collect(self):
        syncer = self.get_syncer()
        g = {name: GaugeMetricFamily("solrsync_" + name, doc, labels=labels) for name, doc, labels in (
            ("pending_changes", "Changes in the change log not yet pushed", ["pipeline"]),
            ("oldest_pending_seconds", "Age of the oldest claimable pending change (0: none), by the database's "
                                       "clock", ["pipeline"]),
            ("failures", "Objects whose last push failed (Solr refused them, unreadable rows)", ["pipeline"]),
            ("consumers_alive", "Consumer processes with a heartbeat in the last 30 s, per host (0: only dead "
                                "ones, seen within the last 10 minutes)", ["host"]),
            ("rebuild_rows_done", "Rows the latest full rebuild has streamed", ["pipeline"]),
            ("rebuild_rows_total", "Rows the latest full rebuild streams in all", ["pipeline"]),
            ("rebuild_running", "1 while a full rebuild runs (it stays 1 if its process was killed -9)", ["pipeline"]),
            ("rebuild_updated_timestamp_seconds", "When the latest rebuild last reported (the broker's clock)",
             ["pipeline"]),
            ("changelog_up", "1 if the change log could be read at this scrape", []),
            ("broker_up", "1 if the broker could be read at this scrape", []))}
        changelog = syncer.changelog
        try:
            if changelog is not None:
                for name in syncer.pipelines:
                    g["pending_changes"].add_metric([name], changelog.pending_count(name))
                    g["oldest_pending_seconds"].add_metric([name], changelog.oldest_age(name) or 0.0)
                    g["failures"].add_metric([name], changelog.failures(name).count())
            g["changelog_up"].add_metric([], 1 if changelog is not None else 0)
        except Exception as exc:  # the database is down: say so in a gauge, report the rest
            log.warning("metrics: cannot read the change log: %s", exc)
            g["changelog_up"].add_metric([], 0)
            for name in ("pending_changes", "oldest_pending_seconds", "failures"):
                g[name].samples.clear()
        try:
            alive = {}
            for c in fleet.consumers(self.huey):
                alive[c["host"]] = alive.get(c["host"], 0) + (1 if c["alive"] else 0)
            for host, n in sorted(alive.items()):
                g["consumers_alive"].add_metric([host], n)
            for name in syncer.pipelines:
                progress = self.huey.get(_progress_key(name), peek=True)
                if progress:
                    g["rebuild_rows_done"].add_metric([name], progress["done"])
                    if progress.get("total") is not None:
                        g["rebuild_rows_total"].add_metric([name], progress["total"])
                    g["rebuild_running"].add_metric([name], 1 if progress["running"] else 0)
                    g["rebuild_updated_timestamp_seconds"].add_metric([name], progress["updated"])
            g["broker_up"].add_metric([], 1)
        except Exception as exc:
            log.warning("metrics: cannot read the broker: %s", exc)
            g["broker_up"].add_metric([], 0)
        return iter(g.values())


def registry(get_syncer, huey, wrap=None):
    """A registry for one endpoint: this process's counters and the state gauges."""
    reg = CollectorRegistry()
    for collector in (PUSHED, DELETED, LATENCY, ERRORS):
        reg.register(collector)
    reg.register(StateCollector(get_syncer, huey, wrap))
    return reg


# ------------------------------------------------------------------ a port on each consumer
_serving = {"pid": None, "port": None, "lock": threading.Lock()}
PORTS_TRIED = 64


def serve(settings, get_syncer, huey, wrap=None):
    """In a consumer process, once: prometheus_client's HTTP server on METRICS_PORT, or the next
    free port above it -- each consumer process of a host (``-k process`` workers, a second
    consumer) takes its own, in start order. -> the port, or None (off, or none free)."""
    if not settings.METRICS_PORT:
        return None
    with _serving["lock"]:
        if _serving["pid"] == os.getpid():
            return _serving["port"]
        _serving["pid"], _serving["port"] = os.getpid(), None
        reg = registry(get_syncer, huey, wrap)
        for port in range(settings.METRICS_PORT, settings.METRICS_PORT + PORTS_TRIED):
            try:
                _serving["server"] = start_http_server(port, addr=settings.METRICS_ADDR, registry=reg)[0]
            except OSError:
                continue  # taken: by another consumer process of this host, or something else
            _serving["port"] = port
            log.info("metrics on http://%s:%d/metrics (%s pid %d)", "[%s]" % settings.METRICS_ADDR
                     if ":" in settings.METRICS_ADDR else settings.METRICS_ADDR, port,
                     socket.gethostname(), os.getpid())
            return port
        log.warning("metrics: no free port in %d-%d on %s; this process's counters are not exported",
                    settings.METRICS_PORT, settings.METRICS_PORT + PORTS_TRIED - 1, settings.METRICS_ADDR)
        return None
