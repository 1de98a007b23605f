from django.apps import AppConfig


class SolrsyncConfig(AppConfig):
    name = "solrsync.contrib.django"
    label = "solrsync"
    verbose_name = "Solr sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Read and check the settings now: a broken SOLRSYNC stops start-up with one line
        # naming the setting, rather than saves going unrecorded.
        from . import runtime, signals
        runtime.get_settings()
        signals.connect()
        from django.core import checks
        checks.register(check_change_log, checks.Tags.database)


def check_change_log(app_configs=None, databases=None, **kwargs):
    """The hooks write to solrsync_change in every save: make sure the table is there."""
    from django.core import checks
    from django.db import connections, router
    from .models import Change
    errors = []
    for alias in databases or []:
        if not router.allow_migrate_model(alias, Change):
            continue
        try:
            tables = connections[alias].introspection.table_names()
        except Exception:  # the database itself is down: Django reports that
            continue
        if Change._meta.db_table not in tables:
            errors.append(checks.Error("solrsync's change log table is missing on database %r" % alias,
                                       hint="run: python manage.py migrate solrsync", id="solrsync.E001"))
    return errors
