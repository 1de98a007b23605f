"""One row, every field type: what ``Field("...")`` copies as it is (no conversion of the user's)."""
import uuid

from django.conf import settings
from django.db import models

POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]


class Typed(models.Model):
    key = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=64)
    count = models.IntegerField(null=True)
    big = models.BigIntegerField(null=True)
    huge = models.PositiveBigIntegerField(null=True)
    ratio = models.FloatField(null=True)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True)
    flag = models.BooleanField(default=False)
    maybe = models.BooleanField(null=True)
    day = models.DateField(null=True)
    created = models.DateTimeField(null=True)
    at = models.TimeField(null=True)
    took = models.DurationField(null=True)
    meta = models.JSONField(null=True)
    if POSTGRES:  # ArrayField is PostgreSQL's
        from django.contrib.postgres.fields import ArrayField
        numbers = ArrayField(models.IntegerField(), null=True)


class LongKey(models.Model):
    """Keys longer than the change log's columns used to be (varchar 64 and 255)."""
    key = models.CharField(primary_key=True, max_length=500)
    doc = models.TextField()  # the document id
    title = models.CharField(max_length=100)
