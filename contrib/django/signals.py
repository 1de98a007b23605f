"""Model hooks: each change is written to the change log inside the saving transaction -- by the
database's triggers where ``migrate`` installed them (triggers.py), else here -- and one wake-up
per pipeline is enqueued when that transaction commits (none if it rolls back).

Changes to the related rows a pipeline reads (``Pipeline.reads``: a category renamed, a keyword
deleted) are hooked the same way: the triggers record the affected rows, or, on the signal path,
one INSERT ... SELECT here does (``triggers.record_rows``). Writes that send no signal at all
(``update()``, raw SQL, other programs) wake consumers by themselves: wakeups.py. Code that
changed data behind solrsync's back and knows it calls ``enqueue``.

Nothing here may break the user's save: a failure to record or enqueue is logged, and the
change log row (or, failing that, the periodic full resync) brings Solr back in step."""
import atexit
import logging
import threading
import time

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import m2m_changed, post_delete, post_init, post_save, pre_delete

from . import triggers
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
    if getattr(_local, "off", 0):
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
        except Exception:
            log.exception("%s %s (pk %s): could not record the change; the next full resync will catch it",
                          pipeline.name, doc_id, instance.pk)
            return
    if op == "save":
        instance.__dict__.setdefault("_solrsync_ids", loaded)[pipeline.name] = doc_id
    _wake(pipeline.name, using, instance.pk, doc_id)


def _remember_id(pipeline, attname):
    """post_init: the document id a loaded instance has, so a save that edits it (on the signal
    path; a trigger sees OLD itself) also removes the old document. Only what was loaded is read:
    a deferred id costs no query."""
    def remember(sender, instance, **kw):
        value = instance.__dict__.get(attname)
        if value is not None and instance.pk is not None:
            instance.__dict__.setdefault("_solrsync_ids", {})[pipeline.name] = str(value)
    return remember


def _wake(pipeline_name, using, pk=None, doc_id=None):
    """Send a wake-up for this pipeline when the transaction commits."""
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
    """Wire post_save / post_delete / m2m_changed for every configured pipeline's model, and
    post_save / pre_delete for the related models its documents read."""
    for pipeline in get_pipelines().values():
        model = pipeline.model_class
        uid = "solrsync:%s" % pipeline.name

        def saved(sender, instance, using, raw=False, pipeline=pipeline, **kw):
            if not raw:  # loaddata: fixtures are indexed by a reindex, not row by row
                _note(pipeline, instance, "save", using)

        def deleted(sender, instance, using, pipeline=pipeline, **kw):
            _note(pipeline, instance, "delete", using)

        id_source = pipeline.document.id.source
        if pipeline.document.id.fn is None and id_source not in (None, "pk") and "." not in id_source:
            attname = model._meta.get_field(id_source).attname
            post_init.connect(_remember_id(pipeline, attname), sender=model, weak=False, dispatch_uid=uid + ":init")
        post_save.connect(saved, sender=model, weak=False, dispatch_uid=uid + ":save")
        post_delete.connect(deleted, sender=model, weak=False, dispatch_uid=uid + ":delete")
        for field_name in pipeline.watch_m2m:
            through = model._meta.get_field(field_name).remote_field.through
            m2m_changed.connect(_m2m_handler(pipeline, model), sender=through, weak=False,
                                dispatch_uid="%s:m2m:%s" % (uid, field_name))
        for i, dep in enumerate(triggers.dependencies(pipeline, model)):
            if dep.kind == "through":
                if dep.link.name not in pipeline.watch_m2m:
                    m2m_changed.connect(_m2m_handler(pipeline, model), sender=dep.model, weak=False,
                                        dispatch_uid="%s:m2m:%s" % (uid, dep.link.name))
                continue
            saved, deleting = _related_handlers(pipeline, dep)
            post_save.connect(saved, sender=dep.model, weak=False, dispatch_uid="%s:dep%d:save" % (uid, i))
            # before the delete: the rows still point at it (Django then sets them NULL, signal-less)
            pre_delete.connect(deleting, sender=dep.model, weak=False, dispatch_uid="%s:dep%d:delete" % (uid, i))


def _related_handlers(pipeline, dep):
    def fan_out(instance, using):
        if getattr(_local, "off", 0):
            return
        if not (dep.trigger and pipeline.name in triggers.installed(using)):  # else the triggers recorded them
            try:
                rows = pipeline.model_class._default_manager.filter(**{dep.lookup: instance})
                triggers.record_rows(pipeline, rows, using)
            except Exception:
                log.exception("%s: could not record the rows reading %s %s; the next full resync will catch "
                              "them", pipeline.name, dep.model._meta.label, instance.pk)
                return
        _wake(pipeline.name, using)

    def saved(sender, instance, using, raw=False, update_fields=None, created=False, **kw):
        # a new row: whatever points at it was recorded when it was written. A save naming only
        # columns the documents do not read (last_login) changes no document.
        if not (raw or created) and (update_fields is None or dep.fields is None or dep.fields & set(update_fields)):
            fan_out(instance, using)

    def deleting(sender, instance, using, **kw):
        fan_out(instance, using)
    return saved, deleting


def _m2m_handler(pipeline, model):
    def changed(sender, instance, action, reverse, pk_set, using, **kw):
        if action not in ("post_add", "post_remove", "post_clear", "pre_clear"):
            return
        if not reverse:
            if action != "pre_clear":
                _note(pipeline, instance, "save", using)
            return
        # the related side changed (keyword.layer_set.add(...)): every affected layer
        if pipeline.name in triggers.installed(using):
            if action != "pre_clear":  # the through table's trigger recorded them
                _wake(pipeline.name, using)
            return
        if action == "pre_clear":
            instance._solrsync_cleared = list(_reverse_rows(model, sender, instance, using))
            return
        rows = getattr(instance, "_solrsync_cleared", []) if action == "post_clear" else \
            model._default_manager.using(using).filter(pk__in=pk_set or [])
        for row in rows:
            _note(pipeline, row, "save", using)
    return changed


def _reverse_rows(model, through, related, using):
    for f in through._meta.fields:
        if f.is_relation and f.related_model is type(related):
            ids = through._default_manager.using(using).filter(**{f.name: related}).values_list(
                [g.name for g in through._meta.fields if g.is_relation and g.related_model is model][0], flat=True)
            return model._default_manager.using(using).filter(pk__in=list(ids))
    return []


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
