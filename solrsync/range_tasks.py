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
"""
import collections
import logging
import time
import uuid

from .chunk import Chunk
from .fleet import consumer_id
from .lease import LeaseLost

log = logging.getLogger("solrsync.reindex")

IDLE_SECONDS = 5.0
POLL_SECONDS = 0.2


def work(syncer, name, run, core, since=None, versioned=True, owner=None):
    """Claim one free range of ``run``, read, build and post its rows into ``core``, store the
    result -> its sequence number, or None when no range was free. The consumers' task body."""
    owner = owner or consumer_id()
    claimed = syncer.changelog.claim_range(run, owner, syncer.settings.LEASE_SECONDS)
    if claimed is None:
        return None
    seq, first, last, lease = claimed
    # the range's lease is a fence: a consumer paused past it posts nothing more (the run may be
    # over, its core swapped live, its ranges dropped by a reindex that took the pipeline over)
    fence = syncer.lease("range", (run, seq), lease, "%s: range #%d (%s..%s) of %s" % (name, seq, first, last, run))
    version = syncer.version() if versioned else None  # before the rows are read
    unreadable = {}
    rows = syncer.sources[name].chunk(first, last, since=since, errors=unreadable)
    try:
        chunk = Chunk(syncer, name, rows, False, unreadable).post(syncer.sink(name, core=core), version, fence)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return None
    if not syncer.changelog.finish_range(run, seq, lease, dict(chunk.result(), by=owner)):
        log.warning("%s: range %s..%s outlived its lease; another claim's result counts", name, first, last)
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
    changelog.drop_ranges(name + ":", earlier=True)
    run = "%s:%s" % (name, uuid.uuid4().hex)
    ranges = syncer.sources[name].iter_ranges(batch_size, since=since, after=after)
    pending = collections.deque()  # [(seq, last pk)] handed out, not yet accounted for
    sent = {}                      # seq -> the claim count a task was last sent for
    by = collections.Counter()
    seen, moved, warned, seq = None, time.monotonic(), False, 0

    def settle():
        """Account for the ranges done in order -> the states of those still pending."""
        states = changelog.ranges(run, after=pending[0][0] - 1) if pending else []
        done = {s: result for s, result, _, _ in states if result is not None}
        while pending and pending[0][0] in done:
            s, last = pending.popleft()
            by[done[s].get("by")] += 1
            account(Chunk.from_result(done[s]), last)
        return [st for st in states if st[1] is None]

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
                return by
            if hold is not None and not changelog.renew_reindex(name, hold.token, syncer.settings.LEASE_SECONDS):
                hold.check()  # raises: the hold ran out while this command was paused, or was taken over
            waiting = settle()
            snapshot = [(s, attempts) for s, _, attempts, _ in waiting]
            if snapshot != seen:
                seen, moved = snapshot, time.monotonic()
            for s, _, attempts, free in waiting:
                if free and attempts and sent.get(s) != attempts:
                    log.warning("%s: range #%d's lease ran out (its consumer died?); sent again", name, s)
                    sent[s] = attempts
                    enqueue(run)
            if time.monotonic() - moved > IDLE_SECONDS and any(free for _, _, _, free in waiting):
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
