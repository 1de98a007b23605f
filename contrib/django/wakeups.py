"""Wake-ups for changes no Django signal announced: ``QuerySet.update()``, ``bulk_create``, raw
SQL, another program, a related row renamed -- recorded by the triggers, and pushed within
COMMIT_WITHIN_MS + 1 s like a save, instead of waiting for the sweeper.

Each consumer process runs ``watch`` in a thread (solrsync.fleet.start_watch); the saving
processes do nothing more. PostgreSQL: every change-log row NOTIFYs ``solrsync`` with the
pipeline's name at commit -- from the row trigger that wrote it, or the change log's statement
trigger for a statement no trigger ran (triggers.py) -- and the consumer LISTENs (a notification
costs the writer a few microseconds). Elsewhere (SQLite): the consumer looks at the change
log's newest row every POLL_SECONDS -- ``PRAGMA data_version`` first, which tells without
reading a page whether another connection has committed at all.
"""
import logging
import time

from django.db import connections

from .models import Change
from .triggers import CHANNEL

log = logging.getLogger("solrsync.django")
POLL_SECONDS = 0.2
MERGE_SECONDS = 0.02


def watch(syncer, wake):
    """Block forever, calling ``wake({pipeline, ...})`` when changes are recorded in ``syncer``'s
    change log."""
    using, names = syncer.changelog.using, set(syncer.pipelines)
    conn = connections[using]
    if conn.vendor == "postgresql":
        raw = conn.get_new_connection(conn.get_connection_params())
        if callable(getattr(raw, "notifies", None)):  # psycopg 3.2+; psycopg2 polls below
            return _listen(raw, wake, names)
        raw.close()
    return _poll(using, wake, names)


def _listen(raw, wake, names):
    try:
        raw.autocommit = True
        raw.execute("LISTEN %s" % CHANNEL)
        wake(names)  # whatever was recorded before we listened
        while True:
            got = {n.payload for n in raw.notifies(timeout=5.0, stop_after=1)}
            if got:  # a burst: take what else arrives within MERGE_SECONDS, wake once per pipeline
                got.update(n.payload for n in raw.notifies(timeout=MERGE_SECONDS))
                wake(got & names)
    finally:
        raw.close()


def _poll(using, wake, names):
    conn = connections[using]
    seen, version = None, None
    try:
        while True:
            if conn.vendor == "sqlite":
                with conn.cursor() as cur:
                    cur.execute("PRAGMA data_version")
                    now = cur.fetchone()[0]
                changed, version = now != version, now
            else:
                changed = True
            if changed:
                newest = Change.objects.using(using).order_by("-seq").values_list("seq", "created").first()
                # SQLite reuses the sequence numbers of deleted rows: a newer stamp is new too
                if newest is not None and (seen is None or newest[0] > seen[0] or newest[1] > seen[1]):
                    wake(names)
                seen = newest
            time.sleep(POLL_SECONDS)
    finally:
        conn.close()
