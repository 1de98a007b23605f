"""A GeoNode-like layer: the fields GeoNode's ResourceBase keeps for search."""
import uuid

from django.conf import settings
from django.db import models


def new_uuid():
    return str(uuid.uuid4())


class Category(models.Model):
    identifier = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)

    def __str__(self):
        return self.identifier


class Keyword(models.Model):
    name = models.CharField(max_length=100, unique=True)

    def __str__(self):
        return self.name


class Region(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self):
        return self.name


class Layer(models.Model):
    uuid = models.CharField(max_length=36, unique=True, default=new_uuid)
    name = models.CharField(max_length=128)
    title = models.CharField(max_length=255)
    abstract = models.TextField(blank=True)
    bbox_x0 = models.FloatField(null=True, blank=True)
    bbox_x1 = models.FloatField(null=True, blank=True)
    bbox_y0 = models.FloatField(null=True, blank=True)
    bbox_y1 = models.FloatField(null=True, blank=True)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    date = models.DateTimeField()
    last_updated = models.DateTimeField(auto_now=True, db_index=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    keywords = models.ManyToManyField(Keyword, blank=True)
    regions = models.ManyToManyField(Region, blank=True)
    is_published = models.BooleanField(default=True)

    def __str__(self):
        return self.title


class Map(models.Model):
    """A model whose id is a UUIDField (SQLite stores 32 hex digits, str() has dashes): tests
    that the triggers write the id Python would."""
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    title = models.CharField(max_length=255)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self):
        return self.title
