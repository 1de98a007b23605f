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

Work that can outlast a lease -- a range of a rebuild, a claimed batch of changes pushed to a slow
Solr, a reindex -- runs inside ``Renewing``: a thread renews the lease every third of it, by the
database's clock, and each renewal gives the holder a new token (a lease's end), which the
``Lease`` object then holds: the fence always checks the token the database has, because it is
the one place the token lives and renewal and check take turns on its lock.
"""
import logging
import threading

log = logging.getLogger("solrsync.lease")


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
        self.lock = threading.RLock()  # a check and a renewal take turns: the token changes in a renewal

    def __getstate__(self):  # sent to a reindex's worker processes: a lock does not travel
        state = dict(self.__dict__)
        state.pop("lock", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.lock = threading.RLock()

    def check(self, version=None):
        """-> seconds the lease still runs; LeaseLost when it ran out or another holder has it,
        or when ``version`` (of a request about to be sent) is older than a lease."""
        with self.lock:
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


class Renewing:
    """Keep ``lease`` while the work inside ``with Renewing(lease, renew):`` runs: a thread calls
    ``renew(token) -> new token or None`` every ``every`` seconds (a third of the lease), under the
    lease's lock, and the lease holds the new token. ``renew`` extends the lease by the database's
    clock and only while this holder still has it (never takes one back): a holder paused past its
    lease stays fenced out. ``on_renewed(token)``: also under the lock, for whatever else carries
    the token (a claimed batch's changes). ``renew_now()``: one renewal, at once (tests)."""

    def __init__(self, lease, renew, every=None, on_renewed=None):
        self.lease, self.renew, self.on_renewed = lease, renew, on_renewed
        self.every = every if every is not None else max(0.05, lease.max_age / 3.0)
        self.renewed, self.lost = 0, False
        self.owner = threading.current_thread()  # the thread working under the lease
        self._stop = threading.Event()
        self._thread = None

    def renew_now(self):
        with self.lease.lock:
            if self.lost:
                return False
            token = self.renew(self.lease.token)
            if token is None:
                self.lost = True  # the next check raises LeaseLost
                return False
            self.lease.token = token
            if self.on_renewed is not None:
                self.on_renewed(token)
            self.renewed += 1
            return True

    def _run(self):
        try:
            while not self._stop.wait(self.every):
                if not self.renew_now():
                    return
        except Exception as exc:  # a database that went away: the lease runs out, the fence says so
            log.warning("%s: could not renew its lease: %s", self.lease.what, exc)
        finally:
            close = getattr(self.lease.changelog, "close_thread_connection", None)
            if close is not None:
                close()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name="solrsync-renew", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
