"""Reads through the ORM at the speed of the rows: Django compiles a query, solrsync runs it and
converts its values as Django would (``fetch_values``); a query that differs from call to call
only in its keys compiled once (``Reused``); a list of keys as one parameter (``among``, ``AMONG``)."""
import datetime as dt
import json

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F, Lookup
from django.utils.dateparse import parse_datetime


def _integers(keys):
    """Are ``keys`` all plain integers (no booleans, no text)? One pass in C: a generator's step per
    key was a claim's largest cost in Python after its rows (profiled)."""
    return bool(keys) and set(map(type, keys)) == {int}


def array_literal(keys):
    """Keys (integers or text) as one PostgreSQL array literal: one string for psycopg to quote, where
    a list is dumped by psycopg's client-side binding element by element, in Python (profiled: most
    of a claim's CPU in the worker, and again for its failures' DELETE)."""
    if _integers(keys):
        return "{%s}" % ",".join(map(str, keys))
    keys = [str(k) for k in keys]
    if not keys:
        return "{}"
    probe = "".join(keys)
    if '"' in probe or "\\" in probe:  # rare: each key escaped
        keys = [k.replace("\\", "\\\\").replace('"', '\\"') for k in keys]
    return '{"%s"}' % '","'.join(keys)


# a column among a list of keys, as one parameter, per database: (the condition, %s the column;
# the keys as that parameter)
AMONG = {"postgresql": ("%s = ANY(%%s)", array_literal),
         "sqlite": ("%s IN (SELECT value FROM json_each(%%s))", lambda keys: json.dumps(keys, default=str))}


class _AnyOf(Lookup):
    """``column = ANY(%s)``: a list of keys as one array parameter. Django's ``__in`` writes a
    placeholder per key, which Django and psycopg each process again for every query (a third of
    a related set's streaming time, profiled). ``rhs``: (keys, filter only); filter only writes
    ``(column + 0)``, which no index serves, so the planner scans the keys' range by the index
    and checks the list as a hashed filter (an index condition of a thousand keys is costed as
    a thousand descents, and the planner then prefers to scan the whole table)."""
    lookup_name = "solrsync_any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        keys, filter_only = self.rhs
        field = self.lhs.output_field
        # integers as one array literal: psycopg's client-side binding quotes a list element by element
        values = array_literal(keys) if filter_only else [field.get_db_prep_value(v, connection) for v in keys]
        return "%s = ANY(%%s::%s[])" % ("(%s + 0)" % lhs if filter_only else lhs, field.rel_db_type(connection)), \
            list(params) + [values]

    def as_sqlite(self, compiler, connection):
        """On SQLite the keys as one JSON array (a placeholder per key cost Django more than the
        read itself: profiled, a quarter of a drain's CPU)."""
        lhs, params = self.process_lhs(compiler, connection)
        keys, filter_only = self.rhs
        field = self.lhs.output_field
        values = keys if filter_only else [field.get_db_prep_value(v, connection) for v in keys]
        condition, listed = AMONG["sqlite"]
        return condition % lhs, list(params) + [listed(values)]


def among(qs, name, keys):
    """``qs`` filtered to the rows whose ``name`` is one of ``keys``. Integer keys are also
    bounded by their lowest and highest, read through the index: PostgreSQL otherwise plans a
    list of a thousand keys as a scan of the whole table for each page of a related set or batch
    of changes (its cost grows with the table, not with the keys); within the range, pages read
    in key order pass over the table once in all; keys that fill their range are read by it
    alone. Only for integers: text keys sort by the database's collation, not Python's."""
    keys = list(keys)
    vendor = connections[qs.db].vendor
    shape = integer_shape(keys, vendor)
    if shape is not None:
        return shape[0](qs, name, *shape[1])
    if _integers(keys):  # another database: the range, then the keys as Django lists them
        qs = _in_range(qs, name, min(keys), max(keys))
    elif keys and vendor in ("postgresql", "sqlite"):
        return qs.filter(_AnyOf(F(name), (keys, False)))
    return qs.filter(**{name + "__in": keys})


def _in_range(qs, name, low, high):
    return qs.filter(**{name + "__gte": low, name + "__lte": high})


def _in_range_among(qs, name, low, high, keys):
    return _in_range(qs, name, low, high).filter(_AnyOf(F(name), (keys, True)))


def integer_shape(keys, vendor):
    """How ``among`` reads integer ``keys`` on ``vendor``'s database -> (build, args), the query being
    ``build(qs, name, *args)``: the same build for every key list of that shape, so its SQL compiled
    once serves them all (``Reused``); None for other keys or databases."""
    if not _integers(keys):
        return None
    low, high = min(keys), max(keys)
    if high - low + 1 == len(set(keys)):  # every key of the range: the range says it all
        return _in_range, (low, high)
    if vendor in ("postgresql", "sqlite"):
        return _in_range_among, (low, high, keys)
    return None


def fetch_values(qs, *lookups):
    """``qs.values_list(*lookups)`` as a list of rows, fetched whole: Django's iterator fetches a
    hundred rows at a time and passes each row through a chain of generators, 2 µs of the 5.5 a
    reindexed row took to read (profiled). Django's converters still apply (SQLite's dates)."""
    return _Read(qs, lookups).fetch()


class _Read:
    """``qs.values_list(*lookups)`` compiled by Django: its SQL and parameters, run by ``fetch``
    (with other parameters: see ``Reused``)."""

    def __init__(self, qs, lookups):
        self.qs, self.lookups = qs, lookups
        self.compiler = qs.values_list(*lookups).query.get_compiler(using=qs.db)
        try:
            self.sql, self.params = self.compiler.as_sql()
        except EmptyResultSet:
            self.sql, self.params = None, ()
        self.fields = [s[0] for s in self.compiler.select[:self.compiler.col_count]]
        self.composite = bool(getattr(self.compiler, "has_composite_fields", None)
                              and self.compiler.has_composite_fields(self.fields))

    def fetch(self, params=None):
        if self.sql is None:
            return []
        if self.composite:  # a composite key's columns are put together by Django
            return list(self.qs.values_list(*self.lookups))
        compiler = self.compiler
        with connections[self.qs.db].cursor() as cursor:
            _dates_in_c(cursor, compiler.connection)
            cursor.execute(self.sql, self.params if params is None else params)
            rows = cursor.fetchall()
        if compiler.has_extra_select:
            rows = [row[:compiler.col_count] for row in rows]
        converters = compiler.get_converters(self.fields)
        if not converters:
            return rows
        return list(compiler.apply_converters(rows, _settings_read_once(converters, compiler.connection)))


class Reused:
    """``fetch_values(make(*keys), *lookups)`` compiled by Django once, with marker keys, then run
    with each call's keys in their place: a reindex reads with the same three queries for every
    chunk, a drain with the same two for every claim of the same shape (``integer_shape``), only
    their keys differ, and compiling them was a tenth of reading a row (profiled). A key is an
    integer, or a list of integers that reaches the query as ``among``'s one array parameter.
    Where a key does not reach the parameters as it was given (a key that is not an integer),
    compiled anew each time. One per thread: a compiled query keeps its thread's connection.
    ``keys``: a call's, for their kinds."""
    # keys to find, each once, among the parameters: within a 32-bit key's range (Django drops a
    # condition on a key beyond its field's range from the SQL) and unlike any other parameter
    _MARKERS = (-2147483000, -2147482999, -2147482998)

    def __init__(self, make, lookups, keys):
        self.make, self.lookups, self.read, self.slots = make, lookups, None, None
        markers = [[m] if isinstance(k, list) else m for m, k in zip(self._MARKERS, keys)]
        try:
            read = _Read(make(*markers), lookups)
        except Exception:  # a marker is no key of this model (a UUID): compiled each time
            return
        listed = AMONG.get(connections[read.qs.db].vendor, (None, None))[1]
        if any(isinstance(m, list) for m in markers) and listed is None:
            return
        params = list(read.params)
        found = [listed(m) if isinstance(m, list) else m for m in markers]
        if read.sql is not None and not read.composite and all(params.count(f) == 1 for f in found):
            self.read, self.slots = read, [params.index(f) for f in found]
            self.listed = listed

    def __call__(self, *keys):
        if self.read is None or len(keys) != len(self.slots):
            return fetch_values(self.make(*keys), *self.lookups)
        params = list(self.read.params)
        for slot, key in zip(self.slots, keys):
            params[slot] = self.listed(key) if isinstance(key, list) else key
        return self.read.fetch(params)


def _dates_in_c(cursor, connection):
    """On PostgreSQL, this cursor's timestamptz values parsed by psycopg's C loader where it gives
    what Django's gives: Django parses them with a Python subclass of psycopg's loader, to set its
    own time zone on each value (4.2 µs a value fetched, against 1.6 with psycopg's C loader;
    profiled, a tenth of reading a layer).
    The two agree where Django's zone is the one psycopg reads from the session (USE_TZ with the
    database in UTC: the usual setting); elsewhere Django's loader stays."""
    if _C_TIMESTAMPTZ is None or connection.vendor != "postgresql":
        return
    raw = cursor.cursor
    if getattr(raw, "adapters", None) is not None and connection.timezone is raw.connection.info.timezone:
        raw.adapters.register_loader("timestamptz", _C_TIMESTAMPTZ)


def _c_timestamptz():
    """psycopg's C loader of timestamptz text, or None (psycopg without its C part, or psycopg2)."""
    try:
        import psycopg  # an optional dependency (the postgres extra): SQLite's projects have none
        from psycopg.postgres import types
    except ImportError:
        return None
    if psycopg.pq.__impl__ not in ("c", "binary"):
        return None
    return psycopg.adapters.get_loader(types["timestamptz"].oid, psycopg.pq.Format.TEXT)


_C_TIMESTAMPTZ = _c_timestamptz()


def _settings_read_once(converters, connection):
    """Django's converters, SQLite's of a date and time replaced by the same conversion with the
    settings read once: Django's reads ``settings.USE_TZ`` through the lazy settings object for
    every value (profiled: the largest single part of a reindex's reading on SQLite)."""
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if connection.vendor != "sqlite" or convert is None:
        return converters
    zone = connection.timezone if settings.USE_TZ else None

    def datetime_value(value, expression, connection):
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            value = parse_datetime(value)
        return value if zone is None or value.utcoffset() is not None else value.replace(tzinfo=zone)
    return {pos: ([datetime_value if c == convert else c for c in convs], expression)
            for pos, (convs, expression) in converters.items()}
