"""Change capture by the database: row triggers that write the change-log row as part of the very
statement that changes the data.

A change-log INSERT sent from ``post_save`` is one more round trip inside every save (~0.4 ms to a
local PostgreSQL, ~0.1 ms on SQLite -- several times everything else solrsync adds to a save);
a row trigger costs a few microseconds in the database. Triggers also see what signals never do:
``QuerySet.update()``, ``bulk_create``, raw SQL, another program writing the same tables.

``migrate`` installs them (post_migrate) on PostgreSQL and SQLite, for every pipeline whose
document id is a plain column of its model: the pipeline's table (insert, update, delete) and
the through tables of its ``watch_m2m`` fields. Anything else -- another database, a computed
id, ``CAPTURE = "signals"`` -- keeps the signal path (``DjangoChangeLog.record``).
"""
import logging
import re
import threading

from django.db import connections, transaction

from .models import Change

log = logging.getLogger("solrsync.django")

VENDORS = ("postgresql", "sqlite")
COLUMNS = "pipeline, object_pk, doc_id, op, created, attempts"
TEXT_ID_TYPES = {"CharField", "TextField", "SlugField", "AutoField", "BigAutoField", "SmallAutoField",
                 "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                 "PositiveBigIntegerField", "PositiveSmallIntegerField"}
_installed = {}  # alias -> frozenset of pipeline names captured by triggers there
_lock = threading.Lock()


def trigger_name(pipeline_name):
    return "solrsync_" + re.sub(r"[^a-z0-9_]", "_", pipeline_name.lower())[:40]


class Unsupported(Exception):
    """Why a pipeline keeps the signal path (shown by migrate at verbosity 2)."""


class TriggerPlan:
    """What one pipeline's triggers read: its table, and the through tables of watched m2m fields."""

    def __init__(self, pipeline, model, vendor):
        meta = model._meta
        self.name, self.vendor, self.q = pipeline.name, vendor, quote
        self.ident = trigger_name(pipeline.name)
        self.table, self.pk = meta.db_table, meta.pk.column
        self.id = self._id_column(pipeline, model, vendor)
        self.throughs = []
        for field_name in pipeline.watch_m2m:
            field = meta.get_field(field_name)
            through = field.remote_field.through
            fk = through._meta.get_field(field.m2m_field_name()).column
            self.throughs.append((through._meta.db_table, fk))

    @staticmethod
    def _id_column(pipeline, model, vendor):
        """The column the document id is copied from: the trigger must write the same text as
        ``Document.doc_id`` (a delete needs the id Solr has)."""
        field = pipeline.document.id
        if field.fn is not None or "." in (field.source or ""):
            raise Unsupported("its document id is computed")
        meta = model._meta
        f = meta.pk if field.source == "pk" else meta.get_field(field.source)
        kind = f.get_internal_type()
        if getattr(f, "column", None) is None or not (kind in TEXT_ID_TYPES or (kind == "UUIDField"
                                                                               and vendor == "postgresql")):
            raise Unsupported("its document id (%s, a %s) has no text form in SQL that equals Python's str()"
                              % (field.source, kind))
        return f.column

    # -- SQL
    def _values(self, op, row, pk_col, doc_id):
        return "INSERT INTO %s (%s) VALUES (%s, %s, COALESCE(%s, ''), '%s', %s, 0)" % (
            self.q(Change._meta.db_table), COLUMNS, literal(self.name), self._text("%s.%s" % (row, self.q(pk_col))),
            doc_id, op, NOW[self.vendor])

    def _own_id(self, row):
        return self._text("%s.%s" % (row, self.q(self.id)))

    def _looked_up_id(self, row, fk):  # a through row: the layer's id, while the layer is there
        return "(SELECT %s FROM %s WHERE %s = %s.%s)" % (self._own_id(self.q(self.table)), self.q(self.table),
                                                        self.q(self.pk), row, self.q(fk))

    def _text(self, expr):
        return "CAST(%s AS TEXT)" % expr if self.vendor == "sqlite" else "(%s)::text" % expr

    def statements(self):
        """(table, trigger name, {event: insert statement}) for each table."""
        # an update records the id the row had: if it changed, the old document must go
        out = [(self.table, self.ident, {"INSERT": self._values("save", "NEW", self.pk, self._own_id("NEW")),
                                         "UPDATE": self._values("save", "OLD", self.pk, self._own_id("OLD")),
                                         "DELETE": self._values("delete", "OLD", self.pk, self._own_id("OLD"))})]
        for i, (table, fk) in enumerate(self.throughs):
            out.append((table, "%s_m2m%d" % (self.ident, i),
                        {"INSERT": self._values("save", "NEW", fk, self._looked_up_id("NEW", fk)),
                         "UPDATE": self._values("save", "NEW", fk, self._looked_up_id("NEW", fk)),
                         "DELETE": self._values("save", "OLD", fk, self._looked_up_id("OLD", fk))}))
        return out

    def create_sql(self):
        sql = []
        for table, name, events in self.statements():
            if self.vendor == "sqlite":
                for event, insert in events.items():
                    # a connection with the temp table solrsync_capture_off records nothing (capture_off)
                    sql.append("CREATE TRIGGER %s AFTER %s ON %s FOR EACH ROW WHEN NOT EXISTS "
                               "(SELECT 1 FROM pragma_table_info('solrsync_capture_off')) BEGIN %s; END"
                               % (self.q("%s_%s" % (name, event.lower())), event, self.q(table), insert))
                continue
            body = "IF TG_OP = 'INSERT' THEN %s;\nELSIF TG_OP = 'UPDATE' THEN %s;\nELSE %s;\nEND IF;\nRETURN NULL;" % (
                events["INSERT"], events["UPDATE"], events["DELETE"])
            sql.append("CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n%s\n"
                       "END\n$solrsync$" % (self.q(name), body))
            # a session with solrsync.capture_off = on records nothing (capture_off)
            sql.append("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW WHEN "
                       "(current_setting('solrsync.capture_off', true) IS DISTINCT FROM 'on') EXECUTE PROCEDURE %s()"
                       % (self.q(name), self.q(table), self.q(name)))
        return sql


NOW = {"postgresql": "clock_timestamp()",
       # Django stores SQLite datetimes as UTC text with microseconds
       "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"}


def quote(name):  # the same for PostgreSQL and SQLite
    return '"%s"' % name.replace('"', '""')


def literal(text):
    return "'%s'" % str(text).replace("'", "''")


def _existing(conn):
    """[(trigger, table)] of solrsync's triggers on this database."""
    with conn.cursor() as cur:
        if conn.vendor == "sqlite":
            cur.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'solrsync\\_%' "
                        "ESCAPE '\\'")
        else:
            cur.execute("SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal "
                        "AND t.tgname LIKE 'solrsync\\_%%' AND n.nspname = ANY(current_schemas(false))")
        return cur.fetchall()


def uninstall(using):
    """Drop solrsync's triggers (and their PostgreSQL functions) from this database."""
    conn = connections[using]
    if conn.vendor not in VENDORS:
        return
    with transaction.atomic(using=using), conn.cursor() as cur:
        for name, table in _existing(conn):
            cur.execute("DROP TRIGGER IF EXISTS %s" % quote(name) if conn.vendor == "sqlite"
                        else "DROP TRIGGER IF EXISTS %s ON %s" % (quote(name), quote(table)))
        if conn.vendor == "postgresql":
            cur.execute("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                        "WHERE p.proname LIKE 'solrsync\\_%%' AND n.nspname = ANY(current_schemas(false))")
            for (name,) in cur.fetchall():
                cur.execute("DROP FUNCTION IF EXISTS %s()" % quote(name))
    forget(using)


def install(pipelines, using, mode="triggers"):
    """(Re)create the triggers of these pipelines on this database, in one transaction (on
    PostgreSQL saves never see a moment without them). Returns {pipeline: reason} for those
    left on the signal path."""
    conn = connections[using]
    skipped = {}
    if conn.vendor not in VENDORS:
        return {name: "triggers are written for PostgreSQL and SQLite, not %s" % conn.vendor for name in pipelines}
    tables = set(conn.introspection.table_names())
    plans = []
    for name, p in pipelines.items():
        try:
            if mode != "triggers":
                raise Unsupported("CAPTURE is %r" % mode)
            if Change._meta.db_table not in tables:
                raise Unsupported("the change log table is not there (migrate solrsync)")
            plan = TriggerPlan(p, p.model_class, conn.vendor)
            missing = [t for t in [plan.table] + [t for t, _ in plan.throughs] if t not in tables]
            if missing:
                raise Unsupported("table %s does not exist" % ", ".join(missing))
            plans.append(plan)
        except Unsupported as exc:
            skipped[name] = str(exc)
    with transaction.atomic(using=using):
        uninstall(using)
        with conn.cursor() as cur:
            for plan in plans:
                for sql in plan.create_sql():
                    cur.execute(sql)
    forget(using)
    return skipped


def installed(using):
    """Pipelines whose changes triggers record on this database (read once per process)."""
    names = _installed.get(using)
    if names is None:
        from .runtime import get_pipelines, get_settings
        names = frozenset()
        conn = connections[using]
        if get_settings().CAPTURE == "triggers" and conn.vendor in VENDORS:
            present = {name for name, _ in _existing(conn)}
            expect = {"postgresql": "%s", "sqlite": "%s_update"}[conn.vendor]
            names = frozenset(n for n in get_pipelines() if expect % trigger_name(n) in present)
        with _lock:
            _installed[using] = names
    return names


def forget(using=None):
    with _lock:
        _installed.pop(using, None) if using else _installed.clear()


class capture_off:
    """``with capture_off(using): ...`` -- this thread's connection records no changes (bulk loads
    a reindex indexes anyway). PostgreSQL: a session setting; SQLite: a temp table."""

    def __init__(self, using="default"):
        self.using = using

    def _run(self, sql):
        conn = connections[self.using]
        if conn.vendor in VENDORS:
            with conn.cursor() as cur:
                cur.execute(sql[conn.vendor])

    def __enter__(self):
        self._run({"postgresql": "SET solrsync.capture_off = 'on'",
                   "sqlite": "CREATE TEMP TABLE IF NOT EXISTS solrsync_capture_off (x INTEGER)"})
        return self

    def __exit__(self, *exc):
        self._run({"postgresql": "RESET solrsync.capture_off",
                   "sqlite": "DROP TABLE IF EXISTS temp.solrsync_capture_off"})
