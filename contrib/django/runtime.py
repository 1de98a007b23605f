"""solrsync assembled for this Django project: settings read once, pipelines bound to models,
the Syncer, and the huey tasks. ``get_syncer()`` is what tasks, signals and commands use."""
import functools
import sys
import threading

from django.apps import apps
from django.conf import settings as django_settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connections, router

from solrsync import metrics
from solrsync.config import ConfigError, load_settings
from solrsync.pipelines import load_pipelines
from solrsync.queue import check_consumer as check_signed, make_huey
from solrsync.reindex import reindex
from solrsync.sync import Syncer
from solrsync.tasks import register_tasks

from . import triggers, wakeups
from .graph import Graph
from .models import Change
from .source import DjangoSource
from .store import DjangoChangeLog

_lock = threading.RLock()  # one first build of each piece, whichever thread asks first (a wake-up flushes from its own)
_state = {}


def get_settings():
    """SOLRSYNC (dict) + SOLRSYNC_* environment, validated; ImproperlyConfigured names the setting."""
    if "settings" not in _state:
        try:
            _state["settings"] = load_settings(getattr(django_settings, "SOLRSYNC", {}))
        except ConfigError as exc:
            raise ImproperlyConfigured("SOLRSYNC: %s" % exc) from None
    return _state["settings"]


def get_pipelines():
    if "pipelines" not in _state:
        sources, problems = {}, []
        try:
            pipelines = load_pipelines(get_settings())
            for p in pipelines.values():
                try:
                    p.model_class = apps.get_model(p.model)
                except (LookupError, ValueError):
                    raise ConfigError("PIPELINES", "pipeline %s: model %r is not installed" % (p.name, p.model))
                sources[p.name] = DjangoSource(p, p.model_class)
                problems += p.problems(sources[p.name])
            if problems:
                raise ConfigError("PIPELINES", "; ".join(problems))
        except ConfigError as exc:
            error = ImproperlyConfigured("SOLRSYNC: %s" % exc)
            error.problems = problems or [str(error)]  # one system check error each
            raise error from None
        _state["sources"] = sources
        _state["pipelines"] = pipelines
    return _state["pipelines"]


def check(app_configs=None, **kwargs):
    """The system check (``manage.py check``, and before runserver and migrate): settings and every
    name the pipelines declare, checked against the models."""
    try:
        get_pipelines()
    except ImproperlyConfigured as exc:
        return [Error(problem, hint="the solrsync commands and the consumer refuse to run until this is fixed",
                      id="solrsync.E001") for problem in getattr(exc, "problems", [str(exc)])]
    return [Warning("pipeline %s: %s" % (name, what), hint="give the field depends=[...] (the paths it reads)",
                    id="solrsync.W001")
            for name, p in get_pipelines().items() for what in Graph(p, p.model_class).unfollowed]


def check_journal(app_configs=None, databases=None, **kwargs):
    """A database check (``manage.py check --database default``, and before migrate): the change
    log's SQLite database in its rollback journal, where a consumer's reads hold other users'
    commits back (their saves' p99 56 ms against 24 ms in WAL mode: BENCHMARKS.md)."""
    alias = router.db_for_write(Change)
    conn = connections[alias]
    if alias not in (databases or ()) or conn.vendor != "sqlite" or conn.is_in_memory_db():
        return []
    with conn.cursor() as cur:
        mode = cur.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() == "wal":
        return []
    return [Warning("database %r (SQLite) is in journal mode %r: while a consumer reads, other users' saves wait "
                    "for it" % (alias, mode),
                    hint="put it in WAL mode once: python manage.py shell -c \"from django.db import connection; "
                         "connection.cursor().execute('PRAGMA journal_mode=WAL')\"", id="solrsync.W002")]


def get_syncer():
    with _lock:
        if "syncer" not in _state:
            pipelines = get_pipelines()
            _state["syncer"] = Syncer(get_settings(), pipelines, _state["sources"], DjangoChangeLog(pipelines=pipelines),
                                     metrics=metrics.for_pipeline)
        return _state["syncer"]


def get_huey():
    """The project's huey: settings.HUEY (a Huey, or djhuey's dict form), else one from QUEUE_URL.

    Set ``HUEY = solrsync.queue.huey_for(SOLRSYNC)`` in settings.py: djhuey reads settings.HUEY
    when Django imports it, before any app is ready, so only settings.py can choose it."""
    with _lock:
        if "huey" not in _state:
            huey = getattr(django_settings, "HUEY", None)
            if huey is None and not apps.is_installed("huey.contrib.djhuey"):
                huey = make_huey(get_settings())
            elif huey is None or isinstance(huey, dict):
                # Django app loading: djhuey builds its Huey from settings.HUEY when imported, so only if installed
                from huey.contrib.djhuey import HUEY as huey
            _state["huey"] = huey
        return _state["huey"]


def get_tasks():
    with _lock:  # two threads registering the tasks on one Huey: huey refuses the second (ValueError)
        if "tasks" not in _state:
            _state["tasks"] = register_tasks(get_huey(), get_settings(), get_syncer, wrap=close_db,
                                             resync=resync,
                                             watch=lambda wake: wakeups.watch(get_syncer(), wake))
        return _state["tasks"]


def resync(name):
    """The periodic full resync of one pipeline (RESYNC_CRONTAB): a pruning reindex, its ranges run
    by every consumer when RESYNC_VIA_QUEUE is set; its progress published for the metrics."""
    progress = metrics.RebuildProgress(get_huey(), name, get_syncer().sources[name].count())
    try:
        return reindex(get_syncer(), name, prune=True, on_batch=progress,
                       via_queue=get_tasks() if get_settings().RESYNC_VIA_QUEUE else None)
    finally:
        progress.close()


def get_metrics():
    """The Prometheus registry the view serves: this process's counters and the state gauges."""
    if "metrics" not in _state:
        # no close_db here: the request's own connection handling applies (closing it inside a view
        # would break ATOMIC_REQUESTS); consumers' ports pass close_db, each scrape a thread of its own
        _state["metrics"] = metrics.registry(get_syncer, get_tasks().huey)
    return _state["metrics"]


def check_consumer():
    """In a consumer process: refuse unsigned messages unless the settings allow them; a broken
    pipeline stops the consumer now, not at its first task. Either ends the process with one line
    and exit status 2: this runs while the consumer imports its tasks, where whatever escapes is
    printed as a traceback (huey_consumer, run_huey)."""
    try:
        huey = get_huey()
        get_pipelines()
        if not huey.immediate:
            check_signed(huey, get_settings())
    except (ConfigError, ImproperlyConfigured) as exc:
        message = str(exc)
        print(message if message.startswith("SOLRSYNC: ") else "SOLRSYNC: %s" % message, file=sys.stderr)
        raise SystemExit(2) from None


def close_db(fn):
    """What djhuey's db_task does: no stale connection survives between tasks."""

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()
    return inner


def reset():
    """Forget everything read (tests that change settings)."""
    with _lock:
        _state.clear()
    triggers.forget()


triggers.assemble(get_pipelines, get_settings)
