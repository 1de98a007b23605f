"""Faceting."""
from .errors import not_emulated


def facets(core, params, hits, extra):
    raise not_emulated("faceting")
