"""``SOLRSYNC_PIPELINES='{"areas": {"class": "geo.pipelines.AreaPipeline"}}'``."""
from solrsync.documents import BBox, Document, Field, Text
from solrsync.pipeline import Pipeline


class AreaDocument(Document):
    id = Field("pk")
    title = Text("title")
    bbox = BBox("bbox_polygon")
    ll_bbox = BBox("ll_bbox_polygon")
    footprint = BBox("footprint")
    centre = BBox("centre")


class AreaPipeline(Pipeline):
    name = "areas"
    model = "geo.Area"
    document = AreaDocument
