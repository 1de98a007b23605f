"""Cheaper change-log writes (each save writes a row): no AUTOINCREMENT on SQLite, and one index
instead of two -- on PostgreSQL only (see the note on models.Change)."""
from django.db import migrations

import solrsync.contrib.django.models

PG_INDEX = "solrsync_change_obj"


def add_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('CREATE INDEX IF NOT EXISTS %s ON solrsync_change (object_pk)' % PG_INDEX)


def drop_postgres_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS %s" % PG_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='change',
            name='solrsync_change_pipe_seq',
        ),
        migrations.RemoveIndex(
            model_name='change',
            name='solrsync_change_pipe_obj',
        ),
        migrations.AlterField(
            model_name='change',
            name='seq',
            field=solrsync.contrib.django.models.SequenceField(primary_key=True, serialize=False),
        ),
        migrations.RunPython(add_postgres_index, drop_postgres_index),
    ]
