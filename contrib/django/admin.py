from django.contrib import admin

from .models import Change, Failure


@admin.register(Failure)
class FailureAdmin(admin.ModelAdmin):
    list_display = ("pipeline", "doc_id", "object_pk", "message", "attempts", "last_failed")
    list_filter = ("pipeline",)
    search_fields = ("doc_id", "object_pk", "message")
    actions = ["retry"]

    @admin.action(description="Retry the selected documents")
    def retry(self, request, queryset):
        from .runtime import get_syncer, get_tasks
        moved = get_syncer().changelog.retry_failures(ids=[str(f.object_pk) for f in queryset])
        for pipeline, items in moved.items():
            get_tasks().enqueue_sync(pipeline, items)
        self.message_user(request, "Re-queued %d document(s)." % sum(len(v) for v in moved.values()))


@admin.register(Change)
class ChangeAdmin(admin.ModelAdmin):
    list_display = ("seq", "pipeline", "op", "object_pk", "doc_id", "created", "leased_until", "attempts")
    list_filter = ("pipeline", "op")
