"""The monitoring page (the Failure changelist: sync status per pipeline on top, Solr's message
per failed document, a retry action) and ``reindex_now``, an action for your models' admins."""
from django.contrib import admin, messages

from solrsync.cli import collect_status

from .models import Change, Failure
from .runtime import get_pipelines, get_syncer, get_tasks
from .signals import waker


def _wake(moved):
    for pipeline, items in moved.items():
        waker.submit(pipeline, {str(pk): doc_id for pk, doc_id in items})


@admin.register(Failure)
class FailureAdmin(admin.ModelAdmin):
    list_display = ("doc_id", "pipeline", "object_pk", "message", "attempts", "last_failed")
    list_filter = ("pipeline",)
    search_fields = ("doc_id", "object_pk", "message")
    actions = ["retry"]
    change_list_template = "admin/solrsync/failure/change_list.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected documents", permissions=["view"])
    def retry(self, request, queryset):
        moved = get_syncer().changelog.retry_failures(ids=[str(f.object_pk) for f in queryset])
        _wake(moved)
        self.message_user(request, "Re-queued %d document(s)." % sum(len(v) for v in moved.values()))

    def changelist_view(self, request, extra_context=None):
        try:
            status = collect_status(get_syncer(), get_tasks().huey)
        except Exception as exc:  # the page must open even when Solr or the broker is down
            status = {"error": str(exc), "pipelines": {}}
        return super().changelist_view(request, dict(extra_context or {}, solrsync_status=status))


@admin.register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = ("seq", "pipeline", "op", "object_pk", "doc_id", "created", "leased_until", "attempts")
    list_filter = ("pipeline", "op")

    def has_add_permission(self, request):
        return False


@admin.action(description="Reindex the selected objects in Solr now")
def reindex_now(modeladmin, request, queryset):
    """Add to a pipeline model's admin: ``actions = [reindex_now]``. The rows go through the change
    log, so the request returns at once and nothing is lost if Solr is down."""
    model = queryset.model
    names = [p.name for p in get_pipelines().values() if p.model_class is model]
    if not names:
        modeladmin.message_user(request, "No solrsync pipeline indexes %s." % model._meta.label, messages.WARNING)
        return
    changelog = get_syncer().changelog
    rows = list(queryset)
    moved = {}
    for name in names:
        doc = get_pipelines()[name].document
        items = [(row.pk, doc.doc_id(row)) for row in rows]
        changelog.requeue(name, items)
        moved[name] = items
    _wake(moved)
    modeladmin.message_user(request, "Queued %d object(s) for reindexing." % len(rows))
