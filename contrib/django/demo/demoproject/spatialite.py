"""An ``sqlite3`` module that loads extensions, for GeoDjango's SpatiaLite backend.

CPython built without ``--enable-loadable-sqlite-extensions`` (pyenv's default) has no
``Connection.enable_load_extension``, and Django's SpatiaLite backend then refuses to connect.
``pysqlite3`` built from source links the system's libsqlite3 -- the one the system's
mod_spatialite is built for -- with extension loading on (``pip install --no-binary pysqlite3
pysqlite3``; ``make install`` does it). Not its binary wheels: they bundle a newer SQLite (3.53)
on which SpatiaLite 5.0.1's metadata triggers fail (``migrate``: "error in trigger
ISO_metadata_reference_row_id_value_insert: no such column: rowid"). ``use_loadable_sqlite3()``
puts it in place of ``sqlite3`` before Django imports its SQLite backend; the standard module is
kept when it can load extensions itself."""
import sys


def loadable_sqlite3():
    """-> (the sqlite3 module to use, None), or (None, why there is none)."""
    import sqlite3  # as sys.modules holds it now (an optional dependency may stand in for it)
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3, None
    try:
        # an optional dependency (the [gis] extra)
        import pysqlite3
        import pysqlite3.dbapi2
    except ImportError:
        return None, ("this Python's sqlite3 cannot load extensions (built without "
                      "--enable-loadable-sqlite-extensions) and pysqlite3 is not installed "
                      "(make install builds it; it needs libsqlite3-dev)")
    if not hasattr(pysqlite3.dbapi2.Connection, "enable_load_extension"):
        return None, "neither sqlite3 nor pysqlite3 can load extensions"
    return pysqlite3, None


def use_loadable_sqlite3():
    """Make ``import sqlite3`` give a module that loads extensions, if one is installed (Django's
    SQLite backend imports ``sqlite3.dbapi2``: call this before it is imported)."""
    module, _ = loadable_sqlite3()
    if module is not None and module.__name__ != "sqlite3":
        sys.modules["sqlite3"] = module
        sys.modules["sqlite3.dbapi2"] = module.dbapi2
