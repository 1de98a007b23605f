"""A pipeline copying every field as it is (``SOLRSYNC_PIPELINES='{"typed": {"class":
"fieldtypes.pipelines.TypedPipeline"}}'``): solrsync turns each value into its Solr type's form."""
from solrsync.documents import Document, Field, Text
from solrsync.pipeline import Pipeline

from .models import POSTGRES

NAMES = ["name", "count", "big", "huge", "ratio", "price", "flag", "maybe", "day", "created", "at", "took",
         "meta"] + (["numbers"] if POSTGRES else [])

TypedDocument = type("TypedDocument", (Document,), dict({"id": Field("key")}, **{n: Field(n) for n in NAMES}))


class TypedPipeline(Pipeline):
    name = "typed"
    model = "fieldtypes.Typed"
    document = TypedDocument


class LongKeyDocument(Document):
    id = Field("doc")
    title = Text("title")


class LongKeyPipeline(Pipeline):
    """Primary keys and document ids of any length (``LongKey``)."""
    name = "longkeys"
    model = "fieldtypes.LongKey"
    document = LongKeyDocument
