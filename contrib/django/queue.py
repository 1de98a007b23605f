"""``huey_consumer solrsync.contrib.django.queue.huey`` (with DJANGO_SETTINGS_MODULE set)."""
import django

django.setup()

from .runtime import check_consumer  # noqa: E402  (django.setup() first)
from .tasks import tasks  # noqa: E402

check_consumer()
huey = tasks.huey
