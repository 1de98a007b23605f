"""The change log without the CHECK (attempts >= 0) a PositiveIntegerField brought (issue 22, the
save path). PostgreSQL prepares a table's CHECK expressions afresh for every statement that
inserts into it, and on PostgreSQL that statement is a trigger's INSERT in every save: ~3-4 us of
the database's time per save, for a counter only solrsync writes (0, then +1 per claim). SQLite
compiles it into the trigger's statement once, and Django would rebuild its table for the change,
dropping the index 0006 made in raw SQL: its schema stays as it is (as in 0008)."""
from django.db import migrations, models


def _checks(schema_editor):
    """Names of the CHECK constraints on solrsync_change.attempts (PostgreSQL named the one
    0001's CREATE TABLE made; a database migrated another way may have another name)."""
    conn = schema_editor.connection
    with conn.cursor() as cur:
        found = conn.introspection.get_constraints(cur, "solrsync_change")
    return sorted(name for name, c in found.items() if c["check"] and c["columns"] == ["attempts"])


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        for name in _checks(schema_editor):
            schema_editor.execute("ALTER TABLE solrsync_change DROP CONSTRAINT %s" % schema_editor.quote_name(name))


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite" and not _checks(schema_editor):
        schema_editor.execute("ALTER TABLE solrsync_change ADD CONSTRAINT solrsync_change_attempts_check "
                              "CHECK (attempts >= 0)")


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0009_queue_range_failures'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward)],
            state_operations=[migrations.AlterField(model_name="change", name="attempts",
                                                    field=models.IntegerField(default=0))]),
    ]
