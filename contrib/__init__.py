"""Integrations (installed as ``solrsync.contrib``)."""
