"""The shared version counter (one row) and the cores being rebuilt."""
from django.db import migrations, models
import django.utils.timezone


def first_row(apps, schema_editor):
    apps.get_model("solrsync", "Clock").objects.using(schema_editor.connection.alias).get_or_create(id=1)


class Migration(migrations.Migration):

    dependencies = [
        ('solrsync', '0002_change_log_for_cheaper_writes'),
    ]

    operations = [
        migrations.CreateModel(
            name='Clock',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('version', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='Rebuild',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('pipeline', models.CharField(max_length=64)),
                ('core', models.CharField(max_length=255)),
                ('started', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'unique_together': {('pipeline', 'core')},
            },
        ),
        migrations.RunPython(first_row, migrations.RunPython.noop),
    ]
