"""The change log (``DjangoChangeLog``): the engine's change-log interface on Django's database —
pending changes and their claims, tombstones, rebuilds, reindex holds and ranges, failures."""
import datetime as dt
import json
import zlib

from django.conf import settings as django_settings
from django.db import IntegrityError, InterfaceError, OperationalError, connections, router, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Max, Min, Q
from django.db.models.functions import Now
from django.utils import timezone

from solrsync.pipeline import Change as Pending
from solrsync.sink import local_version

from .models import Change, Clock, Deleted, Failure, Rebuild, Reindex, ReindexRange
from .range_store import ReindexRanges
from .reads import AMONG, array_literal
from .triggers import AGE, NOW, NOW_WITH_PARAMS, capture_mode


class DjangoChangeLog(ReindexRanges):
    """The outbox: pending changes per pipeline, claimed under a lease, deleted when pushed."""

    def __init__(self, using=None, pipelines=None):
        self.using = using or router.db_for_write(Change)
        self.pipelines = pipelines  # {name: Pipeline}, for ``capture``

    def _vendor(self):
        return connections[self.using].vendor

    @staticmethod
    def outage(exc):
        """Is ``exc`` the database not answering for now -- SQLite's "database is locked" past the busy
        timeout while another process writes, a connection lost -- rather than a bug? The worker then
        retries after a backoff (tasks.outage); the changes stay pending meanwhile."""
        return isinstance(exc, (OperationalError, InterfaceError))

    _VERSION_SQL = {  # %s: how many versions are taken
        "postgresql": "UPDATE {t} SET version = GREATEST(version + %s, (EXTRACT(EPOCH FROM clock_timestamp()) "
                      "* 1000000)::bigint + %s - 1) WHERE id = 1 RETURNING version",
        "sqlite": "UPDATE {t} SET version = MAX(version + %s, "
                  "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER) + %s - 1) WHERE id = 1 RETURNING version",
    }
    def next_version(self, count=1):
        """A version for one batch of writes, taken *before* its rows are read: every worker on
        every host takes them from this one counter, so a read made later never carries a smaller
        version than an earlier one's data. Microseconds of the database's clock, kept strictly
        increasing (tombstones are purged by age). On other databases: this host's clock.
        ``count``: that many taken now, the first returned (the batches' versions: it, it + 1, ...)."""
        conn = connections[self.using]
        sql = self._VERSION_SQL.get(conn.vendor)
        if sql is None:
            return local_version(count)
        for _ in range(2):
            with conn.cursor() as cur:
                cur.execute(sql.format(t=conn.ops.quote_name(Clock._meta.db_table)), [count, count])
                row = cur.fetchall()
            if row:
                return row[0][0] - count + 1
            Clock.objects.using(self.using).get_or_create(id=1)  # the row went (a flush): put it back
        raise RuntimeError("the solrsync clock row cannot be written")

    # -- cores being rebuilt, which receive every live write too
    def rebuilds(self, pipeline):
        """The cores being rebuilt for ``pipeline``: asked before each claim and after each read of
        rows, in SQL written out (the ORM compiled it each time: 0.3 ms of CPU, profiled)."""
        conn = connections[self.using]
        with conn.cursor() as cur:
            cur.execute("SELECT core FROM %s WHERE pipeline = %%s" % conn.ops.quote_name(Rebuild._meta.db_table),
                        [pipeline])
            return [row[0] for row in cur.fetchall()]

    def start_rebuild(self, pipeline, core):
        Rebuild.objects.using(self.using).get_or_create(pipeline=pipeline, core=core)

    def end_rebuild(self, pipeline, core=None):
        qs = Rebuild.objects.using(self.using).filter(pipeline=pipeline)
        (qs.filter(core=core) if core else qs).delete()

    # -- the deletes whose tombstones Solr still keeps: a rebuilt core starts with them
    # the tombstones of one delete request in one INSERT, the ids as one parameter (see AMONG):
    # bulk_create cost Django 1.2 ms of CPU for 30 ids, in every batch of changes with deletes
    _DELETES_SQL = {
        "postgresql": "INSERT INTO {t} (pipeline, doc_id, version) SELECT %s, d, %s FROM unnest(%s::text[]) d",
        "sqlite": "INSERT INTO {t} (pipeline, doc_id, version) SELECT %s, value, %s FROM json_each(%s)"}

    def record_deletes(self, pipeline, doc_ids, version):
        if not doc_ids:
            return
        conn = connections[self.using]
        sql = self._DELETES_SQL.get(conn.vendor)
        if sql is None:
            Deleted.objects.using(self.using).bulk_create(
                [Deleted(pipeline=pipeline, doc_id=doc_id, version=version) for doc_id in doc_ids], batch_size=500)
            return
        with conn.cursor() as cur:
            cur.execute(sql.format(t=conn.ops.quote_name(Deleted._meta.db_table)),
                        [pipeline, version, AMONG[conn.vendor][1]([str(doc_id) for doc_id in doc_ids])])

    def deletes(self, pipeline, since_version):
        """{version: [doc ids]} of the deletes sent for ``pipeline`` at ``since_version`` or later."""
        out = {}
        for version, doc_id in Deleted.objects.using(self.using).filter(
                pipeline=pipeline, version__gte=since_version).order_by("version").values_list("version", "doc_id"):
            out.setdefault(version, []).append(doc_id)
        return out

    def forget_deletes(self, before_version):
        Deleted.objects.using(self.using).filter(version__lt=before_version).delete()

    # -- a pipeline's reindex: who runs it, where an interrupted one stopped
    def hold_reindex(self, pipeline, owner, lease_seconds):
        """Take (or renew) the pipeline's reindex for ``owner`` -> None, or, when another owner's
        lease still runs, that owner: one reindex at a time, whichever host starts it."""
        qs = Reindex.objects.using(self.using).filter(pipeline=pipeline)
        free = Q(owner="") | Q(owner=owner) | Q(leased_until__isnull=True) | Q(leased_until__lte=self._now())
        if qs.filter(free).update(owner=owner, leased_until=self._lease_end(lease_seconds)):
            return None
        try:
            with transaction.atomic(using=self.using):
                Reindex.objects.using(self.using).create(pipeline=pipeline, owner=owner,
                                                         leased_until=self._lease_end(lease_seconds))
            return None
        except IntegrityError:  # created meanwhile by another
            return qs.values_list("owner", flat=True).first() or "another process"

    def _reconnecting(self, write):
        """``write()``, once more on a new connection when the last one died under an earlier query
        (a Ctrl-C inside it, a dropped link) and no transaction is open: the progress and the hold's
        release written at an interruption are what let ``--resume`` start at once."""
        try:
            return write()
        except (OperationalError, InterfaceError):
            conn = connections[self.using]
            if conn.in_atomic_block:
                raise
            conn.close()
            return write()

    def release_reindex(self, pipeline, owner):
        self._reconnecting(lambda: Reindex.objects.using(self.using).filter(pipeline=pipeline, owner=owner).update(
            owner="", leased_until=None))

    def reindex_running(self, pipeline):
        """For ``status``: {"owner": who holds the reindex now (or ""), "last_pk": where it got to}, or None."""
        row = Reindex.objects.using(self.using).filter(pipeline=pipeline).first()
        if row is None:
            return None
        held = row.owner and row.leased_until and row.leased_until > self.now()
        state = json.loads(row.state) if row.state else {}
        return {"owner": row.owner if held else "", "last_pk": state.get("last_pk")}

    def reindex_state(self, pipeline):
        state = Reindex.objects.using(self.using).filter(pipeline=pipeline).values_list("state", flat=True).first()
        return json.loads(state) if state else None

    def save_reindex_state(self, pipeline, state, owner="", lease_seconds=0):
        """Where the reindex got to (None: it finished), written after every acknowledged batch.
        With ``owner``, only while that owner still holds the pipeline (its hold renewed with it)
        -> False when it no longer does: progress is never written by a reindex that lost its hold."""
        return self._reconnecting(lambda: self._save_reindex_state(pipeline, state, owner, lease_seconds))

    def _save_reindex_state(self, pipeline, state, owner, lease_seconds):
        fields = {"state": json.dumps(state, default=str) if state is not None else ""}
        qs = Reindex.objects.using(self.using).filter(pipeline=pipeline)
        if owner:
            return bool(qs.filter(owner=owner, leased_until__gt=self._now()).update(
                leased_until=self._lease_end(lease_seconds), **fields))
        if not qs.update(**fields):
            Reindex.objects.using(self.using).get_or_create(pipeline=pipeline, defaults=fields)
        return True

    def renew_reindex(self, pipeline, owner, lease_seconds):
        """Renew ``owner``'s hold -> False when it no longer holds it (ran out, or taken over): a
        hold is renewed only by its holder, before it runs out, never taken back."""
        return bool(Reindex.objects.using(self.using).filter(pipeline=pipeline, owner=owner,
                                                             leased_until__gt=self._now())
                    .update(leased_until=self._lease_end(lease_seconds)))

    # -- leases as fences (solrsync.lease): checked before each step others can see
    def lease_left(self, kind, key, token):
        """-> (seconds the lease still runs, now in microseconds), both by the database's clock, or
        None when it ran out or another holder has it. ``kind``: "changes" (key: a claimed change's
        seq, token: the lease end it was claimed with), "reindex" (key: the pipeline, token: the
        owner), "range" (key: (run, seq), token: the lease end it was claimed with)."""
        if kind not in self._LEASES:
            raise ValueError("no lease of kind %r" % kind)
        model, columns, ends = self._LEASES[kind]
        conn = connections[self.using]
        params = list(key) if kind == "range" else [key]
        params.append(model._meta.get_field("leased_until").get_db_prep_value(token, conn) if ends else token)
        where = " AND ".join("%s = %%s" % conn.ops.quote_name(c) for c in columns)
        if model is ReindexRange:
            where += " AND result IS NULL"
        table = conn.ops.quote_name(model._meta.db_table)
        with conn.cursor() as cur:
            if conn.vendor == "postgresql":  # one round trip: the database's clock read in the same statement
                cur.execute("SELECT leased_until, STATEMENT_TIMESTAMP() FROM %s WHERE %s AND leased_until > "
                            "STATEMENT_TIMESTAMP()" % (table, where), params)
                row = cur.fetchone()
                return row and self._left(*row)
            now = self.now()  # elsewhere Python's clock, as the leases are written
            cur.execute("SELECT leased_until FROM %s WHERE %s AND leased_until > %%s" % (table, where),
                        params + [conn.ops.adapt_datetimefield_value(now)])
            row = cur.fetchone()
        return row and self._left(conn.ops.convert_datetimefield_value(row[0], None, conn), now)

    # lease_left's statement per kind, written out: every post of a drain, every chunk of a
    # reindex or of a range checks one, and the ORM's query building cost ~0.5 ms of CPU a check
    # against 0.02 ms for the statement. (model, the holder's columns, is the token the lease's end?)
    _LEASES = {"changes": (Change, ("seq", "leased_until"), True),
               "reindex": (Reindex, ("pipeline", "owner"), False),
               "range": (ReindexRange, ("run", "seq", "leased_until"), True)}

    @staticmethod
    def _left(until, now):
        if timezone.is_aware(until) != timezone.is_aware(now):  # USE_TZ = False: Now() comes back aware
            now = timezone.make_naive(now)
        aware = now if timezone.is_aware(now) else timezone.make_aware(now)
        return (until - now).total_seconds(), int(aware.timestamp() * 1e6)

    def renew_lease(self, kind, key, token, lease_seconds, seqs=()):
        """Extend a lease this holder still has -> its new token, or None when it ran out or another
        holder has it (a lease is renewed only before it runs out, never taken back). By the
        database's clock. ``kind``/``key``/``token`` as ``lease_left``; "changes" renews the rows
        ``seqs`` of one claim."""
        if kind == "reindex":
            return token if self.renew_reindex(key, token, lease_seconds) else None
        now = self.now()
        new = now + dt.timedelta(seconds=lease_seconds)
        if kind == "changes":
            done = 0
            for i in range(0, len(seqs), 500):
                done += Change.objects.using(self.using).filter(
                    seq__in=seqs[i:i + 500], leased_until=token, leased_until__gt=now).update(leased_until=new)
            return new if done else None
        if kind == "range":
            return new if ReindexRange.objects.using(self.using).filter(
                run=key[0], seq=key[1], leased_until=token, leased_until__gt=now, result__isnull=True).update(
                leased_until=new) else None
        raise ValueError("no lease of kind %r" % kind)

    def close_thread_connection(self):
        """A renewing thread ends: close the connection Django opened for it."""
        connections[self.using].close()

    def record(self, pipeline, pk, doc_id, op, using=None):
        """One INSERT on the saving connection (inside the saver's transaction): this runs in every
        save, so no model instance and no extra round trip."""
        conn = connections[using or self.using]
        if "record_sql" not in self.__dict__:
            q = conn.ops.quote_name
            # stamped by the database's clock, as the triggers stamp theirs (ages are read from it)
            self.record_sql = "INSERT INTO %s (%s) VALUES (%%s, %%s, %%s, %%s, %s, 0)" % (
                q(Change._meta.db_table), ", ".join(q(c) for c in ("pipeline", "object_pk", "doc_id", "op",
                                                                    "created", "attempts")),
                NOW_WITH_PARAMS.get(conn.vendor, "%s"))
        with conn.cursor() as cur:
            cur.execute(self.record_sql, [pipeline, str(pk), doc_id or "", op] + (
                [] if conn.vendor in NOW else [conn.ops.adapt_datetimefield_value(timezone.now())]))

    def now(self):
        """Now by the database's clock. Leases and ages written by one host are read by others,
        whose clocks may be minutes apart: a host running ahead would take every lease for expired
        and push objects another worker is pushing. SQLite serves one host: its clock is the one."""
        conn = connections[self.using]
        if conn.vendor != "postgresql":
            return timezone.now()
        with conn.cursor() as cur:
            cur.execute("SELECT clock_timestamp()")
            now = cur.fetchone()[0]
        return timezone.make_naive(now) if timezone.is_aware(now) and not django_settings.USE_TZ else now

    def _now(self):
        """``now``, as an SQL expression where the database's clock is the one (no round trip)."""
        return Now() if self._vendor() == "postgresql" else self.now()

    def _lease_end(self, seconds):
        if self._vendor() == "postgresql":
            return ExpressionWrapper(Now() + dt.timedelta(seconds=seconds), output_field=DateTimeField())
        return self.now() + dt.timedelta(seconds=seconds)

    def requeue(self, pipeline, items):
        Change.objects.using(self.using).bulk_create(
            [Change(pipeline=pipeline, object_pk=str(pk), doc_id=doc_id or "", op="save", created=self._stamp())
             for pk, doc_id in items])

    def _stamp(self):
        """Now, as ``created`` holds it: SQLite's triggers write UTC text whatever USE_TZ says."""
        now = self.now()
        if self._vendor() == "sqlite" and timezone.is_naive(now):
            return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        return now

    def _claimable(self, pipeline, now):
        return Change.objects.using(self.using).filter(pipeline=pipeline).filter(
            Q(leased_until__isnull=True) | Q(leased_until__lte=now))

    def claim(self, pipeline, limit, lease_seconds, exclusive=True):
        """Lease up to ``limit`` objects' pending rows -> [pipeline.Change]; an object leased by
        another worker is skipped, so two workers never push it at once.

        ``exclusive`` (a core written without versions, or another database): claims run one at a
        time under the pipeline's lock. Otherwise claims exclude each other per object only, and
        each costs the same whatever the backlog: see ``_claim_shared``."""
        if exclusive or self._vendor() not in ("postgresql", "sqlite"):
            return self._claim_exclusive(pipeline, limit, lease_seconds)
        return self._claim_shared(pipeline, limit, lease_seconds)

    def _claim_exclusive(self, pipeline, limit, lease_seconds):
        with transaction.atomic(using=self.using):
            if self._vendor() == "postgresql":
                # claims are short; serialising them makes the "not leased elsewhere" test exact
                with connections[self.using].cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(pipeline.encode()) & 0x7fffffff])
            now = self.now()
            busy = Change.objects.using(self.using).filter(pipeline=pipeline, leased_until__gt=now) \
                .values("object_pk")
            qs = self._claimable(pipeline, now).exclude(object_pk__in=busy).order_by("seq")
            if connections[self.using].features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            picked = list(qs.values_list("seq", "object_pk", "doc_id")[:limit])
            if not picked:
                return []
            objects = {pk for _, pk, _ in picked}
            # take the other pending rows of the same objects too: one push covers them all
            rows = list(self._claimable(pipeline, now).filter(object_pk__in=objects)
                        .values_list("seq", "object_pk", "doc_id", "op"))
            lease = now + dt.timedelta(seconds=lease_seconds)
            Change.objects.using(self.using).filter(seq__in=[r[0] for r in rows]).update(
                leased_until=lease, attempts=F("attempts") + 1)
        return [Pending(seq, pk, doc_id, lease, op) for seq, pk, doc_id, op in rows]

    # A shared claim, in three statements: the objects of the first claimable rows in seq order
    # (pending, or leased by a claim whose lease ran out), read through the primary key, so it
    # passes over only rows in flight (at most workers x batch) and stops at its limit, whatever
    # the backlog; every row of those objects (the object_pk index), so objects another claim
    # holds are left out and one push covers all the rows of the rest; then those rows' lease,
    # in one UPDATE by primary key (on PostgreSQL the last two are one statement, the objects
    # sent as one array literal: psycopg's client-side binding of a list of 4,000 keys cost more
    # than the claim's statements). Concurrent claims exclude each other per object, not per
    # pipeline: on PostgreSQL by a transaction-scoped lock per object taken in the first pick (a
    # claim skips objects another is claiming; what another has claimed, the second statement
    # sees), on SQLite by its one writer at a time. No index holds leased_until: on PostgreSQL the
    # lease is written in place (a HOT update, room kept by the table's fillfactor, migration
    # 0011), with no index entry to add. {t}: the table.
    _SHARED = {
        "postgresql": (
            "SELECT set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true), "
            "set_config('synchronous_commit', 'off', true), clock_timestamp() + make_interval(secs => %(seconds)s)",
            "SELECT DISTINCT object_pk FROM (SELECT object_pk FROM {t} WHERE pipeline = %(p)s AND "
            "(leased_until IS NULL OR leased_until <= clock_timestamp()) AND "
            "pg_try_advisory_xact_lock(%(key)s, hashtext(object_pk)) ORDER BY seq LIMIT %(limit)s) s",
            "WITH r AS (SELECT seq, object_pk, leased_until > clock_timestamp() AS held FROM {t} "
            "WHERE pipeline = %(p)s AND object_pk = ANY(%(objects)s::text[])) "
            "UPDATE {t} c SET leased_until = %(lease)s, attempts = c.attempts + 1 FROM r WHERE c.seq = r.seq AND "
            "NOT EXISTS (SELECT 1 FROM r b WHERE b.object_pk = r.object_pk AND b.held) "
            "RETURNING c.seq, c.object_pk, c.doc_id, c.op",
            None),
        "sqlite": (
            None,
            "SELECT DISTINCT object_pk FROM (SELECT object_pk FROM {t} WHERE pipeline = %(p)s AND "
            "(leased_until IS NULL OR leased_until <= %(now)s) ORDER BY seq LIMIT %(limit)s)",
            "SELECT seq, object_pk, leased_until > %(now)s FROM {t} WHERE pipeline = %(p)s AND object_pk IN "
            "(SELECT value FROM json_each(%(objects)s))",
            "UPDATE {t} SET leased_until = %(lease)s, attempts = attempts + 1 WHERE seq IN "
            "(SELECT value FROM json_each(%(seqs)s)) RETURNING seq, object_pk, doc_id, op"),
    }

    def _claim_shared(self, pipeline, limit, lease_seconds):
        conn = connections[self.using]
        vendor = conn.vendor
        settings, candidates, rows_of, take = (sql and sql.format(t=conn.ops.quote_name(Change._meta.db_table))
                                               for sql in self._SHARED[vendor])
        with transaction.atomic(using=self.using), conn.cursor() as cur:
            if vendor == "postgresql":
                # the planner, misled by a change log grown since its statistics, must not sort the
                # backlog (the primary key's order is the one wanted); a claim lost in a crash only
                # makes its rows claimable again, so its commit does not wait for the disk
                cur.execute(settings, {"seconds": lease_seconds})
                lease = cur.fetchone()[-1]  # timestamptz, as Django's column is
                params = {"p": pipeline, "limit": limit, "lease": lease, "key": zlib.crc32(pipeline.encode()) & 0x7fffffff}
                listed = array_literal
            else:  # the lease as Django writes and filters it (``_ours`` matches rows by it)
                now = self.now()
                lease = now + dt.timedelta(seconds=lease_seconds)
                params = {"p": pipeline, "limit": limit, "now": conn.ops.adapt_datetimefield_value(now),
                          "lease": conn.ops.adapt_datetimefield_value(lease)}
                listed = json.dumps
            cur.execute(candidates, params)
            objects = sorted(row[0] for row in cur.fetchall())
            if not objects:
                return []
            cur.execute(rows_of, dict(params, objects=listed(objects)))
            rows = cur.fetchall()
            if take is not None:  # read and leased in one statement
                busy = {pk for _, pk, held in rows if held}
                seqs = sorted(seq for seq, pk, _ in rows if pk not in busy)
                if not seqs:
                    return []
                cur.execute(take, dict(params, seqs=listed(seqs)))
                rows = cur.fetchall()
        return [Pending(seq, pk, doc_id, lease, op) for seq, pk, doc_id, op in rows]

    def _ours(self, changes):
        """The rows of these changes still held under the lease they were claimed with: when a
        slow worker's lease ran out, another claim (or, on SQLite, a new row reusing a sequence
        number) is not this worker's to delete or release."""
        by_lease = {}
        for c in changes:
            by_lease.setdefault(c.lease, []).append(c.seq)
        for lease, seqs in by_lease.items():
            for i in range(0, len(seqs), 500):
                qs = Change.objects.using(self.using).filter(seq__in=seqs[i:i + 500])
                yield qs.filter(leased_until=lease) if lease is not None else qs

    def _write_ours(self, changes, sql):
        """Run ``sql`` ({t}: the table, {where}: the condition) once per lease on the rows of these
        changes still held under it (see ``_ours``) -> False on a database without ``AMONG``. The
        keys as one parameter: a placeholder per key (the ORM's ``__in``, in slices of 500) cost
        Django and psycopg a parse of the whole statement for every batch (profiled: a drain's
        DELETEs of its change rows and failures, ~10 ms per claim of 500)."""
        conn = connections[self.using]
        among = AMONG.get(conn.vendor)
        if among is None:
            return False
        by_lease = {}
        for c in changes:
            by_lease.setdefault(c.lease, []).append(c.seq)
        with conn.cursor() as cur:
            for lease, seqs in by_lease.items():
                where, params = among[0] % "seq", [among[1](seqs)]
                if lease is not None:
                    where += " AND leased_until = %s"
                    params.append(conn.ops.adapt_datetimefield_value(lease))
                cur.execute(sql.format(t=conn.ops.quote_name(Change._meta.db_table), where=where), params)
        return True

    def release(self, changes):
        if not self._write_ours(changes, "UPDATE {t} SET leased_until = NULL WHERE {where}"):
            for qs in self._ours(changes):
                qs.update(leased_until=None)

    def done(self, changes):
        if not self._write_ours(changes, "DELETE FROM {t} WHERE {where}"):
            for qs in self._ours(changes):
                qs.delete()

    def _age(self, pipeline, agg):
        """Seconds since the newest/oldest claimable change, by the clock that stamped ``created``:
        on PostgreSQL and SQLite the database's (the triggers stamp it there), so USE_TZ and
        TIME_ZONE cannot shift it; elsewhere Python's, which the signal path stamps with."""
        now = self.now()
        conn = connections[self.using]
        if conn.vendor not in AGE:
            moment = self._claimable(pipeline, now).aggregate(m=agg("created"))["m"]
            return None if moment is None else max(0.0, (now - moment).total_seconds())
        with conn.cursor() as cur:
            cur.execute("SELECT %s FROM %s WHERE pipeline = %%s AND (leased_until IS NULL OR leased_until <= %%s)" % (
                AGE[conn.vendor] % ("%s(created)" % agg.function), conn.ops.quote_name(Change._meta.db_table)),
                [pipeline, conn.ops.adapt_datetimefield_value(now)])
            age = cur.fetchone()[0]
        return None if age is None else max(0.0, float(age))

    def newest_age(self, pipeline):
        return self._age(pipeline, Max)

    def oldest_age(self, pipeline):
        return self._age(pipeline, Min)

    def next_lease_expiry(self, pipeline):
        """Seconds until the first lease held on this pipeline's rows runs out, or None."""
        now = self.now()
        moment = Change.objects.using(self.using).filter(pipeline=pipeline, leased_until__gt=now).aggregate(
            m=Min("leased_until"))["m"]
        return None if moment is None else (moment - now).total_seconds()

    def claimable(self, pipeline):
        """Is any of the pipeline's changes free to claim now (not leased)? The drain gate's last look."""
        return self._claimable(pipeline, self._now()).exists()

    def pending_count(self, pipeline):
        return Change.objects.using(self.using).filter(pipeline=pipeline).count()

    def capture(self, pipeline):
        """How this pipeline's changes are recorded (``status``): triggers or signals."""
        return capture_mode(self.pipelines[pipeline], self.using)

    def record_failures(self, pipeline, failures):
        now = self.now()
        for pk, doc_id, message in failures:
            row, created = Failure.objects.using(self.using).get_or_create(
                pipeline=pipeline, object_pk=str(pk), defaults={"doc_id": doc_id or "", "message": message})
            if not created:
                Failure.objects.using(self.using).filter(pk=row.pk).update(
                    message=message, doc_id=doc_id or "", attempts=F("attempts") + 1, last_failed=now)

    def clear_failures(self, pipeline, pks=None, keep=None):
        """Forget the failures of objects since indexed (or deleted) fine: these ``pks``, or with
        ``keep`` (after a full reindex), every failure of the pipeline but those."""
        qs = Failure.objects.using(self.using).filter(pipeline=pipeline)
        if keep is not None:
            keep = {str(p) for p in keep}
            gone = [pk for pk in qs.values_list("object_pk", flat=True) if pk not in keep]
            return self.clear_failures(pipeline, gone)
        pks = [str(p) for p in pks or ()]
        conn = connections[self.using]
        among = AMONG.get(conn.vendor)
        if among is not None and pks:  # one statement, one parameter: see AMONG
            with conn.cursor() as cur:
                cur.execute("DELETE FROM %s WHERE pipeline = %%s AND %s" % (
                    conn.ops.quote_name(Failure._meta.db_table), among[0] % "object_pk"), [pipeline, among[1](pks)])
            return
        for i in range(0, len(pks), 500):
            qs.filter(object_pk__in=pks[i:i + 500]).delete()

    def failures(self, pipeline=None):
        qs = Failure.objects.using(self.using).all()
        return qs.filter(pipeline=pipeline) if pipeline else qs

    def retry_failures(self, ids=None, pipeline=None):
        """Move failures (all, or those with these object pks / doc ids) back into the change log."""
        qs = self.failures(pipeline)
        if ids is not None:
            ids = [str(i) for i in ids]
            qs = qs.filter(Q(object_pk__in=ids) | Q(doc_id__in=ids) | Q(pk__in=[i for i in ids if i.isdigit()]))
        by_pipeline = {}
        with transaction.atomic(using=self.using):
            rows = list(qs)
            for f in rows:
                by_pipeline.setdefault(f.pipeline, []).append((f.object_pk, f.doc_id))
            for name, items in by_pipeline.items():
                self.requeue(name, items)
            qs.filter(pk__in=[f.pk for f in rows]).delete()
        return by_pipeline
