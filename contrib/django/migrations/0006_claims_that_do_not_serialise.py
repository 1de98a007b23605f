"""Claims that do not serialise (see DjangoChangeLog._claim_shared). PostgreSQL: room on each page
of the change log for its rows' lease, written in place by a claim (a HOT update: no index entry,
as no index holds leased_until). SQLite: an index on object_pk, as PostgreSQL has had since 0002:
claims take an object's other pending rows through it (without it, a scan of the backlog). Not a
partial one: a claim would then rewrite its pages (leaving it), and SQLite journals each page."""
from django.db import migrations

FORWARD = {
    "postgresql": ["ALTER TABLE solrsync_change SET (fillfactor = 60)"],
    "sqlite": ["CREATE INDEX IF NOT EXISTS solrsync_change_obj ON solrsync_change (object_pk)"],
}
BACKWARD = {
    "postgresql": ["ALTER TABLE solrsync_change RESET (fillfactor)"],
    "sqlite": ["DROP INDEX IF EXISTS solrsync_change_obj"],
}


def forward(apps, schema_editor):
    for sql in FORWARD.get(schema_editor.connection.vendor, ()):
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    for sql in BACKWARD.get(schema_editor.connection.vendor, ()):
        schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0005_ops_deletes'),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
