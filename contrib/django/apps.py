from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


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
        pre_migrate.connect(drop_triggers, sender=self, dispatch_uid="solrsync:pre_migrate")
        post_migrate.connect(install_triggers, sender=self, dispatch_uid="solrsync:post_migrate")


def drop_triggers(using, **kw):
    # SQLite rebuilds a table to alter it, and a trigger naming a table being rebuilt can make
    # that fail; PostgreSQL keeps them through ALTER TABLE (and post_migrate replaces them atomically)
    from django.db import connections
    from . import triggers
    if connections[using].vendor == "sqlite":
        triggers.uninstall(using)


def install_triggers(using, verbosity=1, **kw):
    from .runtime import get_pipelines, get_settings
    from . import triggers
    skipped = triggers.install(get_pipelines(), using, get_settings().CAPTURE)
    if verbosity >= 2:
        for name in get_pipelines():
            print("  solrsync: pipeline %s: %s" % (
                name, "changes recorded by triggers" if name not in skipped
                else "changes recorded by signals (%s)" % skipped[name]))
