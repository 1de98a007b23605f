"""Rebuilding an index beside the live one (``reindex --swap``), apart from the row streaming.

1. ``begin``: make a fresh index and register it as a rebuild: from then on every batch the live
   sync pushes goes to it too (``Syncer.cores``), with its version -- so a delete, an unpublish,
   an m2m change or a raw-SQL update made while the rows stream reaches the new index, whatever
   order the writes land in. Standalone Solr: a core (CoreAdmin CREATE from SOLR_CONFIGSET).
   SolrCloud: a collection (Collections API CREATE from the configset in ZooKeeper), the live
   name being an alias.
2. the reindex streams every row into it -- and those of the other pipelines sharing the core, so
   the core is rebuilt whole (README: Pipelines sharing a core).
3. ``finish``: commit it; if Solr refused documents (more than ``allow_rejected``), stop: the live
   index is untouched and the new one kept for inspection. Otherwise put it live (standalone:
   SWAP; SolrCloud: CREATEALIAS re-points the alias, atomic for searchers), end the registration,
   and remove the old index (standalone: UNLOAD with everything on disk; SolrCloud: DELETE the
   old collections beyond the SOLR_KEEP_COLLECTIONS newest).

SolrCloud: only the collections a rebuild made (``ALIAS_<timestamp>``) and the ones the alias
pointed at are ever deleted; a collection of any other name is left alone. A live name that is a
plain collection, not an alias, is refused (nothing can replace it atomically) unless
``make_alias``: then the rebuilt collection replaces it under an alias of the same name (the old
collection is deleted just before the alias is made: searches fail for that moment).
"""
import datetime as dt
import logging
import re

from .admin import (alias_target, cluster_status, create_collection, create_core, delete_collection, point_alias,
                    solr_kind, swap_cores, unload_core)
from .sink import SolrRequestError, SolrUnavailable

log = logging.getLogger("solrsync.rebuild")


class RebuildRefused(Exception):
    """Solr refused documents of the rebuild: it did not go live."""


class NotAnAlias(ValueError):
    """SolrCloud: the live name is a plain collection, which nothing can replace atomically."""


def begin(syncer, name, make_alias=False, fence=None):
    """-> the name of a fresh core (collection) registered to receive the live writes of pipeline ``name``,
    holding the tombstones of the live core's recent deletes. ``fence``: the reindex's hold (lease.Lease),
    checked before each step."""
    pipeline = syncer.pipeline(name)
    check = fence.check if fence is not None else (lambda version=None: None)
    check()
    stale = syncer.changelog.rebuilds(name) if syncer.changelog is not None else []
    if stale:  # an earlier rebuild interrupted and not resumed, or one whose reindex lost its hold: drop it
        log.warning("%s: an earlier rebuild into %s was not finished; starting afresh and removing it", name,
                    ", ".join(stale))
        for core in stale:
            syncer.end_rebuild(name, core)
            try:
                (delete_collection if solr_kind(syncer.settings).cloud else unload_core)(syncer.settings, core)
            except (SolrRequestError, SolrUnavailable) as exc:
                log.warning("%s: could not remove %s: %s", name, core, exc)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S%f")
    cloud = solr_kind(syncer.settings).cloud
    if cloud:
        core = "%s_%s" % (pipeline.core, stamp)
        _create_collection(syncer.settings, pipeline.core, core, make_alias)
    else:
        core = "%s_rebuild_%s" % (pipeline.core, stamp)
        create_core(syncer.settings, core, syncer.settings.SOLR_CONFIGSET)
    check()
    if syncer.changelog is not None:
        for n in (name,) + mates(syncer, name):  # the pipelines sharing the core write to the fresh one too
            syncer.changelog.start_rebuild(n, core)
            _tombstones(syncer, n, core, check)
    log.warning("%s: building into fresh %s %s", name, "collection" if cloud else "core", core)
    return core


def mates(syncer, name):
    """The other pipelines writing to ``name``'s core: a rebuild of the core streams them too."""
    return tuple(n for n in syncer.sharing(name) if n != name)


def _tombstones(syncer, name, core, check):
    """Give the fresh core the tombstones of the deletes sent to the live one (recorded in the
    database: Solr never shows tombstones) that the live core still keeps -- every delete newer than
    the oldest write that may still land (Settings.write_horizon < TOMBSTONE_SECONDS). Run after
    the core is registered: any later delete reaches it from the live sync itself. Without this, a
    late add older than a delete -- a push stalled before the rebuild began -- would find nothing
    to lose against in the fresh core and, once it is live, bring the deleted document back."""
    sink = syncer.sink(name, core=core)
    if not sink.versioned:
        return
    since = syncer.version() - int(syncer.settings.TOMBSTONE_SECONDS * 1e6)  # the tombstones the live core keeps
    copied = 0
    for version, ids in syncer.changelog.deletes(name, since).items():
        for i in range(0, len(ids), 500):
            copied += sink.delete_ids(ids[i:i + 500], version=version, fence=lambda v: check())
    if copied:
        log.info("%s: %d recent delete(s) of the live core copied into %s as tombstones", name, copied, core)


def _create_collection(settings, alias, collection, make_alias=False):
    """CREATE ``collection`` for the alias ``alias``: as many shards and replicas as the collection
    now behind it, unless SOLR_NUM_SHARDS / SOLR_REPLICATION_FACTOR say otherwise."""
    cluster = cluster_status(settings)
    live = alias_target(cluster, alias)
    if live is None and alias in cluster["collections"]:
        if not make_alias:
            raise NotAnAlias(
                "SOLR_URL names the SolrCloud collection %s, not an alias: --swap builds a new collection and points "
                "an alias at it; either put one in front once (%s/admin/collections?action=CREATEALIAS&name=%s_live&"
                "collections=%s), set SOLR_URL to %s/%s_live and run --swap again, or run --swap --make-alias to "
                "replace the collection %s by an alias of that name (%s is deleted: searches fail for a moment)" % (
                    alias, settings.solr_base, alias, alias, settings.solr_base, alias, alias, alias))
        live = [alias]
    now = cluster["collections"].get((live or [None])[0]) or {}
    shards = settings.SOLR_NUM_SHARDS or len(now.get("shards") or {}) or 1
    replicas = settings.SOLR_REPLICATION_FACTOR or int(now.get("replicationFactor") or 1)
    create_collection(settings, collection, settings.SOLR_CONFIGSET, shards, replicas)


def finish(syncer, name, core, refused, allow_rejected=0, fence=None):
    """Put ``core`` live unless more than ``allow_rejected`` documents were refused. ``fence``: the
    reindex's hold, checked before the swap: a reindex that lost it never swaps (the one that took
    it over may be building its own core, or have swapped it live already)."""
    pipeline = syncer.pipeline(name)
    check = fence.check if fence is not None else (lambda version=None: None)
    cloud = solr_kind(syncer.settings).cloud
    check()
    syncer.sink(name, core=core).commit()
    if refused > allow_rejected:
        syncer.end_rebuild(name, core)
        raise RebuildRefused("%s: Solr refused %d document(s) of the rebuild (allowed: %d); %s %s did not go live "
                             "and is kept for inspection, %s is untouched" % (
                                 name, refused, allow_rejected, "collection" if cloud else "core", core,
                                 pipeline.core))
    if syncer.changelog is not None and core not in syncer.changelog.rebuilds(name):
        raise RebuildRefused("%s: %s %s refused live writes while it was built (the consumers' log names them) or "
                             "another run ended it: it did not go live and is kept for inspection, %s is untouched"
                             % (name, "collection" if cloud else "core", core, pipeline.core))
    check()
    if cloud:
        return _finish_cloud(syncer, name, pipeline.core, core)
    swap_cores(syncer.settings, pipeline.core, core)
    syncer.forget_cores()  # this process's sinks ask the core now live what it is
    syncer.end_rebuild(name, core)  # the name `core` now holds the old index
    unload_core(syncer.settings, core)
    log.warning("%s: swapped %s live as %s; the old core is unloaded and removed", name, core, pipeline.core)


def _finish_cloud(syncer, name, alias, collection):
    settings = syncer.settings
    cluster = cluster_status(settings)
    before = alias_target(cluster, alias) or []
    if not before and alias in cluster["collections"]:  # --make-alias: the collection gives way to an alias
        delete_collection(settings, alias)
        log.warning("%s: deleted the collection %s to put an alias of that name in its place", name, alias)
    point_alias(settings, alias, collection)
    syncer.forget_cores()
    syncer.end_rebuild(name, collection)  # the alias now writes to it
    # older collections: those the alias pointed at, then earlier rebuilds (their names sort by time)
    ours = re.compile(re.escape(alias) + r"_\d{20}")
    earlier = sorted((c for c in cluster["collections"] if ours.fullmatch(c) and c not in before), reverse=True)
    old = [c for c in before + earlier if c != collection]
    for c in old[settings.SOLR_KEEP_COLLECTIONS:]:
        delete_collection(settings, c)
    log.warning("%s: alias %s points at %s now; %s", name, alias, collection,
                "deleted %s" % ", ".join(old[settings.SOLR_KEEP_COLLECTIONS:]) if old[settings.SOLR_KEEP_COLLECTIONS:]
                else "nothing to delete")
