"""At most one wake-up per pipeline in the queue (issue 25: one task per save, plus one per consumer's
NOTIFY listener, piled up without bound at 25 saves/s).

A gate per pipeline, a key in the queue's own storage (huey's kv: Redis, SQLite, memory), is held
from the moment a wake-up is enqueued until its drain finds nothing left to claim. A wake-up that
finds the gate held -- a task already queued, or a drain running -- is merged: it enqueues nothing,
because the holder drains every change recorded before it lets go. The holder lets go first and
looks at the change log after: a change recorded before that look is drained by the holder (it
takes the gate again), one recorded after it finds the gate free and enqueues. A holder that died
(a consumer SIGKILLed) leaves a gate behind: it is taken over once STALE_SECONDS have passed since
its holder last said it was alive (each drain round says so); a wake-up still queued QUEUED_SECONDS
after it was sent (a message lost with a vanished host, a queue busy with rebuild ranges) is
presumed lost and another is sent -- at most one per QUEUED_SECONDS per pipeline.
"""
import logging
import os
import time
import uuid

log = logging.getLogger("solrsync.queue")
STALE_SECONDS = 120.0
QUEUED_SECONDS = 10.0


def _key(pipeline):
    return "solrsync:gate:%s" % pipeline


class DrainGate:
    def __init__(self, huey, stale_seconds=None):
        self.huey = huey
        self.stale = STALE_SECONDS if stale_seconds is None else stale_seconds
        self.merged = 0  # wake-ups this process merged into a held gate (for tests and metrics)

    def acquire(self, pipeline, until=None):
        """-> a token when this caller now holds the gate (it must enqueue or run the drain), or
        None when it is held (the wake-up is merged). A gate older than its ``until`` or
        STALE_SECONDS is taken over."""
        token = "%s:%s" % (os.getpid(), uuid.uuid4().hex[:12])
        now = time.time()
        value = {"token": token, "at": now, "until": until or now + min(self.stale, QUEUED_SECONDS)}
        if self.huey.put_if_empty(_key(pipeline), value):
            return token
        held = self.huey.get(_key(pipeline), peek=True)
        if held and held.get("until", 0) > now:
            self.merged += 1
            return None
        if held:
            log.warning("%s: the drain gate held since %.0fs ago by %s was not renewed (its consumer died?); "
                        "taken over", pipeline, now - held.get("at", now), held.get("token"))
            self.huey.get(_key(pipeline))  # pop the stale one
        return token if self.huey.put_if_empty(_key(pipeline), value) else None

    def renew(self, pipeline, token, seconds=None):
        """The holder is alive: the gate stays its own for ``seconds`` (STALE_SECONDS) more."""
        now = time.time()
        self.huey.put(_key(pipeline), {"token": token, "at": now, "until": now + (seconds or self.stale)})

    def release(self, pipeline, token):
        """Let go of the gate, if it is still this holder's."""
        held = self.huey.get(_key(pipeline), peek=True)
        if held and held.get("token") == token:
            self.huey.get(_key(pipeline))

    def clear(self, pipeline):
        """Forget the gate, whoever holds it (``queue purge``: its task is gone)."""
        self.huey.get(_key(pipeline))

    def held(self, pipeline):
        return self.huey.get(_key(pipeline), peek=True)
