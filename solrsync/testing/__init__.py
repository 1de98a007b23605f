"""Testing helpers: a Solr emulator and pytest fixtures (see solrsync.testing.emulator)."""
from .emulator import SolrEmulator, free_port

__all__ = ["SolrEmulator", "free_port"]
