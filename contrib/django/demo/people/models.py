"""A swapped user model, GeoNode's way (``AUTH_USER_MODEL = "people.Profile"``: the profile IS the
user, an AbstractUser with columns of its own), and resources it owns and is the contact of.
Installed with SOLRSYNC_DEMO_USERS=1, which swaps the user model: Django wants that from a
database's first ``migrate``, so only on a database of its own (tests/test_custom_user.py)."""
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


def new_uuid():
    return str(uuid.uuid4())


class Profile(AbstractUser):
    organization = models.CharField(max_length=255, blank=True)
    position = models.CharField(max_length=255, blank=True)


class ResourceBase(models.Model):
    uuid = models.CharField(max_length=36, unique=True, default=new_uuid)
    title = models.CharField(max_length=255)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, related_name="owned_resource",
                              on_delete=models.SET_NULL)
    poc = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, related_name="poc_resource",
                            on_delete=models.SET_NULL)


class Dataset(ResourceBase):
    store = models.CharField(max_length=100, blank=True)
