"""Imported by ``manage.py run_huey`` (djhuey autodiscovers ``tasks`` modules) and by
``solrsync.contrib.django.queue``: registers solrsync's tasks on the project's huey."""
from .runtime import get_tasks

tasks = get_tasks()
sync = tasks.sync
sweep = tasks.sweep
resync = tasks.resync
