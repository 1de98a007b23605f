"""Concrete pipelines shipped with solrsync (installed as ``solrsync.pipelines``)."""
from .layers import LayerPipeline

PIPELINES = {"layers": LayerPipeline}
