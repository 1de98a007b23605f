"""A reindex through the queue (``reindex --via-queue``): the rows split into primary-key ranges,
each run by whichever consumer takes it, on any host, so a rebuild uses every machine.

The command that starts it hands the ranges out a window at a time (the queue stays short: a live
sync waits behind at most a window of ranges) and accounts for them in key order, as a local
reindex accounts for its chunks; prune and swap then run as after a local stream. Each range is
claimed under a lease in the database and its result stored there. A consumer that dies leaves
its range to be claimed again once the lease runs out (the command sends a task for it). When no
consumer takes a range for ``IDLE_SECONDS``, the command runs it itself: the rebuild ends even with
every consumer down, and a periodic resync running in a consumer's only worker cannot wait on
itself.

A range's lease is renewed while it works (lease.Renewing, by the database's clock), so a range
slower than LEASE_SECONDS finishes once. A claim that fails (Solr refused or was away, the lease
was lost, the rows could not be read) says why on the range and frees it; after MAX_ATTEMPTS
claims the range is given up on: the command records it (``RangeFailure``: the range and the
last reason) and ends with exit 1 naming it, instead of sending it again for ever.
"""
import collections
import hashlib
import logging
import time
import uuid

from .chunk import Chunk
from .fleet import consumer_id
from .lease import LeaseLost, Renewing
from .sink import SolrRequestError, SolrUnavailable

log = logging.getLogger("solrsync.reindex")

IDLE_SECONDS = 5.0
POLL_SECONDS = 0.2
MAX_ATTEMPTS = 5


class RangeGaveUp(Exception):
    """A range failed MAX_ATTEMPTS times: the reindex stops (str: one line naming it and why)."""


def run_prefix(name):
    """The start of a run's name for pipeline ``name``: the name itself, or when it is long a
    digest of it -- a run's name (``PREFIX:uuid``) fits the 64 characters the database keeps."""
    if len(name) <= 30:
        return name
    return "%s~%s" % (name[:13], hashlib.sha1(name.encode("utf-8")).hexdigest()[:16])


def work(syncer, name, run, core, since=None, versioned=True, owner=None):
    """Claim one free range of ``run``, read, build and post its rows into ``core``, store the
    result -> its sequence number, or None when no range was free or the claim failed (the
    reason stored on the range). The consumers' task body."""
    owner = owner or consumer_id()
    changelog, lease_seconds = syncer.changelog, syncer.settings.LEASE_SECONDS
    claimed = changelog.claim_range(run, owner, lease_seconds, max_attempts=MAX_ATTEMPTS)
    if claimed is None:
        return None
    seq, first, last, lease = claimed
    what = "%s: range #%d (%s..%s) of %s" % (name, seq, first, last, run)
    # the range's lease is a fence: a consumer paused past it posts nothing more (the run may be
    # over, its core swapped live, its ranges dropped by a reindex that took the pipeline over)
    fence = syncer.lease("range", (run, seq), lease, what)
    renewing = Renewing(fence, lambda token: changelog.renew_lease("range", (run, seq), token, lease_seconds))
    try:
        with renewing:
            version = syncer.version() if versioned else None  # before the rows are read
            unreadable = {}
            rows = syncer.sources[name].chunk(first, last, since=since, errors=unreadable)
            chunk = Chunk(syncer, name, rows, False, unreadable).post(syncer.sink(name, core=core), version, fence)
            with fence.lock:
                finished = changelog.finish_range(run, seq, fence.token, dict(chunk.result(), by=owner))
    except (LeaseLost, SolrUnavailable, SolrRequestError) as exc:
        reason = str(exc) if isinstance(exc, LeaseLost) else "%s: %s" % (type(exc).__name__, exc)
        log.warning("%s: this claim failed: %s", what, reason)
        with fence.lock:
            changelog.fail_range(run, seq, fence.token, reason)
        return None
    except Exception as exc:
        log.exception("%s: this claim failed", what)
        with fence.lock:
            changelog.fail_range(run, seq, fence.token, "%s: %s" % (type(exc).__name__, exc))
        return None
    if not finished:
        log.warning("%s: outlived its lease; another claim's result counts", what)
        changelog.fail_range(run, seq, fence.token, "its result came after its lease ran out")
        return None
    return seq


def stream(syncer, name, batch_size, since, after, core, versioned, account, enqueue, window, hold=None):
    """Hand ``name``'s ranges to the queue (``enqueue(run)`` sends one task) and ``account(chunk,
    last pk)`` for each in order -> {consumer: ranges it ran}. Ctrl-C stops the handing out: what
    finished in order is accounted for, the other ranges are dropped (a consumer still on one
    posts it, versioned, harmlessly) and the KeyboardInterrupt goes on up. ``hold``: the reindex's
    lease, renewed at every look at the ranges while it still runs: a command paused past it stops
    (LeaseLost) -- the reindex that took the pipeline over dropped these ranges."""
    changelog = syncer.changelog
    # one reindex per pipeline at a time: the ranges of an earlier run of it are a killed command's
    changelog.drop_ranges(run_prefix(name) + ":", earlier=True)
    run = "%s:%s" % (run_prefix(name), uuid.uuid4().hex)
    ranges = syncer.sources[name].iter_ranges(batch_size, since=since, after=after)
    pending = collections.deque()  # [(seq, last pk)] handed out, not yet accounted for
    sent = {}                      # seq -> the claim count a task was last sent for
    by = collections.Counter()
    seen, moved, warned, seq = None, time.monotonic(), False, 0

    def settle():
        """Account for the ranges done in order -> the states of those still pending."""
        states = changelog.ranges(run, after=pending[0][0] - 1) if pending else []
        done = {s: result for s, result, _, _, _ in states if result is not None}
        while pending and pending[0][0] in done:
            s, last = pending.popleft()
            by[done[s].get("by")] += 1
            account(Chunk.from_result(done[s]), last)
        return [st for st in states if st[1] is None]

    def give_up(s, attempts):
        first, last, _, error = changelog.range_info(run, s)
        reason = error or "its lease ran out with no result each time (its consumers died or stopped?)"
        changelog.record_range_failure(name, run, s, first, last, attempts, reason)
        raise RangeGaveUp("%s: range #%d (pk %s..%s) of the reindex failed %d times (MAX_ATTEMPTS); given up, the "
                          "reindex stops here. Last reason: %s" % (name, s, first, last, attempts, reason))

    try:
        while True:
            while ranges is not None and len(pending) < window:
                r = next(ranges, None)
                if r is None:
                    ranges = None
                    break
                changelog.add_ranges(run, [(seq, r[0], r[1])])
                enqueue(run)
                pending.append((seq, r[1]))
                sent[seq] = 0
                seq += 1
            if not pending:
                clear = getattr(changelog, "clear_range_failures", None)
                if clear is not None:  # this run finished: an earlier one's given-up ranges are history
                    clear(name)
                return by
            if hold is not None and not changelog.renew_reindex(name, hold.token, syncer.settings.LEASE_SECONDS):
                hold.check()  # raises: the hold ran out while this command was paused, or was taken over
            waiting = settle()
            snapshot = [(s, attempts) for s, _, attempts, _, _ in waiting]
            if snapshot != seen:
                seen, moved = snapshot, time.monotonic()
            for s, _, attempts, free, error in waiting:
                if free and attempts >= MAX_ATTEMPTS:
                    give_up(s, attempts)
                if free and attempts and sent.get(s) != attempts:
                    log.warning("%s: range #%d%s; sent again (claim %d of at most %d)", name, s,
                                " failed (%s)" % error if error else "'s lease ran out (its consumer died?)",
                                attempts + 1, MAX_ATTEMPTS)
                    sent[s] = attempts
                    enqueue(run)
            if time.monotonic() - moved > IDLE_SECONDS and any(free for _, _, _, free, _ in waiting):
                if not warned:
                    log.warning("%s: no consumer took a range for %.0fs; running ranges here too (is a consumer "
                                "running? manage.py run_huey)", name, IDLE_SECONDS)
                    warned = True
                work(syncer, name, run, core, since, versioned)
                moved = time.monotonic()
            else:
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        settle()
        raise
    finally:
        changelog.drop_ranges(run)
