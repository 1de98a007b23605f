"""The queue: a Huey instance from QUEUE_URL (``huey_for`` in settings.py, ``make_huey``), its
messages signed. solrsync's tasks are registered on it by tasks.py; the consumers it serves are
fleet.py's.
"""
import logging
import os
import sys

from huey import Huey
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from huey.serializer import SignedSerializer

from .config import ConfigError, load_settings

log = logging.getLogger("solrsync.queue")


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
        path = url[len("sqlite:///"):]
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):  # else sqlite3's "unable to open database file", deep in a traceback
            raise ConfigError("QUEUE_URL", "%r: the folder %s does not exist%s" % (
                url, folder, "" if os.path.isabs(path) else
                " (a relative path is taken from the working directory: give web and consumers one absolute path)"))
        return QueueHuey(name, filename=path, storage_class=QueueStorage, **kw)
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


def huey_for(values=None):
    """For Django's settings.py: ``HUEY = huey_for(SOLRSYNC)`` -- the queue QUEUE_URL names, so
    ``manage.py run_huey`` and ``huey_consumer`` run solrsync's tasks on it.

    A bad setting ends the program here, with one line and exit status 2: settings.py is imported
    before any command runs, and Django prints whatever escapes it as a traceback."""
    try:
        return make_huey(load_settings(values))
    except ConfigError as exc:
        print("solrsync: %s" % exc, file=sys.stderr)
        raise SystemExit(2)
