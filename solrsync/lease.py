"""Leases as fences: whoever acts under a lease checks it before each step others can see.

Three kinds of holder act under a lease in the database: a worker pushing a claimed batch of
changes (``changes``), a reindex holding its pipeline (``reindex``), a consumer running a range of
a rebuild through the queue (``range``). A process can stop for longer than its lease at any
point (SIGSTOP, a GC storm, a frozen VM); meanwhile the lease runs out and another holder takes
over. So before each step others can see -- a post to Solr, progress recorded, a rebuild
registered or finished, a swap -- the holder asks the database, by the database's clock, whether
it still holds the lease (``changelog.lease_left``). A holder that finds it gone raises
``LeaseLost``: it stops, says so in one line, and the next holder's work stands.

The age of any write that can still land is bounded: a request whose version (microseconds of the
database's clock, taken before its rows were read) is older than LEASE_SECONDS is not sent, and a
request sent is answered or abandoned within SOLR_TIMEOUT. ``Settings.write_horizon`` adds these
up; tombstones are kept longer than that (checked at start-up), so no late write outlives the
tombstone of a newer delete.
"""


class LeaseLost(Exception):
    """The lease this work ran under ran out or was taken by another holder: stop, the next
    holder does the work (str: one line naming what stopped)."""


class Lease:
    """One holder's lease: ``kind`` (changes, reindex, range), ``key`` (what is held) and ``token``
    (what this holder was given: its lease's end, or its name). ``check`` before each visible step.
    Picklable: a reindex's worker processes check it themselves."""

    def __init__(self, changelog, kind, key, token, max_age, what):
        self.changelog, self.kind, self.key, self.token = changelog, kind, key, token
        self.max_age = max_age  # seconds: a version older than this is not sent (LEASE_SECONDS)
        self.what = what        # for the one line said when it is lost

    def check(self, version=None):
        """-> seconds the lease still runs; LeaseLost when it ran out or another holder has it,
        or when ``version`` (of a request about to be sent) is older than a lease."""
        held = self.changelog.lease_left(self.kind, self.key, self.token)
        if held is None:
            raise LeaseLost("%s: its lease (LEASE_SECONDS %s) ran out or another process took it over; stopped "
                            "here, the new holder does the rest" % (self.what, self.max_age))
        left, now = held
        if version is not None and now - int(version) > self.max_age * 1e6:
            raise LeaseLost("%s: a request of version %d is %.1fs old, older than a lease (LEASE_SECONDS %s); not "
                            "sent" % (self.what, version, (now - int(version)) / 1e6, self.max_age))
        return left

    __call__ = check  # the sink calls its fence before each post

    def __repr__(self):
        return "Lease(%s %r)" % (self.kind, self.key)
