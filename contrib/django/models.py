"""The change log (a transactional outbox) and the record of documents Solr refused."""
from django.db import models
from django.utils import timezone


class SequenceField(models.BigAutoField):
    """An auto-increment key without SQLite's AUTOINCREMENT: that keyword makes every insert also
    update the sqlite_sequence table -- a page more to write in every save's transaction. A
    sequence number SQLite reuses (after the newest row is deleted) is harmless: workers delete
    rows only under the lease they claimed them with."""

    def db_type_suffix(self, connection):
        return None if connection.vendor == "sqlite" else super().db_type_suffix(connection)


class Change(models.Model):
    """A pending change, written in the same transaction as the change itself.

    Workers lease rows while they push them (``leased_until``) and delete exactly the rows they
    pushed; a lease that runs out (a killed worker) makes the rows claimable again."""
    seq = SequenceField(primary_key=True)
    pipeline = models.CharField(max_length=64)
    # text: any key the user's tables hold (a CharField primary key of 100 characters, a document id of
    # 1,000); a varchar(64) made the trigger's insert fail, and with it the user's save (migration 0008).
    # The index on object_pk is bounded like the user's own primary key index on that same value.
    object_pk = models.TextField()
    doc_id = models.TextField(blank=True)
    op = models.CharField(max_length=8, choices=[("save", "save"), ("delete", "delete")])
    created = models.DateTimeField(default=timezone.now)
    leased_until = models.DateTimeField(null=True, blank=True)
    # not a PositiveIntegerField: its CHECK cost every save's trigger INSERT on PostgreSQL (0010)
    attempts = models.IntegerField(default=0)

    # Indexes: every index is one more page written in every save's transaction. Claims scan in
    # seq (primary key) order and stop at their limit. On PostgreSQL, migration 0002 adds an
    # index on object_pk (claims look up the other rows of the objects they take; a backlog of
    # 200,000 drains 1.6x faster with it). On SQLite it cost a save ~70 us -- the page is
    # journaled and synced with the commit -- so SQLite goes without it.

    def __str__(self):
        return "%s %s %s" % (self.pipeline, self.op, self.object_pk)


class Failure(models.Model):
    """A document Solr rejected (HTTP 400): not retried until someone asks (``solrsync retry``)."""
    pipeline = models.CharField(max_length=64)
    object_pk = models.TextField()  # any key (see Change)
    doc_id = models.TextField(blank=True)
    message = models.TextField()
    attempts = models.PositiveIntegerField(default=1)
    first_failed = models.DateTimeField(default=timezone.now)
    last_failed = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("pipeline", "object_pk")]
        ordering = ["-last_failed"]

    def __str__(self):
        return "%s %s: %s" % (self.pipeline, self.doc_id or self.object_pk, self.message[:80])


class Clock(models.Model):
    """The version counter every worker on every host shares: one row, advanced by one UPDATE per
    batch to max(last + 1, the database's clock in microseconds). Solr keeps, per document, only
    the write with the highest version, so whatever order requests land in, the newest read wins.
    Taken from the database (never a host's clock): hosts may disagree, the database does not."""
    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    version = models.BigIntegerField(default=0)


class Rebuild(models.Model):
    """A core being rebuilt (``reindex --swap``): until it goes live, every batch the live sync
    pushes is pushed there too, so no change made during the rebuild is lost by the swap."""
    pipeline = models.CharField(max_length=64)
    core = models.CharField(max_length=255)
    started = models.DateTimeField(default=timezone.now)

    class Meta:
        unique_together = [("pipeline", "core")]

    def __str__(self):
        return "%s -> %s" % (self.pipeline, self.core)


class Deleted(models.Model):
    """A delete solrsync sent to a pipeline's core, kept as long as its tombstone is kept in Solr
    (TOMBSTONE_SECONDS): a rebuilt core is given these tombstones before it goes live, so a late
    write older than a delete cannot resurrect the document across a swap. (Solr's /select never
    shows tombstones, so they cannot be read back from the live core.)"""
    pipeline = models.CharField(max_length=64)
    doc_id = models.TextField()  # any id (see Change)
    version = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["pipeline", "version"], name="solrsync_deleted_version")]

    def __str__(self):
        return "%s %s at %d" % (self.pipeline, self.doc_id, self.version)


class Reindex(models.Model):
    """A pipeline's reindex, kept in the database so any host sees it: while it runs, who runs it
    (``owner``, under a lease renewed every batch: one periodic resync at a time across every
    consumer on every host, and a killed one frees the pipeline when its lease runs out); after an
    interruption, where it stopped (``state``, JSON) for ``reindex --resume`` on any host."""
    pipeline = models.CharField(max_length=64, primary_key=True)
    state = models.TextField(blank=True)
    owner = models.CharField(max_length=255, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return "%s reindex (%s)" % (self.pipeline, self.owner or "idle")


class ReindexRange(models.Model):
    """One primary-key range of a reindex through the queue (``reindex --via-queue``): a consumer
    on any host claims it under a lease, reads, builds and posts its rows, and stores what came of
    it in ``result`` (JSON); a range whose consumer died is claimed again once its lease runs out.
    The command that started the run accounts for the ranges in order."""
    run = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    first = models.TextField()   # JSON: the key keeps its type
    last = models.TextField()
    leased_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    result = models.TextField(null=True, blank=True)
    error = models.TextField(blank=True, default="")  # why its last claim failed

    class Meta:
        unique_together = [("run", "seq")]


class RangeFailure(models.Model):
    """A range of a reindex through the queue given up on after MAX_ATTEMPTS claims, and why:
    the reindex ended with exit 1 naming it. Kept after the run's ranges are dropped."""
    pipeline = models.CharField(max_length=255)
    run = models.CharField(max_length=64)
    seq = models.PositiveIntegerField()
    first = models.TextField()
    last = models.TextField()
    attempts = models.PositiveIntegerField()
    reason = models.TextField()
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return "%s #%d" % (self.run, self.seq)
