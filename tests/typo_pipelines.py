"""Pipelines with mistakes, for the start-up checks (``{"class": "typo_pipelines.TypoPipeline"}``)."""
from solrsync.documents import BBox, Document, Field, Multi, Text
from solrsync.pipeline import Pipeline


class TypoDocument(Document):
    id = Field("uuid")
    title = Text("titel")
    username = Field("ownr.username")
    keywords = Multi("keywords", attr="nmae")
    bbox = BBox("bbox_x0", "bbox_x1", "bbox_y0", "bbox_y")
    computed = Field(fn=lambda row: row.anything_at_all, depends=["category.identifer"])


class TypoPipeline(Pipeline):
    model = "layers.Layer"
    core = "layers"
    document = TypoDocument
    filter = {"is_publishd": True}
    select_related = ("keywords",)
    prefetch_related = ("regons",)
    watch_m2m = ("category",)
    depends = ("owner.emial",)
    modified_field = "last_update"
