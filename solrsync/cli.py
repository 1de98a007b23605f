"""The ``solrsync`` command (also ``python manage.py solrsync``).

Exit codes: 0 done, 1 something failed (documents rejected, Solr unavailable), 2 misuse or a
bad setting -- always with one line saying what.
"""
import argparse
import datetime as dt
import importlib
import json
import logging
import os
import sys

from . import admin, configset
from .config import ConfigError
from .drain_gate import DrainGate
from .fleet import broker_time, consumers, record_resync
from .lease import LeaseLost
from .metrics import RebuildProgress
from .range_tasks import RangeGaveUp
from .rebuild import RebuildRefused
from .reindex import Progress, ReindexRunning, reindex
from .sink import UNVERSIONED, SolrRequestError, SolrUnavailable
from .status import collect_status, one_line
from .verify import KINDS, verify

log = logging.getLogger("solrsync.cli")


class UsageError(Exception):
    """Misuse: exit code 2, one line."""


def build_parser(prog="solrsync"):
    parser = argparse.ArgumentParser(prog=prog, description="Keep Solr in step with your database.")
    parser.add_argument("--settings", help="Django settings module, e.g. mysite.settings (else DJANGO_SETTINGS_MODULE)")
    parser.add_argument("--pythonpath", metavar="DIR",
                        help="the directory holding the project (where manage.py is); default: the current one")
    parser.add_argument("--loglevel", default=os.environ.get("SOLRSYNC_LOGLEVEL", "WARNING"),
                        help="DEBUG, INFO, WARNING (default), ERROR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("reindex", help="push every row to Solr (the full resync)")
    p.add_argument("pipelines", nargs="*", metavar="PIPELINE", help="default: every configured pipeline")
    p.add_argument("--batch-size", type=_positive, help="documents per Solr request (default: BATCH_SIZE)")
    p.add_argument("--since", type=_datetime, help="only rows modified at or after this ISO date/time")
    p.add_argument("--ids", type=lambda v: [i for i in v.split(",") if i], help="only these primary keys (a,b,c)")
    p.add_argument("--dry-run", action="store_true", help="build documents, post nothing")
    p.add_argument("--prune", action="store_true", help="delete Solr documents whose rows are gone or filtered out")
    p.add_argument("--workers", type=_positive, default=1,
                   help="processes reading, building and posting chunks in parallel (default 1: this process)")
    p.add_argument("--threads", action="store_true", help="make the --workers threads (slower: one interpreter lock)")
    p.add_argument("--export", metavar="FILE.jsonl", help="write the documents to FILE (one JSON per line), post nothing")
    p.add_argument("--swap", action="store_true",
                   help="rebuild into a fresh core (CoreAdmin CREATE from SOLR_CONFIGSET), then SWAP it live; on "
                        "SolrCloud into a new collection, then point the alias at it")
    p.add_argument("--make-alias", action="store_true",
                   help="with --swap on SolrCloud, when SOLR_URL names a plain collection: replace it by an alias "
                        "of that name pointing at the rebuilt collection")
    p.add_argument("--allow-rejected", type=int, default=0, metavar="N",
                   help="with --swap: go live even if Solr refused up to N documents (default 0)")
    p.add_argument("--verify", action="store_true",
                   help="compare every document in Solr with what the database builds now; report drift")
    p.add_argument("--fix", action="store_true",
                   help="with --verify: queue each drifted object for the consumer (through the change log)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run after its last posted row")
    p.add_argument("--via-queue", action="store_true",
                   help="split the rows into key ranges run by every consumer on every host; wait, then prune/swap here")
    p.add_argument("--quiet", action="store_true", help="print only the summary")

    p = sub.add_parser("configset", help="a Solr configset for a pipeline's documents (or --apply it to its core); "
                                         "`configset upload [NAME]` puts one into ZooKeeper (SolrCloud)")
    p.add_argument("pipeline", metavar="PIPELINE|upload")
    p.add_argument("target", nargs="?", metavar="DIR|NAME",
                   help="write DIR/conf/solrconfig.xml and DIR/conf/managed-schema (default: print the managed-schema); "
                        "with upload: the configset's name (default SOLR_CONFIGSET)")
    p.add_argument("--force", action="store_true", help="overwrite the files in DIR")
    p.add_argument("--solr-version", type=int, choices=range(5, 10), default=9, metavar="5|6|7|8|9",
                   help="the Solr major version the configset is for (8 and 9: the same files; 5, 6, 7: Trie field types)")
    p.add_argument("--apply", action="store_true",
                   help="add the fields, types and copyFields the pipeline's core lacks (Schema API) and name what "
                        "needs a new core")
    p.add_argument("--dir", metavar="CONFDIR", help="with upload: this conf directory (default: the one solrsync ships)")
    p.add_argument("--overwrite", action="store_true", help="with upload: replace a configset of that name (Solr 8.7+)")

    p = sub.add_parser("status", help="DB vs Solr counts, pending changes, failures")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("queue", help="inspect or empty the huey queue")
    p.add_argument("action", choices=["pending", "scheduled", "registered", "stats", "revoke", "purge"])
    p.add_argument("task_id", nargs="?", help="for revoke: the task id")
    p.add_argument("--yes", action="store_true", help="for purge: really empty the queue and the schedule")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("failures", help="documents Solr rejected")
    p.add_argument("--pipeline")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("retry", help="put rejected documents back in the queue")
    p.add_argument("ids", nargs="*", metavar="ID", help="object pks or document ids")
    p.add_argument("--all", action="store_true")

    return parser


def _positive(value):
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % value)
    if n <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return n


def _datetime(value):
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an ISO date/time like 2024-05-01T00:00:00Z" % value)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def django_factories(settings_module=None, pythonpath=None):
    """Find the data behind the pipelines: a Django project named by DJANGO_SETTINGS_MODULE, found
    in ``pythonpath`` or the current directory (as ``python -m`` and manage.py would)."""
    if settings_module:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not settings_module:
        raise UsageError("set DJANGO_SETTINGS_MODULE (or pass --settings, or use `python manage.py solrsync`)")
    for path in (os.getcwd(), pythonpath):
        if path and os.path.abspath(path) not in sys.path:
            sys.path.insert(0, os.path.abspath(path))
    try:
        django = importlib.import_module("django")
        django.setup()
        runtime = importlib.import_module("solrsync.contrib.django.runtime")
    except ImportError as exc:
        hint = ""
        if exc.name and (settings_module + ".").startswith(exc.name + "."):
            hint = (" (settings module %s is not on the Python path: run from the project directory, or pass "
                    "--pythonpath DIR, the directory holding manage.py, and --settings MODULE)" % settings_module)
        raise UsageError("cannot load the Django project: %s%s" % (exc, hint))
    return runtime.get_syncer, runtime.get_tasks


def main(argv=None, syncer_factory=None, tasks_factory=None, prog="solrsync"):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    level = getattr(logging, str(args.loglevel).upper(), logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pysolr logs each failed request with its traceback (an unreachable Solr: four, before the one
    # line that says so) and each request at INFO; every error of its reaches us carrying Solr's
    # message, which the command says once. Its own lines only with DEBUG.
    logging.getLogger("pysolr").setLevel(logging.DEBUG if level <= logging.DEBUG else logging.CRITICAL)
    try:
        if syncer_factory is None:
            syncer_factory, tasks_factory = django_factories(args.settings, args.pythonpath)
        syncer = syncer_factory()
        return COMMANDS[args.command](args, syncer, tasks_factory)
    except (UsageError, ConfigError) as exc:
        print("%s: %s" % (prog, exc), file=sys.stderr)
        return 2
    except (SolrUnavailable, LeaseLost, RangeGaveUp) as exc:
        print("%s: %s" % (prog, exc), file=sys.stderr)
        return 1
    except SolrRequestError as exc:
        print("%s: Solr refused the request (HTTP %s): %s" % (prog, exc.status, exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("%s: interrupted" % prog, file=sys.stderr)
        return 130
    except Exception as exc:
        if type(exc).__name__ == "ImproperlyConfigured":
            print("%s: %s" % (prog, exc), file=sys.stderr)
            return 2
        raise


def _pipelines(syncer, names):
    unknown = [n for n in names if n not in syncer.pipelines]
    if unknown:
        raise UsageError("unknown pipeline %s (configured: %s)" % (", ".join(unknown), ", ".join(syncer.pipelines)))
    return names or list(syncer.pipelines)


def cmd_reindex(args, syncer, tasks_factory):
    names = _pipelines(syncer, args.pipelines)
    if args.resume and not args.pipelines and syncer.changelog is not None:  # those that were interrupted
        names = [n for n in names if syncer.changelog.reindex_state(n)] or names
    exclusive = [flag for flag in ("export", "swap", "verify", "dry_run") if getattr(args, flag)]
    if len(exclusive) > 1:
        raise UsageError("--%s cannot be combined" % " and --".join(f.replace("_", "-") for f in exclusive))
    if (args.swap or args.verify) and (args.since or args.ids):
        raise UsageError("--swap and --verify work on every row: drop --since/--ids")
    if args.export and len(names) > 1:
        raise UsageError("--export writes one pipeline: name it")
    if args.fix and not args.verify:
        raise UsageError("--fix goes with --verify")
    if args.make_alias and not args.swap:
        raise UsageError("--make-alias goes with --swap")
    if args.threads and (args.workers or 1) < 2:
        raise UsageError("--threads makes the --workers threads: give --workers N (2 or more)")
    if args.verify:
        return _verify(args, syncer, tasks_factory, names)
    if args.via_queue and (args.dry_run or args.export or args.ids):
        raise UsageError("--via-queue posts whole ranges from the database: drop --dry-run/--export/--ids")
    tasks = tasks_factory() if args.via_queue and tasks_factory else None
    if args.via_queue and tasks is None:
        raise UsageError("--via-queue needs the queue of a Django project (run it through manage.py or --settings)")
    failed = False
    rebuilt = set()  # a swap rebuilds a core whole, with every pipeline sharing it
    for name in names:
        if args.swap and name in rebuilt:
            print("%s: rebuilt with %s (they share core %s)" % (name, ", ".join(sorted(rebuilt - {name})),
                                                                syncer.pipelines[name].core))
            continue
        if args.swap:
            rebuilt.update(syncer.sharing(name))
        total = None if args.resume else _count(syncer, name, args)
        progress = Progress(name, total, quiet=args.quiet)
        if tasks_factory and not (args.dry_run or args.export):  # for the metrics endpoints of every host
            progress = RebuildProgress(tasks_factory().huey, name, total, then=progress)
        try:
            result = reindex(syncer, name, batch_size=args.batch_size, since=args.since, pks=args.ids,
                             dry_run=args.dry_run, prune=args.prune, on_batch=progress, workers=args.workers,
                             parallel="threads" if args.threads else "processes",
                             export=args.export, resume=args.resume, swap=args.swap,
                             allow_rejected=args.allow_rejected, via_queue=tasks if args.via_queue else None,
                             make_alias=args.make_alias)
        except ValueError as exc:
            raise UsageError(str(exc))
        except ReindexRunning as exc:
            print(exc, file=sys.stderr)
            return 1
        except RebuildRefused as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        finally:
            progress.close()
        if result.interrupted:
            same = "".join(" --%s %s" % (flag.replace("_", "-"), getattr(args, flag))
                           for flag in ("batch_size", "workers") if getattr(args, flag) not in (None, 1))
            same += " --via-queue" if args.via_queue else ""
            print("%s: interrupted after %d rows (last posted pk %s); Solr is consistent. Resume with (on any host):\n"
                  "  solrsync reindex %s --resume%s" % (name, result.seen, result.last_pk, name, same))
            return 130
        if tasks_factory and not (args.since or args.ids or args.dry_run or args.export):
            huey = tasks_factory().huey
            record_resync(huey, name, result, broker_time(huey) - result.elapsed)
        tag = " [dry run]" if args.dry_run else " [exported to %s]" % args.export if args.export else ""
        filtered = syncer.sources[name].all_count() - syncer.sources[name].count() if not (args.since or args.ids) else 0
        print(result.summary() + tag + (" ; %d rows filtered out by the pipeline" % filtered if filtered else ""))
        if result.ranges_by:
            print("  ranges run by: " + ", ".join("%s (%d)" % (who or "?", n) for who, n in result.ranges_by.most_common()))
        for doc_id, pk, msg in result.rejected[:20]:
            print("  rejected %s (pk %s): %s" % (shown(doc_id or "-"), pk, msg))
        failed = failed or bool(result.rejected)
    return 1 if failed else 0


def _verify(args, syncer, tasks_factory, names):
    """``reindex --verify [--fix]``: exit 1 when Solr has drifted (0 once --fix queued it all)."""
    drifted = False
    for name in names:
        progress = Progress(name, _count(syncer, name, args), quiet=args.quiet)
        try:
            drift = verify(syncer, name, batch_size=args.batch_size, fix=args.fix, on_batch=progress)
        except ValueError as exc:
            raise UsageError(str(exc))
        finally:
            progress.close()
        print(drift.summary())
        for kind in KINDS:
            for doc_id, pk, detail in drift.examples[kind]:
                print("  %s %s%s%s" % (kind, shown(doc_id), " (pk %s)" % pk if pk not in (None, "") else "",
                                       ": " + detail if detail else ""))
        if drift.queued and tasks_factory:
            tasks_factory().enqueue_sync(name, [])
        drifted = drifted or (drift.drifted and not args.fix)
    return 1 if drifted else 0


def cmd_configset(args, syncer, tasks_factory):
    if args.pipeline == "upload":
        return cmd_configset_upload(args, syncer, args.target or syncer.settings.SOLR_CONFIGSET)
    if args.dir or args.overwrite:
        raise UsageError("configset: --dir and --overwrite go with `configset upload`")
    name, = _pipelines(syncer, [args.pipeline])
    if args.apply and args.target:
        raise UsageError("configset --apply changes the core in place: drop DIR")
    pipeline = syncer.pipelines[name]
    try:
        source = syncer.sources[name]
        fields = configset.document_fields(pipeline.document, getattr(source, "solr_field", source.solr_type))
    except ValueError as exc:
        raise UsageError("pipeline %s: %s" % (name, exc))
    if args.apply:
        kind = admin.solr_kind(syncer.settings)
        if 0 < kind.major < configset.MIN_MAJOR:
            raise UsageError("configset --apply: the core runs %s: %s; nothing changed" % (kind, configset.TOO_OLD))
        commands, problems = configset.apply(syncer.settings, pipeline.core, fields)
        for command, specs in commands.items():
            for spec in specs:
                print("core %s: %s %s" % (pipeline.core, command, " -> ".join(
                    str(spec[k]) for k in ("source", "dest") if k in spec) or "%s (%s)" % (
                    spec["name"], spec.get("type") or spec.get("class"))))
        for problem in problems:
            print("core %s: %s" % (pipeline.core, problem))
        if not commands and not problems:
            print("core %s: has everything pipeline %s needs" % (pipeline.core, name))
        return 1 if problems else 0
    if not args.target:
        sys.stdout.write(configset.managed_schema(name, fields, args.solr_version))
        return 0
    try:
        written = configset.write(args.target, name, fields, force=args.force, major=args.solr_version)
    except ValueError as exc:
        raise UsageError(str(exc))
    except OSError as exc:
        raise UsageError("cannot write the configset: %s" % exc)
    print("wrote %s" % ", ".join(written))
    return 0


def _count(syncer, name, args):
    try:
        return None if (args.since or args.ids) else syncer.sources[name].count()
    except Exception:
        return None


def _ago(seconds):
    if seconds is None:
        return "-"
    return "%.0fs" % seconds if seconds < 120 else "%.0fm" % (seconds / 60) if seconds < 7200 else \
        "%.1fh" % (seconds / 3600)


def cmd_status(args, syncer, tasks_factory):
    huey = tasks_factory().huey if tasks_factory else None
    status = collect_status(syncer, huey)
    if args.json:
        print(json.dumps(status, indent=2, default=str))
    else:
        print("Solr  %s  %s" % (status["solr"], status["solr_kind"]))
        print("Queue %s   %s" % (status["queue"], status.get("queue_error") or "%s pending, %s scheduled" % (
            status.get("queue_length", "-"), status.get("scheduled", "-"))))
        print("Consumers alive: %s%s%s" % (status.get("consumers_alive", "-"), ", dead: %d" % status["consumers_dead"]
                                           if status.get("consumers_dead") else "", "".join(
            "\n  %s pid %s, seen %s ago%s" % (c["host"], c["pid"], _ago(c["age"]), "" if c["alive"] else
                                              "  DEAD (no heartbeat for %s)" % _ago(c["age"]))
            for c in status.get("consumers", []))))
        print()
        print("%-10s %-10s %9s %9s %8s %9s %9s  %-9s %-9s %s" % ("pipeline", "core", "db", "solr", "pending",
                                                                "oldest", "failures", "solr", "capture",
                                                                "last full resync"))
        for name, i in status["pipelines"].items():
            r = i.get("last_resync")
            resync = "never" if not r else "%s ago, %.0fs, %s" % (_ago(r["age"]), r["elapsed"],
                                                                 "ok" if r["ok"] else "FAILED")
            state = ("ok %s" % (i.get("solr_version") or "")) if i["solr"] == "ok" else "ERROR"
            print("%-10s %-10s %9s %9s %8s %9s %9s  %-9s %-9s %s" % (
                name, i["core"], i["db_count"], "-" if i["solr_count"] is None else i["solr_count"],
                i.get("pending", "-"), _ago(i.get("oldest_pending_seconds")), i.get("failures", "-"), state,
                i.get("capture", "-"), resync))
        for name, i in status["pipelines"].items():
            if i["solr"] != "ok":  # one line per problem
                print("%s: Solr: %s" % (name, i["solr"]))
            for f in i.get("range_failures") or ():
                print("%s: reindex range #%s (pk %s..%s) given up after %d attempts at %s: %s" % (
                    name, f["range"], f["first"], f["last"], f["attempts"], f["at"], one_line(f["reason"], 200)))
        for name, i in status["pipelines"].items():
            cloud = i.get("cloud")
            for c in (cloud or {}).get("collections", ()):
                print("%s: %s%s%s" % (name, "alias %s -> " % cloud["alias"] if cloud["alias"] else "collection ",
                                      c["name"], " (configset %s)" % c["configset"] if c.get("configset") else
                                      " " + c.get("error", "")))
                for sh in c.get("shards", ()):
                    print("  %-8s %-8s %9s docs  %s" % (sh["name"], sh["state"], "?" if sh["docs"] is None else
                                                         sh["docs"], ", ".join(
                        "%s %s%s on %s" % (r["name"], r["state"], " (leader)" if r["leader"] else "", r["node"])
                        for r in sh["replicas"])))
            if i.get("versioned") is False:
                print("%s: core %s: %s" % (name, i["core"], UNVERSIONED))
            if i.get("sharing"):
                print("%s: %s (its solr count is every document of the core)" % (name, i["sharing"]))
            r = i.get("reindex")
            if r and r["owner"]:
                print("%s: reindex running in %s, %s" % (name, r["owner"], "past pk %s" % r["last_pk"]
                                                         if r["last_pk"] is not None else "starting"))
            elif r and r["last_pk"] is not None:
                print("%s: a reindex was interrupted after pk %s: solrsync reindex %s --resume" % (
                    name, r["last_pk"], name))
    broken = any(i["solr"] != "ok" for i in status["pipelines"].values())
    return 1 if broken else 0


def cmd_configset_upload(args, syncer, name):
    """Exit 0 uploaded; 1 when this Solr has no Configsets API (before 7.0): the zkcli.sh command
    that does it is printed instead, and nothing was uploaded."""
    s = syncer.settings
    conf = args.dir or admin.configset_dir(name)
    if not os.path.isfile(os.path.join(conf, "solrconfig.xml")):
        raise UsageError("%s has no solrconfig.xml: give --dir CONFDIR, a configset's conf directory" % conf
                         if args.dir else "solrsync ships no configset %r: give --dir CONFDIR" % name)
    kind = admin.solr_kind(s)
    if not kind.cloud:
        raise UsageError("Solr at %s runs standalone: a configset is a directory on its disk "
                         "(SOLR_HOME/configsets/%s/conf), not in ZooKeeper" % (s.solr_base, name))
    if kind.major < 7:
        print(admin.zkcli_command(s, name, conf, kind.zk_host))
        print("%s: %s has no Configsets API UPLOAD (Solr 7+): run the command above in the Solr "
              "distribution's directory" % (name, kind), file=sys.stderr)
        return 1
    try:
        admin.upload_configset(s, name, conf, overwrite=args.overwrite)
    except SolrRequestError as exc:
        hint = "; --overwrite replaces it" if "already exists" in str(exc) and not args.overwrite else ""
        raise SolrRequestError(exc.status, str(exc) + hint)
    print("uploaded configset %s from %s to %s" % (name, os.path.abspath(conf), kind))
    return 0


def cmd_queue(args, syncer, tasks_factory):
    huey = tasks_factory().huey
    if args.action == "revoke":
        if not args.task_id:
            raise UsageError("queue revoke needs a TASK_ID (see `queue pending`)")
        if not any(task.id == args.task_id for task in list(huey.pending()) + list(huey.scheduled())):
            print("no pending or scheduled task has the id %s (see `queue pending`)" % args.task_id, file=sys.stderr)
            return 1
        huey.revoke_by_id(args.task_id)
        print("revoked %s" % args.task_id)
        return 0
    if args.action == "purge":
        if not args.yes:
            raise UsageError("queue purge empties the queue and the schedule: add --yes (pending changes stay "
                             "in the change log and are pushed by the sweeper)")
        n, m = huey.pending_count(), huey.scheduled_count()
        huey.storage.flush_queue()
        huey.storage.flush_schedule()
        gate = DrainGate(huey)
        for name in syncer.pipelines:  # their wake-ups are gone: the next save sends one at once
            gate.clear(name)
        print("purged %d pending and %d scheduled task(s)" % (n, m))
        return 0
    if args.action == "registered":
        rows = sorted(huey._registry._registry)
        print("\n".join(rows) if not args.json else json.dumps(rows))
        return 0
    if args.action == "stats":
        stats = {"pending": huey.pending_count(), "scheduled": huey.scheduled_count(),
                 "results": huey.result_count(), "consumers": consumers(huey)}
        print(json.dumps(stats, indent=2, default=str) if args.json else
              "pending %(pending)d, scheduled %(scheduled)d, results %(results)d" % stats +
              "".join("\nconsumer %s pid %s: seen %s ago%s" % (c["host"], c["pid"], _ago(c["age"]),
                                                                 "" if c["alive"] else " DEAD")
                      for c in stats["consumers"]))
        return 0
    tasks = huey.pending() if args.action == "pending" else huey.scheduled()
    rows = [{"id": t.id, "task": t.name, "args": t.args, "eta": str(t.eta) if t.eta else None,
             "retries": t.retries} for t in tasks]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        for r in rows:
            changes = r["args"][1] if len(r["args"]) > 1 else []
            print("%s  %s  %s  %d change(s)%s" % (r["id"], r["task"], r["args"][0] if r["args"] else "",
                                                 len(changes), "  eta %s" % r["eta"] if r["eta"] else ""))
        print("%d task(s) %s" % (len(rows), args.action))
    return 0


def cmd_failures(args, syncer, tasks_factory):
    rows = list(syncer.changelog.failures(args.pipeline))
    if args.json:
        print(json.dumps([{"pipeline": f.pipeline, "pk": f.object_pk, "doc_id": f.doc_id, "message": f.message,
                           "attempts": f.attempts, "last_failed": f.last_failed.isoformat()} for f in rows], indent=2))
        return 0
    if not rows:
        print("no failures")
    for f in rows:
        print("%s %s (pk %s) x%d %s: %s" % (f.pipeline, shown(f.doc_id), shown(f.object_pk), f.attempts,
                                           f.last_failed.strftime("%Y-%m-%d %H:%M:%S"), f.message))
    return 0


def shown(text):
    """An id as a terminal may print it: control characters (an id refused for them, an escape
    sequence) escaped, never sent raw."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def cmd_retry(args, syncer, tasks_factory):
    if not args.all and not args.ids:
        raise UsageError("name the documents to retry (object pks or document ids), or pass --all")
    moved = syncer.changelog.retry_failures(ids=None if args.all else args.ids)
    tasks = tasks_factory() if tasks_factory else None
    count = 0
    for pipeline, items in moved.items():
        count += len(items)
        if tasks is not None:
            tasks.enqueue_sync(pipeline, items)
    print("re-queued %d document(s)" % count)
    return 0 if count or args.all else 1


COMMANDS = {"reindex": cmd_reindex, "status": cmd_status, "failures": cmd_failures, "retry": cmd_retry,
            "queue": cmd_queue, "configset": cmd_configset}


def main_entry():
    """The console script: argv from the command line."""
    try:
        sys.exit(main())
    except BrokenPipeError:  # `solrsync failures | head`: the reader has gone, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main_entry()
