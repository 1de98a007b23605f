"""``huey_consumer solrsync.contrib.django.queue.huey`` (with DJANGO_SETTINGS_MODULE set)."""
import django

django.setup()

from .tasks import tasks  # noqa: E402  (django.setup() first)

huey = tasks.huey
