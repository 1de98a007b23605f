"""Imported by ``manage.py run_huey`` (djhuey autodiscovers ``tasks`` modules) and by
``solrsync.contrib.django.queue``: registers solrsync's tasks on the project's huey."""
import sys

from .runtime import check_consumer, get_tasks

tasks = get_tasks()
if "run_huey" in sys.argv[1:2]:  # `manage.py run_huey`: this process is a consumer
    check_consumer()
sync = tasks.sync
sweep = tasks.sweep
resync = tasks.resync
