"""Claims that do not serialise (see DjangoChangeLog.claim): partial indexes on the change log. A
save writes only the pending-rows index (PostgreSQL; SQLite finds pending rows in rowid order, and
reaches other rows of an object through its own pending-rows index on object_pk); the leased-rows
index holds only rows in flight, written by claims, never by a save."""
from django.db import migrations

INDEXES = {
    "postgresql": [
        ("solrsync_change_pending", "(pipeline, seq) WHERE leased_until IS NULL"),
        ("solrsync_change_leased", "(pipeline, leased_until) WHERE leased_until IS NOT NULL"),
    ],
    "sqlite": [
        ("solrsync_change_pending_obj", "(object_pk) WHERE leased_until IS NULL"),
        ("solrsync_change_leased", "(pipeline, leased_until) WHERE leased_until IS NOT NULL"),
    ],
}


def add_indexes(apps, schema_editor):
    for name, definition in INDEXES.get(schema_editor.connection.vendor, ()):
        schema_editor.execute("CREATE INDEX IF NOT EXISTS %s ON solrsync_change %s" % (name, definition))


def drop_indexes(apps, schema_editor):
    for name, _ in INDEXES.get(schema_editor.connection.vendor, ()):
        schema_editor.execute("DROP INDEX IF EXISTS %s" % name)


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0004_reindex_in_the_database'),
    ]

    operations = [
        migrations.RunPython(add_indexes, drop_indexes),
    ]
