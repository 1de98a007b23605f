"""Testing helpers: a Solr emulator and pytest fixtures (see solrsync.testing.emulator)."""
from .emulator import SolrEmulator

__all__ = ["SolrEmulator"]
