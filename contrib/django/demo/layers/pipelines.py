"""The demo's second pipeline: maps, with a UUIDField id, into the same core as layers (two
pipelines sharing a core: each prunes, verifies and counts its own documents)."""
from solrsync.documents import Document, Field, Text
from solrsync.pipeline import Pipeline


class MapDocument(Document):
    id = Field("pk")
    title = Text("title")
    category = Field("category.identifier")


class MapPipeline(Pipeline):
    name = "maps"
    model = "layers.Map"
    core = "layers"
    document = MapDocument
