"""Model hooks: each change is written to the change log inside the saving transaction -- by the
database's triggers where ``migrate`` installed them (triggers.py), else here -- and one wake-up
per pipeline is enqueued when that transaction commits (none if it rolls back); on PostgreSQL
with triggers the change log's NOTIFY is that wake-up, and the save sends none (``_notified``).

Changes to the related rows a pipeline reads (every table on every path, graph.py: a category
renamed, a keyword deleted, a parent's row saved, a tag added) are hooked the same way: the
triggers record the affected rows, or, on the signal path, one INSERT ... SELECT here does
(``triggers.record_rows``), found by the same lookups the triggers compile. Writes that send no signal at all
(``update()``, raw SQL, other programs) wake consumers by themselves: wakeups.py. Code that
changed data behind solrsync's back and knows it calls ``enqueue``.

Nothing here may break the user's save: a failure to record or enqueue is logged, and the
change log row (or, failing that, the periodic full resync) brings Solr back in step."""
import atexit
import logging
import threading
import time

from django.apps import apps
from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_delete

from . import graph, triggers
from .runtime import get_pipelines, get_settings, get_syncer, get_tasks

log = logging.getLogger("solrsync.django")
_local = threading.local()  # .off: how many hooks_disabled blocks this thread is in


class _Batch:
    """The changes of one transaction, flushed as one task per pipeline on commit."""

    def __init__(self):
        self.changes = {}

    def add(self, pipeline, pk=None, doc_id=None):
        items = self.changes.setdefault(pipeline, {})
        if pk is not None:
            items[str(pk)] = doc_id

    def __call__(self):  # the on_commit callback
        for pipeline, items in self.changes.items():
            waker.submit(pipeline, items)


class _Waker:
    """Enqueues wake-ups off the saving thread, so a save never waits on the broker (a SQLite
    queue commit costs a millisecond or more). Wake-ups arriving within MERGE_SECONDS of each
    other go out as one task per pipeline: enqueueing costs ~0.1 ms of this process's CPU, which
    one task per save would take from the saving threads. The consumer waits COALESCE_MS for a
    burst to settle anyway. What a dying process had not sent yet is still in the change log:
    the sweeper, or the next consumer start, pushes it; at a normal exit the rest is flushed."""

    MERGE_SECONDS = 0.02

    def __init__(self):
        self.lock = threading.Lock()
        self.waiting = {}                 # pipeline -> {pk: doc_id}, under lock
        self.idle = True                  # under lock: no turn of the thread is due
        # set once per turn; an Event, not a lock used as a semaphore: a flush() from another thread
        # (atexit, a test) racing the thread's own made that lock be released twice (RuntimeError)
        self.signal = threading.Event()
        self.thread = None

    def submit(self, pipeline, items):
        tasks = get_tasks()
        if get_settings().ENQUEUE == "inline" or tasks.huey.immediate:
            tasks.enqueue_sync(pipeline, list(items.items()))
            return
        with self.lock:
            self.waiting.setdefault(pipeline, {}).update(items)
            wake, self.idle = self.idle, False
            thread = self.thread
            if thread is None or not thread.is_alive():  # also after a fork
                thread = self.thread = threading.Thread(target=self._run, name="solrsync-waker", daemon=True)
                thread.start()
        if wake:
            self.signal.set()

    def _run(self):
        while True:
            self.signal.wait()
            self.signal.clear()
            time.sleep(self.MERGE_SECONDS)
            self.flush()

    def flush(self):
        with self.lock:
            waiting, self.waiting = self.waiting, {}
            self.idle = True  # a turn still signalled finds nothing and ends
        for pipeline, items in waiting.items():
            try:
                get_tasks().enqueue_sync(pipeline, list(items.items()))
            except Exception:
                log.exception("solrsync: wake-up for %s failed; the sweeper will pick the changes up", pipeline)


waker = _Waker()
atexit.register(waker.flush)


def _note(pipeline, instance, op, using):
    if getattr(_local, "off", 0) or pipeline.name not in get_pipelines():  # a hook of settings since replaced
        return
    if _notified(pipeline.name, using):  # the trigger recorded it, the change log's NOTIFY wakes: nothing to do
        return
    doc_id = pipeline.document.doc_id(instance)
    loaded = instance.__dict__.get("_solrsync_ids", {})
    before = loaded.get(pipeline.name)
    if pipeline.name not in triggers.installed(using):
        try:
            # no savepoint around it (two more round trips per save): once `migrate` has created the
            # table (Django warns about unapplied migrations), what fails here fails the save's own query too
            get_syncer().changelog.record(pipeline.name, instance.pk, doc_id, op, using=using)
            if before is not None and before != doc_id:  # the id was edited: the old document must go
                get_syncer().changelog.record(pipeline.name, instance.pk, before, op, using=using)
        except Exception as exc:
            log.exception("%s %s (pk %s): could not record the change; it is kept as a failure record "
                          "(`solrsync failures`, `solrsync retry`), and the next full resync catches it too",
                          pipeline.name, doc_id, instance.pk)
            _file_miss(pipeline.name, instance.pk, doc_id, exc, using)
            return
    if op == "save":
        instance.__dict__.setdefault("_solrsync_ids", loaded)[pipeline.name] = doc_id
    _wake(pipeline.name, using, instance.pk, doc_id)


def _file_miss(pipeline_name, pk, doc_id, exc, using):
    """A change that could not be recorded is never silent: once the save commits, a failure record
    names it (``solrsync failures``; ``solrsync retry`` or ``reindex --verify --fix`` re-index it)."""
    def file():
        try:
            get_syncer().changelog.record_failures(pipeline_name, [(pk, doc_id, "the change was not recorded: %s: %s"
                                                                    % (type(exc).__name__, exc))])
        except Exception as again:
            log.error("%s %s (pk %s): could not keep the failure record either: %s", pipeline_name, doc_id, pk, again)
    transaction.on_commit(file, using=using)


def _remember_id(pipeline, attname):
    """post_init: the document id a loaded instance has, so a save that edits it (on the signal
    path; a trigger sees OLD itself) also removes the old document. Only what was loaded is read:
    a deferred id costs no query."""
    def remember(sender, instance, **kw):
        value = instance.__dict__.get(attname)
        if value is not None and instance.pk is not None:
            instance.__dict__.setdefault("_solrsync_ids", {})[pipeline.name] = str(value)
    return remember


def _notified(pipeline_name, using):
    """Will the consumers be woken for this pipeline's changes on ``using`` without us? On
    PostgreSQL with the pipeline's triggers installed, every row written into the change log --
    by a trigger, by ``enqueue`` -- NOTIFYs at commit (none on rollback), and each consumer
    LISTENs (wakeups.py; psycopg 3.2+). A wake-up sent from here too was a second one for the
    same commit: ~30 us of the save's Python (the on_commit callback, the waker) and a queue
    write per 20 ms, for nothing (issue 22: the save path). Not when the queue runs tasks in the
    saving process (inline, immediate): there the wake-up is the drain."""
    if pipeline_name not in triggers.installed(using) or not _listens[0]:
        return False
    if connections[using].vendor != "postgresql" or get_settings().ENQUEUE == "inline":
        return False
    return not get_tasks().huey.immediate and get_syncer().changelog.using == using


def _listening():
    try:
        import psycopg  # an optional dependency (the consumers' driver): LISTEN needs Connection.notifies (3.2+); psycopg2 polls
    except ImportError:
        return False
    return callable(getattr(psycopg.Connection, "notifies", None))


_listens = [_listening()]


def _wake(pipeline_name, using, pk=None, doc_id=None):
    """Send a wake-up for this pipeline when the transaction commits (unless the database does)."""
    if _notified(pipeline_name, using):
        return
    conn = transaction.get_connection(using)
    batch = getattr(conn, "_solrsync_batch", None)
    # one batch per transaction: reuse ours while it is still waiting in this connection's
    # on_commit list (a rollback empties that list, so the next transaction starts afresh)
    if batch is None or not any(entry[1] is batch for entry in conn.run_on_commit):
        batch = _Batch()
        conn._solrsync_batch = batch
        batch.add(pipeline_name, pk, doc_id)
        transaction.on_commit(batch, using=using)  # outside a transaction this runs at once
    else:
        batch.add(pipeline_name, pk, doc_id)


def enqueue(pipeline, objects, using=None):
    """Re-index ``objects`` -- a queryset of the pipeline's model, or primary keys -- for code that
    changed them behind solrsync's back (a write no trigger sees: another database, a pipeline on
    the signal path). Recorded in the change log in one statement, pushed like a save: when the
    current transaction commits. Rows that are gone are not found: ``reindex --prune`` removes
    their documents."""
    p = get_pipelines()[pipeline]
    qs = objects if isinstance(objects, QuerySet) else p.model_class._default_manager.filter(pk__in=list(objects))
    using = using or qs.db
    triggers.record_rows(p, qs, using)
    _wake(p.name, using)


def connect():
    """Wire post_save / post_delete for every configured pipeline's model, and, for every table on
    every path its documents read (graph.py), post_save / pre_delete of its model and m2m_changed of
    its many-to-many and taggit through models."""
    for pipeline in get_pipelines().values():
        model = pipeline.model_class
        uid = "solrsync:%s" % pipeline.name

        def saved(sender, instance, using, raw=False, pipeline=pipeline, **kw):
            if not raw:  # loaddata: fixtures are indexed by a reindex, not row by row
                _note(pipeline, instance, "save", using)

        def deleted(sender, instance, using, pipeline=pipeline, **kw):
            _note(pipeline, instance, "delete", using)

        # a proxy's rows are its concrete model's; a child's save (Restaurant) is a save of its
        # parent's row (Place) too, and sends post_save for the child only
        own = [model] + ([model._meta.concrete_model] if model._meta.proxy else [])
        own += [m for m in apps.get_models() if m not in own and issubclass(m, model._meta.concrete_model)]
        id_source = pipeline.document.id.source
        if pipeline.document.id.fn is None and id_source not in (None, "pk") and "." not in id_source:
            attname = model._meta.get_field(id_source).attname
            for m in own:
                post_init.connect(_remember_id(pipeline, attname), sender=m, weak=False,
                                  dispatch_uid="%s:init:%s" % (uid, m._meta.label))
        for m in own:
            post_save.connect(saved, sender=m, weak=False, dispatch_uid="%s:save:%s" % (uid, m._meta.label))
            post_delete.connect(deleted, sender=m, weak=False, dispatch_uid="%s:delete:%s" % (uid, m._meta.label))
        g = graph.Graph(pipeline, model)
        for name in pipeline.watch_m2m:
            g._walk(name)
        throughs = {through for through, _, _ in g.m2m}
        for through, membership, related in g.m2m:
            m2m_changed.connect(_m2m_handler(pipeline, membership, related), sender=through, weak=False,
                                dispatch_uid="%s:m2m:%s:%s" % (uid, through._meta.label, membership.lookup))
        for i, way in enumerate(g.ways.values()):
            if way.model in throughs and way.model._meta.auto_created:
                continue  # an auto-created through model sends m2m_changed only
            senders = [way.model] + [m for m in apps.get_models() if m is not way.model and issubclass(m, way.model)
                                     and (not way.parent or m._meta.proxy)]
            saved_, deleting, init = _related_handlers(pipeline, way)
            for m in senders:
                label = "%s:dep%d:%s" % (uid, i, m._meta.label)
                post_save.connect(saved_, sender=m, weak=False, dispatch_uid=label + ":save")
                # before the delete: the rows still point at it (Django then sets them NULL, signal-less)
                pre_delete.connect(deleting, sender=m, weak=False, dispatch_uid=label + ":delete")
                if init is not None:
                    post_init.connect(init, sender=m, weak=False, dispatch_uid=label + ":init")


def _rows_of(pipeline, way, values, using):
    """The pipeline's rows reading the rows whose ``way.column`` holds one of ``values``."""
    values = [v for v in values if v is not None]
    if way.target is not None:  # a generic object id: compared as what it stores
        values = [str(v) for v in values]
    return pipeline.model_class._base_manager.db_manager(using).filter(**{way.lookup + "__in": values},
                                                                       **way.filters(using))


def _record(pipeline, rows, using, what, one_row=False):
    """Record the pipeline's ``rows()`` reading a changed row, and wake a consumer when there are
    any. ``one_row``: the way back is a key lookup, so with triggers (which recorded them) it is
    worth one indexed query to wake no consumer for another model's row (a Map's tag, seen by the
    layers)."""
    if getattr(_local, "off", 0) or pipeline.name not in get_pipelines():  # a hook of settings since replaced
        return
    if _notified(pipeline.name, using):  # the triggers recorded them and the NOTIFY wakes
        return
    if pipeline.name not in triggers.installed(using):  # else the triggers recorded them
        try:
            if not triggers.record_rows(pipeline, rows(), using):
                return
        except Exception:
            log.exception("%s: could not record the rows reading %s; the next full resync will catch them",
                          pipeline.name, what)
            return
    elif one_row and not rows().exists():
        return
    _wake(pipeline.name, using)


def _content_types(way):
    # Django app loading: importable only in a project with contenttypes installed
    from django.contrib.contenttypes.models import ContentType
    if not way.content_types:
        return None
    return {ContentType.objects.get_by_natural_key(a, m).pk for a, m in way.content_types}


def _related_handlers(pipeline, way):
    attname = way.attname()
    ct_attname = None
    if way.ct_column:
        ct_attname = next(f.attname for f in way.model._meta.concrete_fields if f.column == way.ct_column)
    columns = way.columns
    watched = None if columns is None else {f.name for f in way.model._meta.concrete_fields if f.column in columns} | {
        f.attname for f in way.model._meta.concrete_fields if f.column in columns}

    def counts(instance):
        return ct_attname is None or getattr(instance, ct_attname) in _content_types(way)

    def fan_out(instance, using, values):
        if counts(instance):
            _record(pipeline, lambda: _rows_of(pipeline, way, values, using), using,
                    "%s %s" % (way.model._meta.label, instance.pk), one_row=not way.forward)

    def saved(sender, instance, using, raw=False, update_fields=None, created=False, **kw):
        # a new row reached by its own key: whatever points at it was recorded when it was
        # written. A save naming only columns the documents do not read (last_login) changes no document.
        if raw or (created and way.forward) or (watched is not None and not watched and not created):
            return
        if update_fields is not None and watched is not None and not watched & set(update_fields):
            return
        values = {getattr(instance, attname)}
        was = instance.__dict__.get("_solrsync_was", {}).get(attname)
        if was is not None:  # moved from one row to another (a chapter to another article): both
            values.add(was)
        fan_out(instance, using, values)
        if not way.forward:
            instance.__dict__.setdefault("_solrsync_was", {})[attname] = getattr(instance, attname)

    def deleting(sender, instance, using, **kw):
        fan_out(instance, using, {getattr(instance, attname)})

    init = None
    if not way.forward:
        def init(sender, instance, **kw):
            value = instance.__dict__.get(attname)
            if value is not None:
                instance.__dict__.setdefault("_solrsync_was", {})[attname] = value
    return saved, deleting, init


def _m2m_handler(pipeline, membership, related):
    """m2m_changed of a through model (taggit's tag add/remove/set/clear too): the rows on this
    pipeline's side are found by the membership way -- a Map tagged records nothing for layers."""
    def changed(sender, instance, action, reverse, pk_set, using, model=None, **kw):
        if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
            return
        what = "%s %s" % (type(instance)._meta.label, instance.pk)
        if not isinstance(instance, related.model):  # a row of our side: it (if it is one of ours)
            model = pipeline.model_class
            if membership.lookup == "pk" and not (isinstance(instance, model) or issubclass(model, type(instance))):
                return  # a sibling's (a Map's keywords for the layers): none of ours, nothing to wake
            if action != "pre_clear":
                _record(pipeline, lambda: _rows_of(pipeline, membership, [instance.pk], using), using, what)
            return
        # the related side changed (keyword.layer_set.add(...), a region's clear): every affected row
        base = pipeline.model_class._base_manager.db_manager(using)
        if action == "pre_clear":
            instance._solrsync_cleared = list(_rows_of(pipeline, related, [instance.pk], using)
                                              .values_list("pk", flat=True))
        elif action == "post_clear":
            keys = getattr(instance, "_solrsync_cleared", [])
            _record(pipeline, lambda: base.filter(pk__in=keys), using, what)
        else:
            _record(pipeline, lambda: _rows_of(pipeline, membership, list(pk_set or []), using), using, what)
    return changed


class hooks_disabled:
    """``with hooks_disabled(): ...`` -- bulk loads that a reindex will index anyway: no signal
    hook runs in this thread, and the triggers record nothing for this thread's connection to
    ``using``. Other threads keep capturing; blocks nest (a counter, not a flag)."""

    def __init__(self, using="default"):
        self.capture_off = triggers.capture_off(using)

    def __enter__(self):
        _local.off = getattr(_local, "off", 0) + 1
        self.capture_off.__enter__()

    def __exit__(self, *exc):
        _local.off -= 1
        self.capture_off.__exit__(*exc)
