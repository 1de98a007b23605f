"""What ``solrsync status`` (and the admin's monitoring page) shows: counts, pending changes,
consumers, Solr's answers -- Solr asked in a thread given SOLR_TIMEOUT in all, so a node that hangs
is a line saying so, not a status that hangs or ends in a traceback."""
import threading
import time

from . import admin
from .config import mask
from .fleet import broker_time, consumers, last_resync
from .sink import SolrRequestError, SolrUnavailable


def collect_status(syncer, huey=None, timeout=None):
    """What ``status`` shows. Everything asked of Solr runs in a thread given ``timeout`` seconds
    in all (SOLR_TIMEOUT): a node that hangs (a paused SolrCloud leader) makes status say so in one
    line per pipeline, not wait on it nor end in a traceback."""
    s = syncer.settings
    timeout = s.SOLR_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    out = {"solr": s.solr_base + (" (as %s)" % s.solr_auth[0] if s.solr_auth else ""), "queue": mask(s.QUEUE_URL),
           "pipelines": {}}
    asked = {}
    prober = threading.Thread(target=_probe_solr, args=(syncer, asked), name="solrsync-status", daemon=True)
    prober.start()
    if huey is not None:
        try:
            out["queue_length"] = huey.pending_count()
            out["scheduled"] = huey.scheduled_count()
            out["consumers"] = consumers(huey)
            out["consumers_alive"] = sum(1 for c in out["consumers"] if c["alive"])
            out["consumers_dead"] = len(out["consumers"]) - out["consumers_alive"]
        except Exception as exc:
            out["queue_error"] = "queue unreachable: %s" % mask(exc)
    for name, p in syncer.pipelines.items():
        info = {"core": p.core, "db_count": syncer.sources[name].count()}
        log_ = syncer.changelog
        if log_ is not None:
            info["pending"] = log_.pending_count(name)
            info["oldest_pending_seconds"] = log_.oldest_age(name)
            info["failures"] = log_.failures(name).count()
            if hasattr(log_, "capture"):
                info["capture"] = log_.capture(name)
            if hasattr(log_, "reindex_running"):
                info["reindex"] = log_.reindex_running(name)
            if hasattr(log_, "range_failures"):
                info["range_failures"] = [
                    {"range": seq, "first": first, "last": last, "attempts": attempts, "reason": reason,
                     "at": str(at)} for _, seq, first, last, attempts, reason, at in log_.range_failures(name)[:3]]
        if huey is not None and "queue_error" not in out:
            info["last_resync"] = last_resync(huey, name)
            if info["last_resync"]:  # aged by the broker's clock, which stamped it
                info["last_resync"]["age"] = broker_time(huey) - info["last_resync"]["started"]
        out["pipelines"][name] = info
    prober.join(max(0.0, deadline - time.monotonic()))
    late = "did not answer within %gs (SOLR_TIMEOUT; a node that hangs?)" % timeout
    out["solr_kind"] = asked.get("kind", "unknown (%s)" % late)
    for name, info in out["pipelines"].items():
        info.update(asked.get(name) or {"solr_count": None, "solr": "Solr %s" % late})
    return out


def _probe_solr(syncer, asked):
    """``collect_status``'s questions to Solr, answers put in ``asked`` as they come."""
    s = syncer.settings
    try:
        kind = admin.solr_kind(s)
        asked["kind"] = str(kind)
    except (SolrUnavailable, SolrRequestError) as exc:
        kind, asked["kind"] = None, "unknown (%s)" % one_line(exc)
    for name, p in syncer.pipelines.items():
        info = {}
        sink = syncer.sink(name)
        try:
            try:  # a pipeline counts its own documents, others may share its core
                owned = syncer.owned_filter(name, sink)
            except ValueError as exc:
                owned, info["sharing"] = None, str(exc)
            info["solr_count"] = sink.count(**{"fq": owned} if owned else {})
            info["solr"] = "ok"
            info["solr_version"] = kind.version if kind else None
            info["versioned"] = sink.versioned
            if kind is not None and kind.cloud:
                info["cloud"] = admin.describe_cloud(s, p.core)
        except Exception as exc:  # whatever it is, one line in status
            info["solr_count"] = info.get("solr_count")
            info["solr"] = one_line(exc) if isinstance(exc, (SolrUnavailable, SolrRequestError)) else \
                "%s: %s" % (type(exc).__name__, one_line(exc))
        asked[name] = info


def one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."
