"""Change capture by the database: row triggers that write the change-log row as part of the very
statement that changes the data.

A change-log INSERT sent from ``post_save`` is one more round trip inside every save (~0.4 ms to a
local PostgreSQL, ~0.1 ms on SQLite -- several times everything else solrsync adds to a save);
a row trigger costs a few microseconds in the database. Triggers also see what signals never do:
``QuerySet.update()``, ``bulk_create``, raw SQL, another program writing the same tables.

``migrate`` installs them on PostgreSQL and SQLite, for every pipeline whose document id is a
plain column of its model: the pipeline's table (insert, update, delete), the through tables of
its many-to-many fields, and the related tables its documents read (``Pipeline.reads``: a
keyword renamed records, in one INSERT ... SELECT, every layer that has it). Anything else --
another database, a computed id, a path two relations deep, ``CAPTURE = "signals"`` -- keeps the
signal path (signals.py), which writes the same rows from Python.

Wake-ups: on PostgreSQL a statement trigger on the change log NOTIFYs ``solrsync`` with the
pipeline's name when the transaction commits, whoever wrote it (wakeups.py listens).
"""
import hashlib
import logging
import re
import threading
import time

from django.core.exceptions import FieldDoesNotExist
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from solrsync.pipeline import RELATED

from .models import Change

log = logging.getLogger("solrsync.django")

VENDORS = ("postgresql", "sqlite")
COLUMNS = "pipeline, object_pk, doc_id, op, created, attempts"
TEXT_ID_TYPES = {"CharField", "TextField", "SlugField", "AutoField", "BigAutoField", "SmallAutoField",
                 "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
                 "PositiveBigIntegerField", "PositiveSmallIntegerField", "UUIDField"}
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


# ------------------------------------------------------------------ what a pipeline reads
class Dependency:
    """A table whose rows a pipeline's documents read, and the way from its rows to the
    pipeline's rows. ``kind``: ``through`` (m2m membership), ``fk`` (the pipeline row points at
    it: ``category.identifier``), ``m2m`` (a many-to-many target: ``keywords.name``), ``reverse``
    (it points at the pipeline row), ``deep`` (further away: signals only).

    ``lookup`` finds the affected pipeline rows with the ORM (the signal path):
    ``Layer.objects.filter(**{lookup: related_pk})``; ``fields``/``columns`` are what it reads of
    the related row (None: any)."""

    def __init__(self, kind, model, lookup, fields=None, link=None):
        self.kind, self.model, self.lookup, self.link = kind, model, lookup, link
        self.fields = None if fields is None else set(fields)

    @property
    def trigger(self):
        return self.kind != "deep"

    def read(self, field_name):
        if field_name is None:
            self.fields = None
        elif self.fields is not None:
            self.fields.add(field_name)

    def columns(self):
        if self.fields is None:
            return None
        return sorted(self.model._meta.get_field(name).column for name in self.fields)

    def describe(self):
        return "%s.%s" % (self.model._meta.label, ",".join(sorted(self.fields)) if self.fields else "*")


def dependencies(pipeline, model):
    """[Dependency] from ``pipeline.reads()``: one per related table and way there."""
    found = {}

    def dep(kind, related, lookup, link=None):
        key = (kind, related, lookup)
        if key not in found:
            found[key] = Dependency(kind, related, lookup, fields=(), link=link)
        return found[key]

    for path in pipeline.reads():
        parts = path.split(".")
        try:
            field = model._meta.get_field(parts[0])
        except FieldDoesNotExist:
            continue  # pk, a property: the row itself, which its own trigger covers
        if not field.is_relation:
            continue
        rest = parts[1:]
        if field.many_to_many and not field.auto_created:      # layer.keywords
            dep("through", field.remote_field.through, None, link=field)
            kind = "m2m"
        elif field.many_to_one or (field.one_to_one and field.concrete):   # layer.category
            kind = "fk"
        elif field.one_to_many or field.one_to_one:            # reverse FK: attribute rows of a layer
            kind = "reverse"
        else:                                                  # reverse many-to-many
            kind = "deep"
        if not rest:
            if kind == "reverse":
                dep(kind, field.related_model, parts[0], link=field).read(None)
            continue
        related, lookup = field.related_model, [parts[0]]
        for i, name in enumerate(rest):  # walk further relations: anything past one hop is "deep"
            try:
                f = related._meta.get_field(name)
            except FieldDoesNotExist:
                f = None
            last = i == len(rest) - 1
            if f is not None and f.is_relation and not last:
                if not (f.many_to_one and f.concrete):
                    f = None
                else:
                    dep("deep" if i else kind, related, "__".join(lookup), link=field).read(f.name)
                    related, kind = f.related_model, "deep"
                    lookup.append(name)
                    continue
            if f is not None and f.concrete and not f.many_to_many:
                dep(kind, related, "__".join(lookup), link=field if kind != "deep" else None).read(f.name)
            else:
                dep(kind, related, "__".join(lookup), link=field if kind != "deep" else None).read(None)
            break
    return list(found.values())


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
# seconds since an SQL timestamp, by the database's clock (the one that stamped it)
AGE = {"postgresql": "EXTRACT(EPOCH FROM clock_timestamp() - %s)",
       "sqlite": "(julianday('now') - julianday(%s)) * 86400.0"}


def quote(name):  # the same for PostgreSQL and SQLite
    return '"%s"' % name.replace('"', '""')


def literal(text):
    return "'%s'" % str(text).replace("'", "''")


class TriggerPlan:
    """The triggers of one pipeline: its table, its through tables, the related tables it reads."""

    def __init__(self, pipeline, model, vendor):
        meta = model._meta
        self.name, self.vendor, self.q = pipeline.name, vendor, quote
        self.ident = trigger_name(pipeline.name)
        self.model, self.table, self.pk = model, meta.db_table, meta.pk
        self.id = self._id_field(pipeline, model)
        self.own_id = lambda row: text(self.id, "%s.%s" % (row, quote(self.id.column)), vendor)
        self.own_pk = lambda row: text(self.pk, "%s.%s" % (row, quote(self.pk.column)), vendor)
        text(self.pk, "x", vendor)  # raises Unsupported for a pk without a text form
        deps = dependencies(pipeline, model)
        for name in pipeline.watch_m2m:  # declared, perhaps not read by any field
            field = meta.get_field(name)
            if not any(d.kind == "through" and d.link is field for d in deps):
                deps.append(Dependency("through", field.remote_field.through, None, link=field))
        self.deps = [d for d in deps if d.trigger]
        self.signal_deps = [d for d in deps if not d.trigger]

    @staticmethod
    def _id_field(pipeline, model):
        """The field the document id is copied from: the trigger must write the same text as
        ``Document.doc_id`` (a delete needs the id Solr has)."""
        field = pipeline.document.id
        if field.fn is not None or "." in (field.source or ""):
            raise Unsupported("its document id is computed")
        meta = model._meta
        f = meta.pk if field.source == "pk" else meta.get_field(field.source)
        if getattr(f, "column", None) is None:
            raise Unsupported("its document id (%s) is not a column" % field.source)
        return f

    def tables(self):
        """{table: [columns]} the triggers name, to check before creating them mid-migration."""
        out = {self.table: {self.pk.column, self.id.column}}
        for d in self.deps:
            out.setdefault(d.model._meta.db_table, set()).update(d.columns() or ())
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

    def _dep_events(self, d):
        """{event: ([statements], update condition or None)} for one dependency's table."""
        q, meta = self.q, d.model._meta
        if d.kind == "through":
            fk = meta.get_field(d.link.m2m_field_name()).column

            def stmt(row):  # the layer's id, looked up while the layer is there
                return self._insert("save", text(self.pk, "%s.%s" % (row, q(fk)), self.vendor),
                                    "(SELECT %s FROM %s t WHERE t.%s = %s.%s)" % (
                                        self.own_id("t"), q(self.table), q(self.pk.column), row, q(fk)))
            return {"INSERT": ([stmt("NEW")], None), "UPDATE": ([stmt("NEW")], None), "DELETE": ([stmt("OLD")], None)}
        if d.kind == "fk":  # the layers pointing at this row
            key = d.link.target_field.column

            def where(row):
                return "t.%s = %s.%s" % (q(d.link.column), row, q(key))
        elif d.kind == "m2m":  # the layers linked to this row through the m2m table
            through = d.link.remote_field.through._meta
            src = through.get_field(d.link.m2m_field_name()).column
            dst = through.get_field(d.link.m2m_reverse_field_name()).column
            key = meta.get_field(d.link.m2m_reverse_target_field_name()).column

            def where(row):
                return "t.%s IN (SELECT m.%s FROM %s m WHERE m.%s = %s.%s)" % (
                    q(self.pk.column), q(src), q(through.db_table), q(dst), row, q(key))
        if d.kind in ("fk", "m2m"):
            def stmts(row):
                return [self._rows(where(row))]
            # an update re-indexes every row reading this one -- 100,000 layers for a keyword: one
            # change row naming the set (RELATED), which a worker streams as a reindex would
            target = d.link.target_field if d.kind == "fk" else meta.get_field(d.link.m2m_reverse_target_field_name())
            related = [self._insert(RELATED, literal("%s__%s" % (d.link.name, target.name)),
                                    text(target, "NEW.%s" % q(target.column), self.vendor),
                                    "WHERE EXISTS (SELECT 1 FROM %s t WHERE %s)" % (q(self.table), where("NEW")))]
        else:  # reverse: this row points at a layer
            fk = d.link.field
            key = fk.target_field.column

            def stmts(row):
                return [self._rows("t.%s = %s.%s" % (q(key), row, q(fk.column)))]
        cols = d.columns()
        if d.kind == "reverse":
            cols = None if cols is None else sorted(set(cols) | {d.link.field.column})
        cond = None if not cols else " OR ".join(
            "OLD.%s %s NEW.%s" % (q(c), "IS NOT" if self.vendor == "sqlite" else "IS DISTINCT FROM", q(c)) for c in cols)
        update = related if d.kind in ("fk", "m2m") else stmts("OLD") + stmts("NEW")
        return {"INSERT": (stmts("NEW"), None), "UPDATE": (update, cond), "DELETE": (stmts("OLD"), None)}

    def statements(self):
        """(table, trigger name, {event: ([insert statements], update condition)}) for each table."""
        # an update records the id the row had: if it changed, the old document must go
        out = [(self.table, self.ident, {
            "INSERT": ([self._insert("save", self.own_pk("NEW"), self.own_id("NEW"))], None),
            "UPDATE": ([self._insert("save", self.own_pk("OLD"), self.own_id("OLD"))], None),
            "DELETE": ([self._insert("delete", self.own_pk("OLD"), self.own_id("OLD"))], None)})]
        for i, d in enumerate(self.deps):
            out.append((d.model._meta.db_table, "%s_%s%d" % (self.ident, "m2m" if d.kind == "through" else "dep", i),
                        self._dep_events(d)))
        return out

    def create_sql(self):
        sql = []
        for table, name, events in self.statements():
            if self.vendor == "sqlite":
                for event, (inserts, cond) in events.items():
                    cols = ""
                    if cond is not None:
                        cols = " OF " + ", ".join(sorted(set(re.findall(r'NEW\.("[^"]+")', cond))))
                    # a connection with the temp table solrsync_capture_off records nothing (capture_off)
                    sql.append("CREATE TRIGGER %s AFTER %s%s ON %s FOR EACH ROW WHEN NOT EXISTS "
                               "(SELECT 1 FROM pragma_table_info('solrsync_capture_off'))%s BEGIN %s; END"
                               % (self.q("%s_%s" % (name, event.lower())), event, cols, self.q(table),
                                  " AND (%s)" % cond if cond else "", "; ".join(inserts)))
                continue
            parts = []
            for event in ("INSERT", "UPDATE", "DELETE"):
                inserts, cond = events[event]
                body = ";\n".join(inserts) + ";"
                parts.append("%s TG_OP = '%s' THEN %s" % ("IF" if not parts else "ELSIF", event,
                                                           "IF %s THEN %s END IF;" % (cond, body) if cond else body))
            body = "\n".join(parts) + "\nEND IF;\nRETURN NULL;"
            sql.append("CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n%s\n"
                       "END\n$solrsync$" % (self.q(name), body))
            # a session with solrsync.capture_off = on records nothing (capture_off)
            sql.append("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW WHEN "
                       "(current_setting('solrsync.capture_off', true) IS DISTINCT FROM 'on') EXECUTE PROCEDURE %s()"
                       % (self.q(name), self.q(table), self.q(name)))
            sql.extend(self._truncate_sql(table, name))
        return sql

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
                "IF current_setting('solrsync.capture_off', true) IS DISTINCT FROM 'on' THEN %s; END IF;\n"
                "RETURN NULL;\nEND\n$solrsync$" % (fn, insert),
                "CREATE TRIGGER %s BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE PROCEDURE %s()"
                % (fn, self.q(table), fn)]


def notify_sql():
    """PostgreSQL: one NOTIFY per pipeline per statement that wrote change-log rows, delivered
    when the transaction commits (none if it rolls back) -- whoever wrote them."""
    table = quote(Change._meta.db_table)
    return ["CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $solrsync$\nBEGIN\n"
            "PERFORM pg_notify('%s', p) FROM (SELECT DISTINCT pipeline AS p FROM solrsync_new) s;\nRETURN NULL;\n"
            "END\n$solrsync$" % (quote(NOTIFY), CHANNEL),
            "CREATE TRIGGER %s AFTER INSERT ON %s REFERENCING NEW TABLE AS solrsync_new FOR EACH STATEMENT "
            "EXECUTE PROCEDURE %s()" % (quote(NOTIFY), table, quote(NOTIFY))]


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
            tp = TriggerPlan(p, p.model_class, conn.vendor)
            for table, columns in tp.tables().items():
                if table not in tables:
                    raise Unsupported("table %s does not exist" % table)
                with conn.cursor() as cur:
                    have = {c.name for c in conn.introspection.get_table_description(cur, table)}
                missing = sorted(set(columns) - have)
                if missing:
                    raise Unsupported("column %s.%s does not exist" % (table, ", ".join(missing)))
            plans.append(tp)
        except Unsupported as exc:
            skipped[name] = str(exc)
    return plans, skipped


def install(pipelines, using, mode="triggers"):
    """(Re)create the triggers of these pipelines on this database, in one transaction (saves never
    see a moment without them; a failure leaves the previous ones). Returns {pipeline: reason}
    for those left on the signal path."""
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
    """How this pipeline's changes are recorded here, in words (``status``)."""
    if pipeline.name in installed(using):
        tp = TriggerPlan(pipeline, pipeline.model_class, connections[using].vendor)
        extra = ["%s by signals" % d.describe() for d in tp.signal_deps]
        return "triggers" + (" (%s)" % "; ".join(extra) if extra else "")
    return "signals"


# ------------------------------------------------------------------ many rows at once
def record_rows(pipeline, queryset, using, op="save"):
    """Record a change for every row of ``queryset`` (the pipeline's model) in one
    INSERT ... SELECT on PostgreSQL and SQLite -- a keyword on 100,000 layers is one statement,
    not 100,000 round trips; elsewhere (or for a computed id) in batches of 1,000."""
    conn = connections[using]
    table = quote(Change._meta.db_table)
    doc = pipeline.document.id
    qs = queryset.using(using).order_by()
    if conn.vendor in VENDORS and doc.fn is None:
        meta = qs.model._meta
        id_field = meta.pk if doc.source == "pk" else None
        try:
            if id_field is None and "." not in doc.source:
                id_field = meta.get_field(doc.source)
            if id_field is not None:
                sql, params = qs.values(solrsync_k=F("pk"), solrsync_d=F(id_field.name)).query.sql_with_params()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO %s (%s) SELECT %%s, %s, COALESCE(%s, ''), %%s, %s, 0 FROM (%s) s" % (
                        table, COLUMNS, text(meta.pk, "s.solrsync_k", conn.vendor),
                        text(id_field, "s.solrsync_d", conn.vendor), NOW[conn.vendor], sql),
                        [pipeline.name, op] + list(params))
                return
        except Unsupported:
            pass
    stamp = NOW.get(conn.vendor, "%s")
    sql = "INSERT INTO %s (%s) VALUES (%%s, %%s, %%s, %%s, %s, 0)" % (table, COLUMNS, stamp)
    rows = qs.iterator(chunk_size=1000) if doc.fn is not None or "." in (doc.source or "") else \
        (dict(pk=pk, id=value) for pk, value in qs.values_list("pk", doc.source).iterator(chunk_size=1000))
    batch = []
    for row in rows:
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
