"""``SOLRSYNC_PIPELINES='{"datasets": {"class": "people.pipelines.DatasetPipeline"}}'``: a child
(multi-table inheritance) whose document reads its owner's and its contact's columns, the
user model's own (organization) and AbstractUser's (username, names)."""
from solrsync.documents import Document, Field, Text
from solrsync.pipeline import Pipeline


class DatasetDocument(Document):
    id = Field("uuid")  # the parent's column
    title = Text("title")
    store_s = Field("store")
    owner_s = Field("owner.username")
    owner_name_s = Field("owner.first_name")
    organization_s = Field("owner.organization")
    poc_s = Field("poc.username")
    poc_position_s = Field("poc.position")


class DatasetPipeline(Pipeline):
    name = "datasets"
    model = "people.Dataset"
    document = DatasetDocument
