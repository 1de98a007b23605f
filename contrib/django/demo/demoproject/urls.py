from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls),
               path("solrsync/", include("solrsync.contrib.django.urls"))]  # /solrsync/metrics for Prometheus
