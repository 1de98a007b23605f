from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import connections
from django.db.models.signals import post_migrate, pre_migrate


class SolrsyncConfig(AppConfig):
    name = "solrsync.contrib.django"
    label = "solrsync"
    verbose_name = "Solr sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Settings and pipelines (every name they declare, against the models) are checked now, but
        # a problem is not raised from here: Django would print it as a traceback before any command
        # could say it in one line. It is a system check error (manage.py check, and before runserver
        # and migrate) and ImproperlyConfigured on first use: the solrsync commands (one line, exit 2)
        # and the consumer refuse to run. Meanwhile the database's triggers keep recording changes.
        from . import runtime, signals  # Django app loading: they import the models, ready only now
        checks.register(runtime.check, "solrsync")
        checks.register(runtime.check_journal, "solrsync", checks.Tags.database)
        try:
            runtime.get_pipelines()
        except ImproperlyConfigured:
            pass
        else:
            signals.connect()
        pre_migrate.connect(guard_migrations, sender=self, dispatch_uid="solrsync:pre_migrate")
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="solrsync:post_migrate")


NOT_CAPTURED = "QuerySet.update(), bulk_create(), raw SQL and other programs' writes are not captured"


def guard_migrations(using, **kw):
    """Each migration replaces the triggers inside its own transaction, at its end: a migration
    that rebuilds a table (SQLite does, to alter one) or drops one never commits a schema without
    them, and one that fails rolls back to the previous triggers."""
    conn = connections[using]
    if conn.vendor not in ("postgresql", "sqlite") or getattr(conn, "_solrsync_guarded", False):
        return
    conn.SchemaEditorClass = _guarded(type(conn).SchemaEditorClass, using)
    conn._solrsync_guarded = True


def _guarded(base, using):
    from . import triggers  # Django app loading: triggers and runtime import the models
    from .runtime import get_pipelines, get_settings

    class Editor(base):
        def __enter__(self):
            editor = super().__enter__()
            if self.atomic_migration and self.connection.vendor == "sqlite":
                # SQLite refuses to rename a rebuilt table while a trigger names it: drop them here,
                # inside the migration's transaction; __exit__ puts them back before it commits
                triggers.uninstall(using)
            return editor

        def __exit__(self, exc_type, exc_value, traceback):
            if exc_type is None and self.atomic_migration:
                for sql in self.deferred_sql:  # what super() would run first: indexes, constraints
                    self.execute(sql)
                self.deferred_sql = []
                _install(triggers, get_pipelines(), using, get_settings().CAPTURE)
            return super().__exit__(exc_type, exc_value, traceback)
    return Editor


def install_triggers(using, verbosity=1, **kw):
    from . import triggers  # Django app loading: triggers and runtime import the models
    from .runtime import get_pipelines, get_settings
    skipped = _install(triggers, get_pipelines(), using, get_settings().CAPTURE)
    if verbosity < 1:
        return
    plans, _ = triggers.plan(get_pipelines(), using, get_settings().CAPTURE)
    for name in get_pipelines():
        if name in skipped:
            print("  solrsync: pipeline %s: changes recorded by signals (%s); %s" % (name, skipped[name], NOT_CAPTURED))
        elif verbosity >= 2:
            print("  solrsync: pipeline %s: changes recorded by triggers" % name)
    for name, p in get_pipelines().items():
        for what in triggers.Graph(p, p.model_class).unfollowed:
            print("  solrsync: pipeline %s: %s" % (name, what))
    if verbosity >= 2:
        for tp in plans:
            for w in tp.ways:
                print("  solrsync: pipeline %s: changes to %s recorded by triggers" % (tp.name, w.describe()))


def _install(triggers, pipelines, using, mode):
    """triggers.install, with a trigger the database could not run refused in one line (exit 2)."""
    try:
        return triggers.install(pipelines, using, mode)
    except triggers.Broken as exc:
        raise CommandError(str(exc), returncode=2) from None
