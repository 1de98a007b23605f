"""The huey side: a Huey instance from QUEUE_URL, and solrsync's tasks registered on it.

Task names are fixed (``solrsync.sync``, ...) so queued messages survive code moves. Messages
carry only (pk, doc id) pairs; the change log holds the truth, so a lost message delays a change
(until the sweeper runs) but never drops it.
"""
import logging
import os
import random
import socket
import sys
import threading
import time
import uuid

from huey import Huey, crontab
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from huey.exceptions import RetryTask
from huey.serializer import SignedSerializer

from . import metrics
from .config import ConfigError, parse_crontab
from .lease import LeaseLost
from .sink import SolrUnavailable

log = logging.getLogger("solrsync.queue")


def backoff(settings, failures):
    """Exponential backoff with jitter: RETRY_DELAY * 2^(n-1), capped, times 0.5-1.0."""
    return min(settings.RETRY_MAX_DELAY, settings.RETRY_DELAY * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)


class QueueStorage(SqliteStorage):
    """huey's SQLite storage without an fsync per message (WAL, synchronous=NORMAL: a power cut
    may lose the last messages, never the file). Messages are wake-up calls: the change log is
    what must survive, and the sweeper re-sends what a lost message would have started. An fsync
    per wake-up was the biggest cost solrsync added to a save on a SQLite queue."""

    def _create_connection(self):
        conn = super()._create_connection()
        conn.execute("pragma synchronous=NORMAL")
        return conn


class BadSignature(ValueError):
    """A message not signed with this process's QUEUE_SECRET."""


class QueueSerializer(SignedSerializer):
    """huey's HMAC-signed pickles, a bad signature told apart from other unreadable data."""

    def _unsign(self, signed):
        try:
            return super()._unsign(signed)
        except ValueError:
            raise BadSignature("unsigned or signed with another QUEUE_SECRET") from None


class QueueHuey(Huey):
    """A Huey whose consumer drops a message it cannot trust with one line saying why and what to
    set, where huey's own loop logs a traceback ending in 'Separator "b':'" not found'."""

    def dequeue(self):
        try:
            return super().dequeue()
        except BadSignature as exc:
            log.error("dropped a queue message that is %s: QUEUE_SECRET must be the same on producers (the web "
                      "processes, manage.py) and consumers; the change log keeps the change for the sweeper", exc)
            return None


def make_huey(settings):
    """QUEUE_URL -> a Huey: sqlite:///PATH (embedded, durable), redis://... (several machines),
    memory:// (one process), immediate (tasks run inline in the caller)."""
    url, name = str(settings.QUEUE_URL), settings.QUEUE_NAME
    scheme = url.split(":", 1)[0]
    # signed messages: whoever can write to the broker cannot make consumers unpickle their data
    kw = {"utc": True, "results": False}  # nobody reads task results: do not let them pile up
    if settings.QUEUE_SECRET:
        kw["serializer"] = QueueSerializer(secret=settings.QUEUE_SECRET, salt="solrsync")
    if scheme == "sqlite":
        return QueueHuey(name, filename=url[len("sqlite:///"):], storage_class=QueueStorage, **kw)
    if scheme in ("redis", "rediss"):
        return QueueHuey(name, url=url, storage_class=RedisStorage, **kw)
    if scheme == "memory":
        return QueueHuey(name, storage_class=MemoryStorage, **kw)
    if scheme == "immediate":
        return QueueHuey(name, immediate=True, storage_class=MemoryStorage, **kw)
    raise ConfigError("QUEUE_URL", "unsupported queue %r" % url)


def check_consumer(huey, settings):
    """Refuse to consume unsigned messages unless QUEUE_ALLOW_UNSIGNED says so explicitly."""
    if not isinstance(huey.serializer, SignedSerializer) and not settings.QUEUE_ALLOW_UNSIGNED:
        raise ConfigError("QUEUE_SECRET", "not set: a consumer will not unpickle unsigned messages "
                          "(set QUEUE_SECRET on producers and consumers, or QUEUE_ALLOW_UNSIGNED=True)")


HEARTBEATS = "solrsync:heartbeats"
HEARTBEAT_SECONDS = 10
_beating = {"pid": None}


def broker_time(huey):
    """Now by the broker's clock (Redis TIME): heartbeats written by one host are aged by another,
    and hosts' clocks disagree. Other brokers serve one host, whose clock is the one."""
    storage = getattr(huey, "storage", None)
    conn = getattr(storage, "conn", None)
    if isinstance(storage, RedisStorage) and conn is not None:
        seconds, micros = conn.time()
        return seconds + micros / 1e6
    return time.time()


_identity = {}


def consumer_id():
    """This process's name among all consumers: host and pid say where to look, the random part
    keeps two apart that share both (containers with the same hostname, each its own pid 1)."""
    if _identity.get("pid") != os.getpid():
        _identity.update(pid=os.getpid(), id="%s:%d:%s" % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8]))
    return _identity["id"]


def start_heartbeat(huey):
    """Each consumer process notes (host, pid, last seen) every few seconds for ``status``."""
    if _beating["pid"] == os.getpid():
        return
    _beating["pid"] = os.getpid()
    me = consumer_id()

    def beat():
        while True:
            try:
                now = broker_time(huey)
                beats = huey.get(HEARTBEATS, peek=True) or {}
                beats = {k: v for k, v in beats.items() if now - v["seen"] < 3600}  # forget the long dead
                beats[me] = {"id": me, "host": socket.gethostname(), "pid": os.getpid(), "seen": now}
                huey.put(HEARTBEATS, beats)
            except Exception as exc:  # the broker is down: say so, keep beating
                log.warning("heartbeat: %s", exc)
            time.sleep(HEARTBEAT_SECONDS)
    threading.Thread(target=beat, name="solrsync-heartbeat", daemon=True).start()


_watching = {"pid": None}


def start_watch(watch, wake):
    """In each consumer process, once: a thread running ``watch(wake)``, the integration's way of
    noticing changes recorded without a wake-up (the database's triggers record bulk writes, raw
    SQL, other programs); it calls ``wake(pipelines)``. Restarted after an error."""
    if _watching["pid"] == os.getpid():
        return
    _watching["pid"] = os.getpid()

    def run():
        while True:
            try:
                watch(wake)
            except Exception as exc:  # the database went away: say so, watch again
                log.warning("watching the change log: %s; again in 5s (the sweeper covers the gap)", exc)
            time.sleep(5)
    threading.Thread(target=run, name="solrsync-watch", daemon=True).start()


DEAD_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS


def consumers(huey):
    """[{host, pid, seen, age, alive}] from the heartbeats (kept an hour): a consumer is dead once
    three heartbeats are missing."""
    now = broker_time(huey)
    beats = huey.get(HEARTBEATS, peek=True) or {}
    return sorted(({**v, "age": now - v["seen"], "alive": now - v["seen"] < DEAD_AFTER_SECONDS}
                   for v in beats.values()), key=lambda v: (v["host"], v["pid"]))


RESYNC_SKIP_SECONDS = 600


def record_resync(huey, pipeline, result, started):
    """The last full resync of a pipeline, for ``status``."""
    try:
        huey.put("solrsync:resync:%s" % pipeline, {
            "started": started, "elapsed": result.elapsed, "summary": result.summary(),
            "ok": not result.rejected and not getattr(result, "interrupted", False)})
    except Exception as exc:
        log.warning("could not record the resync of %s: %s", pipeline, exc)


def last_resync(huey, pipeline):
    return huey.get("solrsync:resync:%s" % pipeline, peek=True)


def huey_for(values=None):
    """For Django's settings.py: ``HUEY = huey_for(SOLRSYNC)`` -- the queue QUEUE_URL names, so
    ``manage.py run_huey`` and ``huey_consumer`` run solrsync's tasks on it.

    A bad setting ends the program here, with one line and exit status 2: settings.py is imported
    before any command runs, and Django prints whatever escapes it as a traceback."""
    from .config import load_settings
    try:
        return make_huey(load_settings(values))
    except ConfigError as exc:
        print("solrsync: %s" % exc, file=sys.stderr)
        raise SystemExit(2)


class Tasks:
    """The task handles registered on one Huey instance."""

    def __init__(self, huey, sync, sweep, resync, reindex_range=None):
        self.huey, self.sync, self.sweep, self.resync = huey, sync, sweep, resync
        self.reindex_range = reindex_range

    def enqueue_range(self, pipeline, run, core, since, versioned):
        """One task taking the next free range of a reindex through the queue (range_tasks.py)."""
        self.reindex_range(pipeline, run, core, since, versioned)

    def consumers(self):
        return consumers(self.huey)

    def enqueue_sync(self, pipeline, changes):
        """Wake a worker for these changes; never raises (the change log keeps them if this fails)."""
        try:
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

    @huey.task(name="solrsync.sync", context=True)
    @wrap
    def sync(pipeline, changes=(), retry=False, followup=False, task=None):
        syncer = get_syncer()
        state = huey.get(flag("retry", pipeline)) if retry else None  # this chain owns the retry
        if followup:
            huey.get(flag("followup", pipeline))
        if syncer.changelog is None:
            try:
                return repr(syncer.apply(pipeline, changes))
            except SolrUnavailable as exc:
                raise RetryTask(str(exc), delay=backoff(syncer.settings, 1))
        try:
            report = syncer.drain(pipeline)
        except SolrUnavailable as exc:
            failures = (state or {}).get("n", 0) + 1
            # one retry chain per pipeline: the other tasks that met the same outage just end
            if huey.put_if_empty(flag("retry", pipeline), {"n": failures, "at": time.time()}):
                delay = backoff(syncer.settings, failures)
                log.warning("%s: Solr unavailable (%s); retry %d in %.1fs", pipeline, exc, failures, delay)
                if task is not None:
                    task.kwargs = dict(task.kwargs or {}, retry=True, followup=False)
                raise RetryTask(str(exc), delay=delay)
            log.warning("%s: Solr unavailable (%s); the changes stay pending for the retry under way",
                        pipeline, exc)
            return "pending"
        # rows leased by a worker that died come free when the lease runs out: look again then
        expiry = syncer.changelog.next_lease_expiry(pipeline)
        if expiry is not None and huey.put_if_empty(flag("followup", pipeline), {"at": time.time()}):
            sync.schedule(args=(pipeline, []), kwargs={"followup": True}, delay=expiry + 0.5)
        return repr(report)

    @huey.task(name="solrsync.reindex_range")
    @wrap
    def reindex_range(pipeline, run, core, since=None, versioned=True):
        from .range_tasks import work
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
            start_watch(watch, lambda names: [sync(name, []) for name in sorted(names)])
        # a consumer that (re)starts pushes whatever its predecessor left pending
        try:
            for name in get_syncer().pipelines:
                sync(name, [])
        except Exception as exc:
            log.warning("could not enqueue the start-up drain: %s", exc)

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
        except SolrUnavailable as exc:
            log.warning("sweep: Solr unavailable, changes stay pending: %s", exc)
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
            from .reindex import ReindexRunning
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

    return Tasks(huey, sync, sweep, resync_task, reindex_range)

