from django.contrib import admin

from solrsync.contrib.django.admin import reindex_now

from .models import Category, Keyword, Layer, Region


@admin.register(Layer)
class LayerAdmin(admin.ModelAdmin):
    list_display = ("title", "name", "category", "owner", "is_published", "last_updated")
    list_filter = ("is_published", "category")
    search_fields = ("title", "name", "uuid")
    filter_horizontal = ("keywords", "regions")
    actions = [reindex_now]


admin.site.register([Category, Keyword, Region])
