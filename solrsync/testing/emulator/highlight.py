"""Highlighting."""
from .errors import not_emulated


def highlight(core, params, page, q, df):
    raise not_emulated("highlighting")
