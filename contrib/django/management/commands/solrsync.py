"""``python manage.py solrsync <command>``: the same commands as the ``solrsync`` console script."""
import argparse
import sys

from django.core.management.base import BaseCommand, CommandError

from solrsync.cli import main

from ...runtime import get_syncer, get_tasks


def _run(argv):
    return main(list(argv), syncer_factory=get_syncer, tasks_factory=get_tasks, prog="manage.py solrsync")


class Command(BaseCommand):
    help = "solrsync: reindex, status, failures, retry (`manage.py solrsync --help` lists them)."

    def run_from_argv(self, argv):
        # solrsync.cli owns the options; Django's parser would reject them
        sys.exit(_run(argv[2:]))

    def add_arguments(self, parser):
        parser.add_argument("argv", nargs=argparse.REMAINDER)

    def handle(self, *args, **options):  # call_command("solrsync", "reindex", "--prune")
        code = _run(list(args) + list(options.get("argv") or []))
        if code:
            raise CommandError("solrsync exited with %d" % code, returncode=code)
