"""Rebuilding a core beside the live one (``reindex --swap``), apart from the row streaming.

1. ``begin``: CREATE a fresh core from the configset and register it as a rebuild: from then on
   every batch the live sync pushes goes to it too (``Syncer.cores``), with its version -- so a
   delete, an unpublish, an m2m change or a raw-SQL update made while the rows stream reaches the
   new core, whatever order the writes land in.
2. the reindex streams every row into it.
3. ``finish``: commit it; if Solr refused documents (more than ``allow_rejected``), stop: the live
   core is untouched and the new one kept for inspection. Otherwise SWAP it live, end the
   registration, and UNLOAD the old core with everything it had on disk.
"""
import datetime as dt
import logging

from .admin import create_core, swap_cores, unload_core

log = logging.getLogger("solrsync.rebuild")


class RebuildRefused(Exception):
    """Solr refused documents of the rebuild: it did not go live."""


def begin(syncer, name):
    """-> the name of a fresh core registered to receive the live writes of pipeline ``name``."""
    pipeline = syncer.pipeline(name)
    stale = syncer.changelog.rebuilds(name) if syncer.changelog is not None else []
    if stale:  # an earlier rebuild that was interrupted and not resumed: stop feeding it
        log.warning("%s: an earlier rebuild into %s was not finished; starting afresh (that core is left as it is)",
                    name, ", ".join(stale))
        syncer.changelog.end_rebuild(name)
    core = "%s_rebuild_%s" % (pipeline.core, dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S%f"))
    create_core(syncer.settings, core, syncer.settings.SOLR_CONFIGSET)
    if syncer.changelog is not None:
        syncer.changelog.start_rebuild(name, core)
    log.warning("%s: building into fresh core %s", name, core)
    return core


def finish(syncer, name, core, refused, allow_rejected=0):
    """Swap ``core`` live unless more than ``allow_rejected`` documents were refused."""
    pipeline = syncer.pipeline(name)
    syncer.sink(name, core=core).commit()
    if refused > allow_rejected:
        if syncer.changelog is not None:
            syncer.changelog.end_rebuild(name, core)
        raise RebuildRefused("%s: Solr refused %d document(s) of the rebuild (allowed: %d); core %s did not go live "
                             "and is kept for inspection, %s is untouched" % (name, refused, allow_rejected, core,
                                                                              pipeline.core))
    swap_cores(syncer.settings, pipeline.core, core)
    if syncer.changelog is not None:
        syncer.changelog.end_rebuild(name, core)  # the name `core` now holds the old index
    unload_core(syncer.settings, core)
    log.warning("%s: swapped %s live as %s; the old core is unloaded and removed", name, core, pipeline.core)
