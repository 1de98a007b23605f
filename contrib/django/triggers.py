"""Change capture by the database: row triggers that write the change-log row as part of the very
statement that changes the data.

A change-log INSERT sent from ``post_save`` is one more round trip inside every save (~0.4 ms to a
local PostgreSQL, ~0.1 ms on SQLite -- several times everything else solrsync adds to a save);
a row trigger costs a few microseconds in the database. Triggers also see what signals never do:
``QuerySet.update()``, ``bulk_create``, raw SQL, another program writing the same tables.

``migrate`` installs them on PostgreSQL and SQLite, for every pipeline whose document id is a
column of its model or of a parent (multi-table inheritance): the pipeline's table (insert,
update, delete) and every table on every path its documents read (graph.py: a keyword renamed
records, in one INSERT ... SELECT joining back along the path, every layer that has it; a
parent's row, only the children of the pipeline's model). Each statement is EXPLAINed first: one
the database cannot run stops ``migrate`` (Broken) before any trigger is touched. Anything else --
another database, a computed id, a path nothing can follow, ``CAPTURE = "signals"`` -- keeps the
signal path (signals.py), which writes the same rows from Python.

Wake-ups: on PostgreSQL every change-log row NOTIFYs ``solrsync`` with the pipeline's name when
the transaction commits (wakeups.py listens): a row trigger's function NOTIFYs after its own
INSERT; a statement trigger on the change log, for rows written by any statement no trigger ran
(``enqueue``, the signal path, another program).
"""
import hashlib
import logging
import re
import threading
import time

from django.db import connections, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from solrsync.pipeline import RELATED

from .graph import Graph, id_path
from .models import Change

log = logging.getLogger("solrsync.django")

VENDORS = ("postgresql", "sqlite")
COLUMNS = "pipeline, object_pk, doc_id, op, created, attempts"
TEXT_ID_TYPES = {"CharField", "TextField", "SlugField", "AutoField", "BigAutoField", "SmallAutoField",
                 "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                 "PositiveBigIntegerField", "PositiveSmallIntegerField", "UUIDField"}
CAPTURING = "current_setting('solrsync.capture_off', true) IS DISTINCT FROM 'on'"  # PostgreSQL (capture_off)
NOTIFY = "solrsync__wake"   # the change log's NOTIFY trigger (PostgreSQL); no pipeline is called "_wake"
CHANNEL = "solrsync"
RECHECK_SECONDS = 2.0       # how stale a process's idea of the installed triggers may get
_installed = {}  # alias -> (frozenset of pipeline names captured by triggers there, monotonic time read)
_lock = threading.Lock()


def trigger_name(pipeline_name):
    """``solrsync_<name>``: the name as it is when short, else its start and a digest of it, so two
    long names never share triggers (PostgreSQL keeps 63 bytes of an identifier)."""
    base = re.sub(r"[^a-z0-9_]", "_", pipeline_name.lower())
    if len(base) > 40:
        base = "%s_%s" % (base[:28], hashlib.sha1(pipeline_name.encode("utf-8")).hexdigest()[:11])
    return "solrsync_" + base


class Unsupported(Exception):
    """Why a pipeline (or one of its dependencies) keeps the signal path (migrate says so)."""


class Broken(Exception):
    """A trigger solrsync generated that the database cannot run: ``migrate`` refuses, in one line
    naming the pipeline, before it drops or creates any trigger (a broken trigger would fail the
    user's saves of that table)."""


# ------------------------------------------------------------------ SQL
def text(field, expr, vendor):
    """SQL turning a column into the text Python's ``str()`` gives its value (what the signal path
    writes): SQLite stores a UUIDField as 32 hex digits, str(uuid) has the dashes."""
    field = getattr(field, "target_field", None) if field.is_relation else field
    kind = field.get_internal_type()
    if kind not in TEXT_ID_TYPES:
        raise Unsupported("its %s (a %s) has no text form in SQL that equals Python's str()" % (field.name, kind))
    if vendor == "sqlite":
        if kind == "UUIDField":
            return "lower(%s)" % "||'-'||".join("substr(%s, %d, %d)" % (expr, a, n)
                                                 for a, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)))
        return "CAST(%s AS TEXT)" % expr
    return "(%s)::text" % expr


NOW = {"postgresql": "clock_timestamp()",
       # the format Django reads for SQLite datetimes; UTC, whatever USE_TZ and TIME_ZONE say
       "sqlite": "strftime('%Y-%m-%d %H:%M:%f', 'now') || '000'"}
# NOW inside a statement run with parameters, whose "%" Django reads as placeholders: doubled. Its
# cursor turns "%%" back into "%", and DEBUG's cursor can %-format the statement to log it (a bare
# '%Y' there raised in every save's recording: a traceback per save under DEBUG = True).
NOW_WITH_PARAMS = {vendor: sql.replace("%", "%%") for vendor, sql in NOW.items()}
# seconds since an SQL timestamp, by the database's clock (the one that stamped it)
AGE = {"postgresql": "EXTRACT(EPOCH FROM clock_timestamp() - %s)",
       "sqlite": "(julianday('now') - julianday(%s)) * 86400.0"}


def inline(compiled, vendor):
    """A compiled query with its parameters written in as SQL literals (a trigger body takes no
    parameters): the ORM's joins for a lookup carry only keys and content type ids."""
    sql, params = compiled
    out = []
    for p in params:
        if isinstance(p, bool):
            out.append("TRUE" if p else "FALSE") if vendor == "postgresql" else out.append(str(int(p)))
        elif isinstance(p, int):
            out.append(str(p))
        elif isinstance(p, str):
            out.append(literal(p))
        else:
            raise Unsupported("a lookup compares with %r, which solrsync cannot write into a trigger" % (p,))
    return sql % tuple(out)


def quote(name):  # the same for PostgreSQL and SQLite
    return '"%s"' % name.replace('"', '""')


def literal(text):
    return "'%s'" % str(text).replace("'", "''")


class TriggerPlan:
    """The triggers of one pipeline: its own table, and every table on every path its documents
    read (graph.py), each recording the affected documents' keys in one INSERT ... SELECT that
    joins back along the path (the ORM's own query for the lookup, compiled with the row's column
    as the value)."""

    def __init__(self, pipeline, model, vendor, using="default"):
        meta = model._meta
        self.name, self.vendor, self.q, self.using = pipeline.name, vendor, quote, using
        self.ident = trigger_name(pipeline.name)
        self.model, self.table, self.pk = model, meta.db_table, meta.pk
        self.id_lookup, self.id, self.id_holder = self._id_field(pipeline, model)
        self.own_pk = lambda row: text(self.pk, "%s.%s" % (row, quote(self.pk.column)), vendor)
        text(self.pk, "x", vendor)  # raises Unsupported for a pk without a text form
        text(self.id, "x", vendor)
        self.graph = Graph(pipeline, model)
        for name in pipeline.watch_m2m:  # declared, perhaps not read by any field
            self.graph._walk(name)
        if self.graph.problems:
            path, why = self.graph.problems[0]
            raise Unsupported("its path %s cannot be followed: %s" % (path, why))
        self.ways = list(self.graph.ways.values())

    @staticmethod
    def _id_field(pipeline, model):
        """The field the document id is copied from: the trigger must write the same text as
        ``Document.doc_id`` (a delete needs the id Solr has). It may live on an ancestor's table
        (a child's ``uuid``, ``resourcebase_ptr.uuid``): it is read from there by the pk, which a
        child shares with its parents."""
        field = pipeline.document.id
        if field.fn is not None:
            raise Unsupported("its document id is computed")
        found = id_path(model, field.source or "")
        if found is None:
            raise Unsupported("its document id (%s) is not a column of its model or of a parent" % field.source)
        return found

    def own_id(self, row):
        """SQL: the document id of the pipeline's row ``row`` (NEW, OLD, or an alias of its table)."""
        if self.id_holder is self.model._meta.concrete_model:
            return text(self.id, "%s.%s" % (row, quote(self.id.column)), self.vendor)
        return "(SELECT %s FROM %s a WHERE a.%s = %s.%s)" % (
            text(self.id, "a.%s" % quote(self.id.column), self.vendor), quote(self.id_holder._meta.db_table),
            quote(self.id_holder._meta.pk.column), row, quote(self.pk.column))

    def tables(self):
        """{table: [columns]} the triggers name, to check before creating them mid-migration."""
        out = {self.table: {self.pk.column}}
        if self.id_holder is self.model._meta.concrete_model:
            out[self.table].add(self.id.column)
        else:
            out.setdefault(self.id_holder._meta.db_table, set()).update({self.id.column, self.id_holder._meta.pk.column})
        for w in self.ways:
            out.setdefault(w.table, set()).update((w.columns or set()) | {w.column})
        return out

    # -- SQL
    def _insert(self, op, pk_expr, id_expr, source=""):
        return "INSERT INTO %s (%s) SELECT %s, %s, COALESCE(%s, ''), '%s', %s, 0%s" % (
            self.q(Change._meta.db_table), COLUMNS, literal(self.name), pk_expr, id_expr, op, NOW[self.vendor],
            source and " " + source)

    def _rows(self, where):
        """Every pipeline row matching ``where`` (over ``t``, the pipeline's table): one statement."""
        t = "t"
        return self._insert("save", self.own_pk(t), self.own_id(t), "FROM %s t WHERE %s" % (self.q(self.table), where))

    def _way_query(self, way, row):
        """SQL selecting (solrsync_k, solrsync_d) of every pipeline row that reads ``row`` of the
        way's table: the ORM's query for ``way.lookup``, the row's column in place of the value."""
        value = "%s.%s" % (row, quote(way.column))
        if way.target is not None:  # a generic object id holds str(pk) when it is text
            value = self._object_id(way, value)
        qs = self.model._base_manager.db_manager(self.using).filter(**{way.lookup: RawSQL(value, ())},
                                                                    **way.filters(self.using)).order_by()
        qs = qs.values(solrsync_k=F("pk"), solrsync_d=F(self.id_lookup)).distinct()
        return inline(qs.query.get_compiler(self.using).as_sql(), self.vendor)

    def _object_id(self, way, value):
        """A generic foreign key's object id compared with a target's key: as text when the id
        column is text (PostgreSQL compares no varchar with a bigint)."""
        from_model = self.model
        for part in way.lookup.split("__")[:-1]:
            from_model = from_model._meta.get_field(part).related_model
        object_id = from_model._meta.get_field(way.lookup.split("__")[-1])
        if object_id.get_internal_type() in ("CharField", "TextField"):
            return text(way.model._meta.pk, value, self.vendor)
        return value

    def _way_rows(self, way, row):
        return self._insert("save", text(self.pk, "s.solrsync_k", self.vendor),
                            text(self.id, "s.solrsync_d", self.vendor), "FROM (%s) s" % self._way_query(way, row))

    def _when(self, cond, insert, where=None):
        """``insert`` run only when ``cond`` (over OLD and NEW only) holds. PostgreSQL: a plpgsql
        IF -- an INSERT whose WHERE is false still runs its executor and fires the change log's
        wake-up trigger, which a statement trigger does for an INSERT of no rows too (two of
        them per pipeline per parent-row update, ~40 us a save); SQLite's trigger bodies have no
        IF: a WHERE. ``where``: the insert's own WHERE, if it has one."""
        if self.vendor == "postgresql":
            return "IF %s THEN %s%s; END IF" % (cond, insert, " WHERE %s" % where if where else "")
        return "%s WHERE %s" % (insert, " AND ".join("(%s)" % c for c in filter(None, (cond, where))))

    def _guard(self, way, row):
        """A generic row counts only when it names one of the way's content types."""
        if not way.content_types:
            return None
        return "%s.%s IN (SELECT id FROM django_content_type WHERE %s)" % (row, quote(way.ct_column), " OR ".join(
            "(app_label = %s AND model = %s)" % (literal(a), literal(m)) for a, m in way.content_types))

    def _way_events(self, way):
        """{event: ([statements], condition or None)} for one way's table."""
        q = self.q
        column_field = next(f for f in way.model._meta.concrete_fields if f.column == way.column)
        cols = way.columns
        if cols is not None and way.forward:
            cols = sorted(cols)
        elif cols is not None:
            cols = sorted(set(cols) | {way.column})
        distinct = "IS NOT" if self.vendor == "sqlite" else "IS DISTINCT FROM"
        changed = None if cols is None else " OR ".join("OLD.%s %s NEW.%s" % (q(c), distinct, q(c)) for c in cols)

        def both(*conds):
            conds = [c for c in conds if c]
            return " AND ".join("(%s)" % c for c in conds) if conds else None

        def rows(row):
            if way.parent and self.vendor == "postgresql":
                # a parent's row is one child's (a Map's is no Layer's; Django inserts it before
                # the child's, deletes it after): an index probe first, so that a sibling's
                # pipeline runs no INSERT of no rows -- nor the wake-up trigger it would fire
                return self._when("EXISTS (SELECT 1 FROM %s t WHERE t.%s = %s.%s)" % (
                    q(self.table), q(self.pk.column), row, q(way.column)), self._way_rows(way, row))
            return self._way_rows(way, row)
        if way.forward:
            # an update re-indexes every row reading this one -- 100,000 layers for a keyword: one
            # change row naming the set (RELATED), which a worker streams as a reindex would
            update = [self._insert(RELATED, literal(way.lookup), text(column_field, "NEW.%s" % q(way.column), self.vendor),
                                   "WHERE EXISTS (%s)" % self._way_query(way, "NEW"))]
        else:
            # the rows reading the new values; those reading the old ones only when the row's
            # key to them moved (a chapter to another article) -- else they are the same rows,
            # and a parent row's update recorded each child twice
            moved = " OR ".join("OLD.%s %s NEW.%s" % (q(c), distinct, q(c))
                                for c in filter(None, (way.column, way.ct_column)))
            update = [self._when(moved, self._way_rows(way, "OLD")), rows("NEW")]
            if way.parent and self.id_holder._meta.db_table == way.table and self.id.column != self.pk.column:
                # the parent's row holds the id: an edited id takes the old document away (an
                # unchanged one is the NEW row's, recorded above)
                parent_pk = "OLD.%s" % q(way.model._meta.pk.column)
                update.append(self._when(
                    "OLD.%s %s NEW.%s" % (q(self.id.column), distinct, q(self.id.column)),
                    self._insert("save", text(self.pk, parent_pk, self.vendor),
                                 text(self.id, "OLD.%s" % q(self.id.column), self.vendor)),
                    "EXISTS (SELECT 1 FROM %s t WHERE t.%s = OLD.%s)" % (
                        q(self.table), q(self.pk.column), q(way.model._meta.pk.column))))
        events = {"INSERT": ([rows("NEW")], self._guard(way, "NEW")),
                  "DELETE": ([rows("OLD")], self._guard(way, "OLD"))}
        if cols is None or cols:
            guard = self._guard(way, "NEW")
            if guard:
                guard = "(%s) OR (%s)" % (guard, self._guard(way, "OLD"))
            events["UPDATE"] = (update, both(changed, guard), cols)
        return events

    def statements(self):
        """(table, trigger name, {event: ([insert statements], update condition)}) for each table."""
        # an update records the id the row had: if it changed, the old document must go
        out = [(self.table, self.ident, {
            "INSERT": ([self._insert("save", self.own_pk("NEW"), self.own_id("NEW"))], None),
            "UPDATE": ([self._insert("save", self.own_pk("OLD"), self.own_id("OLD"))], None),
            "DELETE": ([self._insert("delete", self.own_pk("OLD"), self.own_id("OLD"))], None)})]
        for i, way in enumerate(self.ways):
            out.append((way.table, "%s_dep%d" % (self.ident, i), self._way_events(way)))
        return out

    def check(self, conn):
        """Every statement the triggers would run, EXPLAINed with NEW/OLD standing for a row of
        their table: a statement the database cannot run (a column that is not there, types that do
        not compare) raises Unsupported here, before any trigger is installed -- never a trigger
        that fails the user's saves."""
        for table, name, events in self.statements():
            for event, (inserts, cond, *_) in events.items():
                for sql in [part for i in inserts for part in _parts(i)] + ([cond] if cond else []):
                    probe = re.sub(r'\b(NEW|OLD)\.("(?:[^"]|"")+")',
                                   lambda m: "(SELECT x.%s FROM %s x LIMIT 1)" % (m.group(2), quote(table)), sql)
                    if not sql.startswith("INSERT "):  # a condition
                        probe = "SELECT 1 WHERE %s" % probe
                    try:
                        with transaction.atomic(using=conn.alias), conn.cursor() as cur:
                            cur.execute("EXPLAIN " + probe.replace("%", "%%"))
                    except Exception as exc:
                        raise Unsupported("a trigger on %s (%s) would fail: %s" % (
                            table, event.lower(), str(exc).strip().splitlines()[0]))

    def create_sql(self):
        sql = []
        for table, name, events in self.statements():
            if self.vendor == "sqlite":
                for event, (inserts, cond, *of) in events.items():
                    cols = ""
                    if of and of[0]:  # an update of these columns only
                        cols = " OF " + ", ".join(self.q(c) for c in of[0])
                    # a connection with the temp table solrsync_capture_off records nothing (capture_off)
                    sql.append("CREATE TRIGGER %s AFTER %s%s ON %s FOR EACH ROW WHEN NOT EXISTS "
                               "(SELECT 1 FROM pragma_table_info('solrsync_capture_off'))%s BEGIN %s; END"
                               % (self.q("%s_%s" % (name, event.lower())), event, cols, self.q(table),
                                  " AND (%s)" % cond if cond else "", "; ".join(inserts)))
                continue
            parts = []
            for event in ("INSERT", "UPDATE", "DELETE"):
                if event not in events:
                    continue
                inserts, cond = events[event][:2]
                body = ";\n".join(self._notifying(i) for i in inserts) + ";"
                parts.append("%s TG_OP = '%s' THEN %s" % ("IF" if not parts else "ELSIF", event,
                                                           "IF %s THEN %s END IF;" % (cond, body) if cond else body))
            # a session with solrsync.capture_off = on records nothing (capture_off). Tested here, not
            # in the trigger's WHEN: a WHEN is compiled again for every statement (~4-8 us a save);
            # the function's test is a cached expression
            body = "IF %s THEN\n%s\nEND IF;\nEND IF;\nRETURN NULL;" % (CAPTURING, "\n".join(parts))
            sql.append("CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n%s\n"
                       "END\n$solrsync$" % (self.q(name), body))
            sql.append("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE PROCEDURE %s()"
                       % (self.q(name), self.q(table), self.q(name)))
            sql.extend(self._truncate_sql(table, name))
        return sql

    def _notifying(self, statement):
        """PostgreSQL: ``statement`` (an INSERT, or ``_when``'s IF around one), then this pipeline's
        NOTIFY if a row was recorded -- sent at commit, once per transaction whatever the rows (the
        database drops a repeated one). Here, in the function already running, it costs ~2 us; the
        change log's statement trigger, which NOTIFYs for the other writers (``notify_sql``), cost
        a save ~30 us: its transition table, its DISTINCT, a second trigger call."""
        return "%s;\nIF FOUND THEN PERFORM pg_notify('%s', %s); END IF" % (statement, CHANNEL, literal(self.name))

    def _truncate_sql(self, table, name):
        """PostgreSQL: TRUNCATE fires no row trigger. Before it, while the rows are still there, one
        statement records every row of the pipeline's table as deleted (rows an import inserts again
        in the same transaction are recorded by their own INSERT), or, for a table its documents
        read, every row of the pipeline's table as changed. (SQLite has no TRUNCATE: its DELETE
        without WHERE fires the row triggers.)"""
        if table == self.table:
            insert = self._insert("delete", self.own_pk("t"), self.own_id("t"), "FROM %s t" % self.q(self.table))
        else:
            insert = self._rows("TRUE")
        fn = self.q(name + "_truncate")
        return ["CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n"
                "IF %s THEN %s; END IF;\n"
                "RETURN NULL;\nEND\n$solrsync$" % (fn, CAPTURING, self._notifying(insert)),
                "CREATE TRIGGER %s BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE PROCEDURE %s()"
                % (fn, self.q(table), fn)]


def _parts(statement):
    """The SQL parts of a trigger statement, each EXPLAINable: a plpgsql ``IF c THEN insert; END
    IF`` (``_when``) is its condition and its insert."""
    m = re.match(r"IF (.*?) THEN (INSERT .*); END IF$", statement, re.S)
    return [m.group(1), m.group(2)] if m else [statement]


def notify_sql():
    """PostgreSQL: one NOTIFY per pipeline per statement that wrote change-log rows, delivered
    when the transaction commits (none if it rolls back) -- for a statement no trigger ran
    (``enqueue``, the signal path, another program). Rows a trigger writes were announced by its
    function (``_notifying``): not again here. (A trigger of the user's own that writes the change
    log should NOTIFY too, or its rows wait for the sweeper.)"""
    table = quote(Change._meta.db_table)
    return ["CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n"
            "PERFORM pg_notify('%s', p) FROM (SELECT DISTINCT pipeline AS p FROM solrsync_new) s;\nRETURN NULL;\n"
            "END\n$solrsync$" % (quote(NOTIFY), CHANNEL),
            "CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS solrsync_new FOR EACH STATEMENT "
            "WHEN (pg_trigger_depth() < 1) EXECUTE PROCEDURE %s()" % (quote(NOTIFY), table, quote(NOTIFY))]


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


def plan(pipelines, using, mode="triggers"):
    """-> ([TriggerPlan] to install, {pipeline: reason it keeps the signal path})."""
    conn = connections[using]
    if conn.vendor not in VENDORS:
        return [], {name: "triggers are written for PostgreSQL and SQLite, not %s" % conn.vendor for name in pipelines}
    tables = set(conn.introspection.table_names())
    plans, skipped = [], {}
    for name, p in pipelines.items():
        try:
            if mode != "triggers":
                raise Unsupported("CAPTURE is %r" % mode)
            if Change._meta.db_table not in tables:
                raise Unsupported("the change log table is not there (migrate solrsync)")
            tp = TriggerPlan(p, p.model_class, conn.vendor, using)
            for table, columns in tp.tables().items():
                if table not in tables:
                    raise Unsupported("table %s does not exist" % table)
                with conn.cursor() as cur:
                    have = {c.name for c in conn.introspection.get_table_description(cur, table)}
                missing = sorted(set(columns) - have)
                if missing:
                    raise Unsupported("column %s.%s does not exist" % (table, ", ".join(missing)))
            try:
                tp.check(conn)
            except Unsupported as exc:
                raise Broken("solrsync: pipeline %s: cannot install its change-capture triggers: %s" % (name, exc))
            plans.append(tp)
        except Unsupported as exc:
            skipped[name] = str(exc)
    return plans, skipped


def install(pipelines, using, mode="triggers"):
    """(Re)create the triggers of these pipelines on this database, in one transaction (saves never
    see a moment without them; a failure leaves the previous ones). Returns {pipeline: reason}
    for those left on the signal path; raises Broken, touching nothing, when a generated trigger
    would not run."""
    conn = connections[using]
    plans, skipped = plan(pipelines, using, mode)
    if conn.vendor not in VENDORS:
        return skipped
    with transaction.atomic(using=using):
        uninstall(using)
        with conn.cursor() as cur:
            for tp in plans:
                for sql in tp.create_sql():
                    cur.execute(sql)
            if plans and conn.vendor == "postgresql":
                for sql in notify_sql():
                    cur.execute(sql)
    forget(using)
    return skipped


def assemble(get_pipelines, get_settings):
    """runtime.py hands down where the pipelines and settings are read (lazily: Django's app
    loading decides when); this module never imports it back."""
    _assembled.update(pipelines=get_pipelines, settings=get_settings)


_assembled = {}


def installed(using):
    """Pipelines whose changes triggers record on this database. Read again at most every
    RECHECK_SECONDS, so a running process notices triggers appearing or going (a migrate with
    another CAPTURE) within seconds, without a query per save."""
    now = time.monotonic()
    cached = _installed.get(using)
    if cached is not None and now - cached[1] < RECHECK_SECONDS:
        return cached[0]
    get_pipelines, get_settings = _assembled["pipelines"], _assembled["settings"]
    names = frozenset()
    conn = connections[using]
    if get_settings().CAPTURE == "triggers" and conn.vendor in VENDORS:
        present = {name for name, _ in _existing(conn)}
        expect = {"postgresql": "%s", "sqlite": "%s_update"}[conn.vendor]
        names = frozenset(n for n in get_pipelines() if expect % trigger_name(n) in present)
    with _lock:
        _installed[using] = (names, now)
    return names


def forget(using=None):
    with _lock:
        _installed.pop(using, None) if using else _installed.clear()


def capture_mode(pipeline, using):
    """How this pipeline's changes are recorded here, in words (``status``), with what of its
    documents nothing follows."""
    mode = "triggers" if pipeline.name in installed(using) else "signals"
    unfollowed = Graph(pipeline, pipeline.model_class).unfollowed
    return mode + (" (%s)" % "; ".join(unfollowed) if unfollowed else "")


# ------------------------------------------------------------------ many rows at once
def record_rows(pipeline, queryset, using, op="save"):
    """Record a change for every row of ``queryset`` (the pipeline's model) in one
    INSERT ... SELECT on PostgreSQL and SQLite -- a keyword on 100,000 layers is one statement,
    not 100,000 round trips; elsewhere (or for a computed id) in batches of 1,000. Returns how
    many rows it recorded."""
    conn = connections[using]
    table = quote(Change._meta.db_table)
    doc = pipeline.document.id
    qs = queryset.using(using).order_by()
    found = id_path(qs.model, doc.source or "") if doc.fn is None else None
    if conn.vendor in VENDORS and found is not None:
        meta = qs.model._meta
        lookup, id_field, _ = found
        try:
            sql, params = qs.values(solrsync_k=F("pk"), solrsync_d=F(lookup)).query.sql_with_params()
            with conn.cursor() as cur:
                cur.execute("INSERT INTO %s (%s) SELECT %%s, %s, COALESCE(%s, ''), %%s, %s, 0 FROM (%s) s" % (
                    table, COLUMNS, text(meta.pk, "s.solrsync_k", conn.vendor),
                    text(id_field, "s.solrsync_d", conn.vendor), NOW_WITH_PARAMS[conn.vendor], sql),
                    [pipeline.name, op] + list(params))
                return cur.rowcount
        except Unsupported:
            pass
    stamp = NOW_WITH_PARAMS.get(conn.vendor, "%s")
    sql = "INSERT INTO %s (%s) VALUES (%%s, %%s, %%s, %%s, %s, 0)" % (table, COLUMNS, stamp)
    rows = qs.iterator(chunk_size=1000) if doc.fn is not None or "." in (doc.source or "") else \
        (dict(pk=pk, id=value) for pk, value in qs.values_list("pk", doc.source).iterator(chunk_size=1000))
    batch, count = [], 0
    for row in rows:
        count += 1
        pk, doc_id = (row["pk"], row["id"]) if isinstance(row, dict) else (row.pk, pipeline.document.doc_id(row))
        batch.append([pipeline.name, str(pk), "" if doc_id is None else str(doc_id), op] +
                     ([] if stamp != "%s" else [conn.ops.adapt_datetimefield_value(timezone.now())]))
        if len(batch) == 1000:
            with conn.cursor() as cur:
                cur.executemany(sql, batch)
            batch = []
    if batch:
        with conn.cursor() as cur:
            cur.executemany(sql, batch)
    return count


class capture_off:
    """``with capture_off(using): ...`` -- this connection records no changes (bulk loads a
    reindex indexes anyway). PostgreSQL: a session setting; SQLite: a temp table. Nests: only
    the outermost block switches (a Django connection belongs to one thread, so does this)."""

    def __init__(self, using="default"):
        self.using = using

    def _run(self, sql, step):
        conn = connections[self.using]
        depth = getattr(conn, "_solrsync_off", 0)
        conn._solrsync_off = depth + step
        if conn.vendor in VENDORS and depth == (0 if step > 0 else 1):
            with conn.cursor() as cur:
                cur.execute(sql[conn.vendor])

    def __enter__(self):
        self._run({"postgresql": "SET solrsync.capture_off = 'on'",
                   "sqlite": "CREATE TEMP TABLE IF NOT EXISTS solrsync_capture_off (x INTEGER)"}, 1)
        return self

    def __exit__(self, *exc):
        self._run({"postgresql": "RESET solrsync.capture_off",
                   "sqlite": "DROP TABLE IF EXISTS temp.solrsync_capture_off"}, -1)
