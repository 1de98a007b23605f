"""The primary-key ranges of a reindex run through the queue (``ReindexRanges``), kept in Django's
database: handed out one claim at a time under a lease, their results stored for the command that
accounts for them, the ranges given up on kept for ``status``. Part of ``DjangoChangeLog``."""
import datetime as dt
import json

from django.db import connections, transaction
from django.db.models import F, Q

from .models import RangeFailure, ReindexRange


class ReindexRanges:
    """The change log's ranges of a reindex through the queue (``store.DjangoChangeLog`` is one):
    ``self.using`` the database, ``self.now()`` / ``self._now()`` its clock."""

    def add_ranges(self, run, ranges):
        """``ranges``: [(seq, first pk, last pk)], handed out in this order. A key JSON has no type
        for (a UUID) is kept as its text, which a lookup on that key takes back."""
        ReindexRange.objects.using(self.using).bulk_create(
            [ReindexRange(run=run, seq=seq, first=json.dumps(first, default=str), last=json.dumps(last, default=str))
             for seq, first, last in ranges])

    def claim_range(self, run, owner, lease_seconds, max_attempts=None):
        """The first range of ``run`` nobody holds (never claimed, or its lease ran out) and not
        given up (claimed ``max_attempts`` times already) -> (seq, first, last, lease), claimed for
        ``owner``; or None."""
        with transaction.atomic(using=self.using):
            now = self.now()
            qs = ReindexRange.objects.using(self.using).filter(run=run, result__isnull=True)
            if max_attempts:
                qs = qs.filter(attempts__lt=max_attempts)
            qs = qs.filter(
                Q(leased_until__isnull=True) | Q(leased_until__lte=now)).order_by("seq")
            if connections[self.using].features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            row = qs.values_list("id", "seq", "first", "last").first()
            if row is None:
                return None
            lease = now + dt.timedelta(seconds=lease_seconds)
            ReindexRange.objects.using(self.using).filter(id=row[0]).update(
                leased_until=lease, claimed_by=owner, attempts=F("attempts") + 1)
        return row[1], json.loads(row[2]), json.loads(row[3]), lease

    def finish_range(self, run, seq, lease, result):
        """Store a range's result -> False when its lease ran out (another claim's result counts;
        this worker's posts were versioned and fenced, so they harm nothing)."""
        return bool(ReindexRange.objects.using(self.using).filter(run=run, seq=seq, leased_until=lease,
                                                                 leased_until__gt=self._now(), result__isnull=True)
                    .update(result=json.dumps(result, default=str)))

    def fail_range(self, run, seq, lease, reason):
        """A claim of a range failed: say why on the range and free it for the next claim (only
        while this claim still holds it)."""
        ReindexRange.objects.using(self.using).filter(run=run, seq=seq, leased_until=lease, result__isnull=True) \
            .update(error=reason[:2000], leased_until=None)

    def range_info(self, run, seq):
        """-> (first, last, times claimed, the last failure's reason) of one range."""
        first, last, attempts, error = ReindexRange.objects.using(self.using).filter(run=run, seq=seq).values_list(
            "first", "last", "attempts", "error").get()
        return json.loads(first), json.loads(last), attempts, error

    def record_range_failure(self, pipeline, run, seq, first, last, attempts, reason):
        """A range given up on for good: kept after its run's ranges are dropped (``status``, admin)."""
        RangeFailure.objects.using(self.using).create(pipeline=pipeline, run=run, seq=seq,
                                                      first=json.dumps(first, default=str),
                                                      last=json.dumps(last, default=str), attempts=attempts,
                                                      reason=reason)

    def clear_range_failures(self, pipeline):
        RangeFailure.objects.using(self.using).filter(pipeline=pipeline).delete()

    def range_failures(self, pipeline=None):
        qs = RangeFailure.objects.using(self.using).order_by("-created")
        if pipeline:
            qs = qs.filter(pipeline=pipeline)
        return [(f.pipeline, f.seq, json.loads(f.first), json.loads(f.last), f.attempts, f.reason, f.created)
                for f in qs[:100]]

    def ranges(self, run, after=-1):
        """[(seq, result or None, times claimed, free to claim, why its last claim failed)] of ``run``
        after ``after``, in order."""
        now = self.now()
        out = []
        for seq, result, attempts, leased, error in ReindexRange.objects.using(self.using).filter(
                run=run, seq__gt=after).order_by("seq").values_list("seq", "result", "attempts", "leased_until",
                                                                     "error"):
            free = leased is None or leased <= now
            out.append((seq, json.loads(result) if result else None, attempts, free, error))
        return out

    def drop_ranges(self, run, earlier=False):
        """The ranges of ``run`` (``earlier``: of every run whose name starts so)."""
        ReindexRange.objects.using(self.using).filter(**{"run__startswith" if earlier else "run": run}).delete()
