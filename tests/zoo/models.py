"""One small model per shape real Django projects use (issue 19), and a GeoNode-shaped resource
set (issue 26): the test suite's model zoo. Installed in the demo project only when
SOLRSYNC_DEMO_ZOO=1 (the test fixture sets it)."""
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from polymorphic.models import PolymorphicModel
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase


def new_uuid():
    return str(uuid.uuid4())


# ------------------------------------------------------------------ multi-table inheritance, proxy
class Place(models.Model):
    name = models.CharField(max_length=100)
    city = models.CharField(max_length=100, blank=True)


class Restaurant(Place):
    """A child with no column of its own but the parent link: every value lives on Place."""


class Bar(Place):
    """Restaurant's sibling: its changes must never reach Restaurant's pipeline."""
    happy_hour = models.BooleanField(default=False)


class BigPlace(Place):
    class Meta:
        proxy = True


# ------------------------------------------------------------------ reverse one-to-one, deep paths
class Org(models.Model):
    name = models.CharField(max_length=100)


class Profile(models.Model):
    """A user's profile as a model of its own (a swapped AUTH_USER_MODEL, the profile being the
    user, is the people app's: tests/test_custom_user.py)."""
    user = models.OneToOneField(settings.AUTH_USER_MODEL, related_name="zoo_profile", on_delete=models.CASCADE)
    org = models.ForeignKey(Org, null=True, blank=True, on_delete=models.SET_NULL)


class Article(models.Model):
    title = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)


class Chapter(models.Model):
    """Points at an article (a reverse foreign key seen from Article)."""
    article = models.ForeignKey(Article, related_name="chapters", on_delete=models.CASCADE)
    heading = models.CharField(max_length=100)


# ------------------------------------------------------------------ generic relations, taggit
class Comment(models.Model):
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveIntegerField()
    content_object = GenericForeignKey()
    text = models.CharField(max_length=100)


class Post(models.Model):
    title = models.CharField(max_length=100)
    comments = GenericRelation(Comment)
    tags = TaggableManager(blank=True)  # taggit's default TaggedItem: a generic relation


# ------------------------------------------------------------------ django-polymorphic
class Asset(PolymorphicModel):
    label = models.CharField(max_length=100)


class Photo(Asset):
    width = models.IntegerField(default=0)


class Video(Asset):
    seconds = models.IntegerField(default=0)


# ------------------------------------------------------------------ GeoNode-shaped
class TopicCategory(models.Model):
    identifier = models.CharField(max_length=64)
    description = models.CharField(max_length=255, blank=True)


class Region(models.Model):
    code = models.CharField(max_length=16)
    name = models.CharField(max_length=100)


class TaggedContentItem(TaggedItemBase):
    """GeoNode's custom taggit through model: a foreign key to ResourceBase, not a generic one."""
    content_object = models.ForeignKey("ResourceBase", on_delete=models.CASCADE)


class ResourceBase(PolymorphicModel):
    uuid = models.CharField(max_length=36, unique=True, default=new_uuid)
    title = models.CharField(max_length=255)
    abstract = models.TextField(blank=True)
    date = models.DateTimeField(null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    category = models.ForeignKey(TopicCategory, null=True, blank=True, on_delete=models.SET_NULL)
    regions = models.ManyToManyField(Region, blank=True)
    keywords = TaggableManager(through=TaggedContentItem, blank=True)
    bbox_x0 = models.FloatField(null=True, blank=True)
    bbox_x1 = models.FloatField(null=True, blank=True)
    bbox_y0 = models.FloatField(null=True, blank=True)
    bbox_y1 = models.FloatField(null=True, blank=True)
    is_published = models.BooleanField(default=True)


class Layer(ResourceBase):
    store = models.CharField(max_length=100, blank=True)


class Map(ResourceBase):
    zoom = models.IntegerField(default=0)
