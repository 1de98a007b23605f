"""solrsync's huey tasks, registered on a Huey instance (queue.py) by ``register_tasks``.

Task names are fixed (``solrsync.sync``, ...) whatever module defines them, so queued messages
survive code moves. Messages carry only (pk, doc id) pairs; the change log holds the truth, so a
lost message delays a change (until the sweeper runs) but never drops it.
"""
import logging
import random
import time

from huey import crontab
from huey.exceptions import RetryTask

from . import metrics
from .config import parse_crontab
from .drain_gate import DrainGate
from .fleet import (RESYNC_SKIP_SECONDS, broker_time, consumers, last_resync, record_resync, start_heartbeat,
                    start_watch, stop_heartbeat)
from .lease import LeaseLost
from .range_tasks import work
from .reindex import ReindexRunning
from .sink import SolrUnavailable

log = logging.getLogger("solrsync.queue")


def backoff(settings, failures):
    """Exponential backoff with jitter: RETRY_DELAY * 2^(n-1), capped, times 0.5-1.0."""
    return min(settings.RETRY_MAX_DELAY, settings.RETRY_DELAY * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


def outage(syncer, exc):
    """What is unavailable for now when ``exc`` is a transient outage -- "Solr", or "database"
    when the change log says so (``changelog.outage(exc)``: SQLite's "database is locked" while
    another process writes, a lost connection) -- else None: a bug, raised."""
    if isinstance(exc, SolrUnavailable):
        return "Solr"
    is_outage = getattr(syncer.changelog, "outage", None)
    return "database" if is_outage is not None and is_outage(exc) else None


class Tasks:
    """The task handles registered on one Huey instance."""

    def __init__(self, huey, sync, sweep, resync, reindex_range=None, wake=None, gate=None):
        self.huey, self.sync, self.sweep, self.resync = huey, sync, sweep, resync
        self.reindex_range = reindex_range
        self.wake, self.gate = wake, gate

    def enqueue_range(self, pipeline, run, core, since, versioned):
        """One task taking the next free range of a reindex through the queue (range_tasks.py)."""
        self.reindex_range(pipeline, run, core, since, versioned)

    def consumers(self):
        return consumers(self.huey)

    def enqueue_sync(self, pipeline, changes):
        """Wake a worker for these changes -- merged into the wake-up already queued or the drain
        already running, if any (drain_gate.py); never raises (the change log keeps them if this
        fails)."""
        try:
            if self.wake is not None:
                return self.wake(pipeline, changes)
            self.sync(pipeline, [list(c) for c in changes])
            return True
        except Exception as exc:  # broker down: the sweeper will find the pending rows
            log.warning("%s: could not enqueue %d change(s), the sweeper will pick them up: %s",
                        pipeline, len(changes), exc)
            return False


def register_tasks(huey, settings, get_syncer, wrap=None, resync=None, watch=None):
    """Define solrsync's tasks on ``huey``.

    ``get_syncer()`` returns the Syncer (built lazily, in the worker); ``wrap`` decorates each
    task body (Django closes stale DB connections around it); ``resync(pipeline)`` runs a full
    resync (the reindex code path); ``watch(wake)`` watches the change log in each consumer
    (``start_watch``)."""
    wrap = wrap or (lambda fn: fn)

    def flag(kind, pipeline):
        return "solrsync:%s:%s" % (kind, pipeline)

    # a drain that stops renewing its gate for a lease is presumed dead, as its claimed changes are
    gate = drain_gate = DrainGate(huey, stale_seconds=settings.LEASE_SECONDS)

    def wake(pipeline, changes=()):
        """A wake-up: a task only when none is queued or draining for ``pipeline`` (drain_gate.py).
        Without a change log the changes themselves travel in the task, one per wake-up; with one,
        the task carries the changes of the wake-up that sent it (for ``queue pending``)."""
        if get_syncer().changelog is None:
            sync(pipeline, [list(c) for c in changes])
            return True
        token = gate.acquire(pipeline)
        if token is None:
            return True  # merged: the holder drains these changes too
        try:
            sync(pipeline, [list(c) for c in changes], gate=token)
        except BaseException:
            gate.release(pipeline, token)
            raise
        return True

    def drain_gated(syncer, pipeline, held):
        """Drain while there is something to claim, saying each round that the gate's holder
        (``held[0]``, its token) is alive; let go, then look once more (a change recorded before
        that look is this drain's). One task, however many saves arrive meanwhile: no sleep per
        wake-up, only the drain's own coalescing. Renewed before every batch: a drain that stops
        (its consumer killed) leaves a gate the next wake-up takes over after LEASE_SECONDS."""
        total = None
        while True:
            gate.renew(pipeline, held[0])
            report = syncer.drain(pipeline, max_batches=1)
            if total is None:
                total = report
            else:
                total.merge(report)
            if syncer.changelog.claimable(pipeline):
                continue
            gate.release(pipeline, held[0])
            held[0] = None
            if not syncer.changelog.claimable(pipeline):
                return total
            held[0] = gate.acquire(pipeline)
            if held[0] is None:  # another wake-up holds it now: its drain takes the rest
                return total

    @huey.task(name="solrsync.sync", context=True)
    @wrap
    def sync(pipeline, changes=(), retry=False, followup=False, task=None, gate=None, startup=False):
        syncer = get_syncer()
        state = huey.get(flag("retry", pipeline)) if retry else None  # this chain owns the retry
        if followup:
            huey.get(flag("followup", pipeline))
        if syncer.changelog is None:
            try:
                return repr(syncer.apply(pipeline, changes))
            except SolrUnavailable as exc:
                raise RetryTask(str(exc), delay=backoff(syncer.settings, 1))
        token = gate
        if token is None and not startup:  # a follow-up, a retry: through the gate as well
            token = drain_gate.acquire(pipeline)
            if token is None:
                return "merged"
        held = [token]  # a consumer (re)starting drains what its predecessor left, whoever holds the gate
        try:
            report = syncer.drain(pipeline) if startup else drain_gated(syncer, pipeline, held)
        except Exception as exc:
            if held[0]:
                drain_gate.release(pipeline, held[0])
            what = outage(syncer, exc)
            if what is None:
                raise
            failures = (state or {}).get("n", 0) + 1
            # one retry chain per pipeline: the other tasks that met the same outage just end
            if huey.put_if_empty(flag("retry", pipeline), {"n": failures, "at": time.time()}):
                delay = backoff(syncer.settings, failures)
                log.warning("%s: %s unavailable (%s); retry %d in %.1fs", pipeline, what, exc, failures, delay)
                if task is not None:  # the retry takes the gate again when it runs
                    task.kwargs = dict(task.kwargs or {}, retry=True, followup=False, gate=None, startup=False)
                raise RetryTask(str(exc), delay=delay)
            log.warning("%s: %s unavailable (%s); the changes stay pending for the retry under way",
                        pipeline, what, exc)
            return "pending"
        except BaseException:
            if held[0]:
                drain_gate.release(pipeline, held[0])
            raise
        # rows leased by a worker that died come free when the lease runs out: look again then
        expiry = syncer.changelog.next_lease_expiry(pipeline)
        if expiry is not None and huey.put_if_empty(flag("followup", pipeline), {"at": time.time()}):
            sync.schedule(args=(pipeline, []), kwargs={"followup": True}, delay=expiry + 0.5)
        return repr(report)

    @huey.task(name="solrsync.reindex_range")
    @wrap
    def reindex_range(pipeline, run, core, since=None, versioned=True):
        return work(get_syncer(), pipeline, run, core, since, versioned)

    @huey.on_startup("solrsync.wake")
    def wake_on_startup():
        start_heartbeat(huey)
        try:  # METRICS_PORT: a Prometheus endpoint in each consumer process
            metrics.serve(settings, get_syncer, huey, wrap)
        except Exception as exc:
            log.warning("could not serve metrics: %s", exc)
        try:  # a core from an older configset: say so now, once, in one line (the sink logs it)
            syncer = get_syncer()
            for name in syncer.pipelines:
                syncer.sink(name).versioned
        except Exception as exc:
            log.warning("could not check the Solr cores at start-up: %s", exc)
        if watch is not None:
            start_watch(watch, lambda names: [wake(name) for name in sorted(names)])
        # a consumer that (re)starts pushes whatever its predecessor left pending
        try:
            for name in get_syncer().pipelines:
                sync(name, [], startup=True)
        except Exception as exc:
            log.warning("could not enqueue the start-up drain: %s", exc)

    @huey.on_shutdown("solrsync.heartbeat")
    def heartbeat_on_shutdown():
        stop_heartbeat(huey)  # a clean stop: status does not list this consumer as DEAD

    @huey.periodic_task(crontab(minute="*"), name="solrsync.sweep")
    @wrap
    def sweep():
        syncer = get_syncer()
        if syncer.changelog is None:
            return None
        for name in syncer.pipelines:
            for kind in ("retry", "followup"):
                state = huey.get(flag(kind, name), peek=True)
                if state and time.time() - state.get("at", 0) > max(600, 10 * syncer.settings.RETRY_MAX_DELAY):
                    huey.get(flag(kind, name))  # its task died with its worker
        try:
            return repr(syncer.sweep())
        except Exception as exc:
            what = outage(syncer, exc)
            if what is None:
                raise
            log.warning("sweep: %s unavailable, changes stay pending: %s", what, exc)
            return None

    resync_task = None  # stays None when RESYNC_CRONTAB is empty
    spec = settings.RESYNC_CRONTAB
    if spec and resync is not None:
        @huey.periodic_task(parse_crontab(spec), name="solrsync.resync")
        @wrap
        def resync_task():
            """Every consumer's scheduler sends this at the tick: the first copy to start holds the
            pipeline's reindex in the database, the others find it held -- or, once it is done,
            find a resync started within RESYNC_SKIP_SECONDS -- and end."""
            syncer = get_syncer()
            out = {}
            for name in syncer.pipelines:
                last = last_resync(huey, name)
                if last and broker_time(huey) - last["started"] < RESYNC_SKIP_SECONDS:
                    continue
                started = broker_time(huey)
                try:
                    result = resync(name)
                except ReindexRunning as exc:
                    log.warning("resync skipped: %s", exc)
                    continue
                except LeaseLost as exc:  # paused past its hold: the reindex that took over does it
                    log.warning("resync stopped: %s", exc)
                    continue
                record_resync(huey, name, result, started)
                out[name] = result.summary()
            return out

    return Tasks(huey, sync, sweep, resync_task, reindex_range, wake, gate)

