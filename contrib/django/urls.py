"""``path("solrsync/", include("solrsync.contrib.django.urls"))`` in the project's urls.py."""
from django.urls import path

from . import views

app_name = "solrsync"
urlpatterns = [path("metrics", views.metrics, name="metrics")]
