"""The consumer fleet, as every host sees it through the broker: each process's name, its
heartbeats, the broker's clock that ages them, and the last resync of each pipeline.

Used by the tasks (they beat and record), by the reindex (a process's name holds a reindex or a
range), by the metrics and by ``status`` (they read). Only needs a Huey instance."""
import logging
import os
import socket
import threading
import time
import uuid

from huey.storage import RedisStorage

log = logging.getLogger("solrsync.queue")

HEARTBEATS = "solrsync:heartbeats"
HEARTBEAT_SECONDS = 10
DEAD_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
DEAD_SHOWN_SECONDS = 600  # a consumer that died (no clean stop) is listed DEAD this long, then dropped
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
    me, stop = consumer_id(), threading.Event()

    def beat():
        while True:
            try:
                now = broker_time(huey)
                beats = huey.get(HEARTBEATS, peek=True) or {}
                beats = {k: v for k, v in beats.items() if now - v["seen"] < DEAD_SHOWN_SECONDS}  # forget the dead
                beats[me] = {"id": me, "host": socket.gethostname(), "pid": os.getpid(), "seen": now}
                huey.put(HEARTBEATS, beats)
            except Exception as exc:  # the broker is down: say so, keep beating
                log.warning("heartbeat: %s", exc)
            if stop.wait(HEARTBEAT_SECONDS):
                return
    thread = threading.Thread(target=beat, name="solrsync-heartbeat", daemon=True)
    _beating.update(stop=stop, thread=thread)
    thread.start()


def stop_heartbeat(huey):
    """A consumer stopping cleanly (SIGINT; huey's shutdown hook, once per worker) takes its
    heartbeat away: ``status`` lists it neither alive nor DEAD."""
    if _beating["pid"] != os.getpid():
        return
    _beating["pid"] = None
    _beating["stop"].set()
    _beating["thread"].join(5)
    try:
        beats = huey.get(HEARTBEATS, peek=True) or {}
        if beats.pop(consumer_id(), None) is not None:
            huey.put(HEARTBEATS, beats)
    except Exception as exc:  # the broker is down: the heartbeat ages into DEAD, then goes
        log.warning("heartbeat not removed: %s", exc)


def consumers(huey):
    """[{host, pid, seen, age, alive}] from the heartbeats: a consumer is dead once three
    heartbeats are missing, and no longer listed DEAD_SHOWN_SECONDS after its last one (one stopped
    cleanly removes its own at once)."""
    now = broker_time(huey)
    beats = huey.get(HEARTBEATS, peek=True) or {}
    return sorted(({**v, "age": now - v["seen"], "alive": now - v["seen"] < DEAD_AFTER_SECONDS}
                   for v in beats.values() if now - v["seen"] < DEAD_SHOWN_SECONDS),
                  key=lambda v: (v["host"], v["pid"]))


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
