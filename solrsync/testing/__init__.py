"""Testing helpers: a Solr emulator and pytest fixtures (see solrsync.testing.emulator)."""

__all__ = ["SolrEmulator", "free_port"]


def __getattr__(name):
    # Lazy, so `python -m solrsync.testing.emulator` does not find the module already imported
    # by its package (runpy's "found in sys.modules" RuntimeWarning).
    if name in __all__:
        from . import emulator
        return getattr(emulator, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
