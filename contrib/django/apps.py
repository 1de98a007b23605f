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
