"""A pipeline per zoo shape; ``PIPELINES`` is the SOLRSYNC["PIPELINES"] the zoo tests configure.
Fields the demo's schema does not name use its dynamic suffixes (_s, _ss, _i, _b)."""
from solrsync.documents import BBox, Date, Document, Field, Multi, Text
from solrsync.pipeline import Pipeline


class PlaceDocument(Document):
    id = Field("pk")
    name = Text("name")
    city_s = Field("city")


class RestaurantPipeline(Pipeline):
    """A child's document reading only its parent's columns."""
    name = "restaurants"
    model = "zoo.Restaurant"
    core = "zoo"
    document = PlaceDocument


class BigPlacePipeline(Pipeline):
    """A proxy model."""
    name = "bigplaces"
    model = "zoo.BigPlace"
    core = "zoo"
    document = PlaceDocument


class PlaceWithBarDocument(PlaceDocument):
    happy_hour_b = Field("bar.happy_hour")


class PlacePipeline(Pipeline):
    """A parent's pipeline reading a child's column (the reverse parent link)."""
    name = "places"
    model = "zoo.Place"
    core = "zoo"
    document = PlaceWithBarDocument


class ArticleDocument(Document):
    id = Field("pk")
    title = Text("title")
    org_s = Field("owner.zoo_profile.org.name")   # forward FK, reverse one-to-one, forward FK
    chapters_ss = Multi("chapters", attr="heading")  # reverse FK


class ArticlePipeline(Pipeline):
    name = "articles"
    model = "zoo.Article"
    core = "zoo"
    document = ArticleDocument


class PostDocument(Document):
    id = Field("pk")
    title = Text("title")
    comments_ss = Multi("comments", attr="text")   # a GenericRelation
    tags_ss = Multi("tags", attr="name")           # taggit's default (generic) TaggedItem


class PostPipeline(Pipeline):
    name = "posts"
    model = "zoo.Post"
    core = "zoo"
    document = PostDocument


class CommentDocument(Document):
    id = Field("pk")
    text_s = Field("text")
    on_s = Field("content_object.title")        # a generic foreign key (Post declares the GenericRelation)


class CommentPipeline(Pipeline):
    name = "comments"
    model = "zoo.Comment"
    core = "zoo"
    document = CommentDocument


class PhotoDocument(Document):
    id = Field("pk")
    label_s = Field("label")
    width_i = Field("width")


class PhotoPipeline(Pipeline):
    """A django-polymorphic child."""
    name = "photos"
    model = "zoo.Photo"
    core = "zoo"
    document = PhotoDocument


class ResourceDocument(Document):
    """GeoNode's search document, shaped as the GeoNode tutorial's."""
    id = Field("uuid")              # the parent's column
    title = Text("title")
    abstract = Text("abstract")
    modified_date = Date("date")
    bbox = BBox("bbox_x0", "bbox_x1", "bbox_y0", "bbox_y1")
    category = Field("category.identifier")
    username = Field("owner.username")
    regions = Multi("regions", attr="name")
    keywords = Multi("keywords", attr="name")   # taggit through the custom TaggedContentItem


class LayerDocument(ResourceDocument):
    store_s = Field("store")


class MapDocument(ResourceDocument):
    id = Field("resourcebase_ptr.uuid")
    zoom_i = Field("zoom")


class LayerPipeline(Pipeline):
    name = "zoo_layers"
    model = "zoo.Layer"
    core = "zoo_layers"
    document = LayerDocument
    filter = {"is_published": True}


class MapPipeline(Pipeline):
    name = "zoo_maps"
    model = "zoo.Map"
    core = "zoo_maps"
    document = MapDocument
    filter = {"is_published": True}


PIPELINES = {name: {"class": "zoo.pipelines.%s" % cls} for name, cls in (
    ("restaurants", "RestaurantPipeline"), ("bigplaces", "BigPlacePipeline"), ("places", "PlacePipeline"),
    ("articles", "ArticlePipeline"), ("posts", "PostPipeline"), ("photos", "PhotoPipeline"),
    ("comments", "CommentPipeline"),
    ("zoo_layers", "LayerPipeline"), ("zoo_maps", "MapPipeline"))}
