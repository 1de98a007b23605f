"""GeoNode-style map layers -> the ``layers`` core (see solrsync/configsets/layers)."""
from solrsync.documents import BBox, Date, Document, Field, Multi, Text
from solrsync.pipeline import Pipeline


class LayerDocument(Document):
    id = Field("uuid")
    name = Field("name")
    title = Text("title")
    abstract = Text("abstract")
    bbox = BBox("bbox_x0", "bbox_x1", "bbox_y0", "bbox_y1")
    category = Field("category.identifier")
    modified_date = Date("date")
    username = Field("owner.username")
    keywords = Multi("keywords", attr="name")
    regions = Multi("regions", attr="name")


class LayerPipeline(Pipeline):
    name = "layers"
    model = "layers.Layer"
    core = "layers"
    document = LayerDocument
    filter = {"is_published": True}
    select_related = ("category", "owner")
    prefetch_related = ("keywords", "regions")
    watch_m2m = ("keywords", "regions")
    modified_field = "last_updated"
