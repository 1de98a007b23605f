"""Concrete pipelines shipped with solrsync (installed as ``solrsync.pipelines``), and the
settings' PIPELINES resolved to instances: a shipped name, or any class by its dotted path."""
import importlib

from solrsync.config import ConfigError

from .layers import LayerPipeline

PIPELINES = {"layers": LayerPipeline}


def load_pipelines(settings):
    """Settings.PIPELINES -> {name: Pipeline instance}; unknown names are a ConfigError."""
    known = dict(PIPELINES)
    out = {}
    for name, options in settings.PIPELINES.items():
        options = dict(options or {})
        cls = known.get(name)
        if "class" in options:
            cls = import_string(options["class"], "PIPELINES")
        if cls is None:
            raise ConfigError("PIPELINES", "unknown pipeline %r (known: %s; or give {'class': 'dotted.Path'})"
                              % (name, ", ".join(sorted(known)) or "none"))
        pipeline = cls(**options)
        pipeline.name = name
        pipeline.core = settings.core_for(name, pipeline.core or name)
        out[name] = pipeline
    return out


def import_string(path, setting):
    module, _, attr = str(path).replace(":", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(setting, "cannot import %r: %s" % (path, exc))
