import uuid

from django.db import migrations, models

from fieldtypes.models import POSTGRES

fields = [
    ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
    ("key", models.UUIDField(default=uuid.uuid4, unique=True)),
    ("name", models.CharField(max_length=64)),
    ("count", models.IntegerField(null=True)),
    ("big", models.BigIntegerField(null=True)),
    ("huge", models.PositiveBigIntegerField(null=True)),
    ("ratio", models.FloatField(null=True)),
    ("price", models.DecimalField(decimal_places=4, max_digits=14, null=True)),
    ("flag", models.BooleanField(default=False)),
    ("maybe", models.BooleanField(null=True)),
    ("day", models.DateField(null=True)),
    ("created", models.DateTimeField(null=True)),
    ("at", models.TimeField(null=True)),
    ("took", models.DurationField(null=True)),
    ("meta", models.JSONField(null=True)),
]
if POSTGRES:
    from django.contrib.postgres.fields import ArrayField
    fields.append(("numbers", ArrayField(models.IntegerField(), null=True)))


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [migrations.CreateModel(name="Typed", fields=fields)]
