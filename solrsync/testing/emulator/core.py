"""One core of the emulator: the latest state (what /get sees), the searcher's snapshot (what
/select sees), commits, and the default update chain (default values, the version check)."""
import itertools
import os
import re
import threading
import time

from .index import Doc
from .nested import delete_block, replace_block
from .parsers import parse
from .errors import not_emulated
from .schema import MAX_TERM_BYTES, Schema, SolrConfig, SolrHTTPError, bad_request
from .search import search
from .versions import SolrVersion

_ATOMIC = ("set", "add", "add-distinct", "remove", "removeregex", "inc")
_TEXTUAL = ("string", "text")
_PLAIN = {"string": str, "text": str, "int": int, "boolean": bool}  # a value of this type is stored as is


class Core:
    """One core: the latest state (what /get sees) and the searcher's snapshot (what /select sees)."""

    def __init__(self, name, conf_dir, configset=None, instance_dir=None, solr_version=None):
        self.name, self.conf_dir, self.configset = name, str(conf_dir), configset
        self.solr_version = solr_version or SolrVersion()  # the Solr it answers as
        self.instance_dir = instance_dir  # a CoreAdmin-created core's directory (else the configset's)
        self.load_config()
        self.latest = {}    # id -> Doc, uncommitted changes included
        self.visible = {}   # id -> Doc, as of the last opened searcher
        self.generation = 0
        self.commit_due = None
        self.lock = threading.RLock()
        self.started = time.time()
        self._sorted = {}
        self.stats_base = ({}, {})  # (documents, {field: FieldStats over them}): see search.similarity
        self._dups = {}  # id -> how many extra documents overwrite=false added with it
        self._blocks = {}  # parent id -> its nested documents' ids (nested.py)
        self._clock = itertools.count(int(time.time() * 1000) << 20)
        self.on_searcher = None  # a hook for measurements: called after each new searcher opens

    def load_config(self):
        """(Re)read managed-schema and solrconfig.xml (core creation and RELOAD)."""
        self.config = SolrConfig.from_configset(self.conf_dir)
        self.lucene_major = min(self.config.lucene_major or self.solr_version.major, self.solr_version.major)
        self.schema = Schema.from_configset(self.conf_dir, self.lucene_major)
        self.roots_everywhere = self.solr_version.major >= 8 and "_root_" in self.schema.fields
        self._compile_chain()

    def _compile_chain(self):
        """The default update chain as three steps: default values set before the version check (adds
        only), the version check (DocBasedVersionConstraintsProcessorFactory), default values set after it
        (adds and the tombstones the version check makes of deletes). Log/Distributed/Run need nothing."""
        self.pre_defaults, self.post_defaults, self.version = [], [], None
        for kind, args in self.config.chain:
            if kind == "default":
                (self.post_defaults if self.version else self.pre_defaults).append(
                    (args["fieldName"], args["value"]))
            elif kind == "version":
                self.version = _VersionRule(self.schema, args)

    # ------------------------------------------------------------ commits
    def open_searcher(self):
        counted = {key[1]: got for key, got in list(self._sorted.items()) if key[0] == "\0stats"}
        if counted:  # the next searcher's statistics: these, with only the documents changed since counted again
            self.stats_base = (self.visible, counted)
        self.visible = dict(self.latest)
        self.generation += 1
        self.commit_due = None
        self._sorted = {}  # a new searcher's caches: a search still on the old one keeps its own
        if self.on_searcher is not None:
            self.on_searcher(self)

    def commit_within(self, millis):
        due = time.monotonic() + millis / 1000.0
        if self.commit_due is None or due < self.commit_due:
            self.commit_due = due

    def tick(self):
        if self.commit_due is not None and time.monotonic() >= self.commit_due:
            self.open_searcher()

    # ------------------------------------------------------------ updates
    def add(self, raw, overwrite=True):
        """One document through the update chain; returns its id, or None when the version check
        dropped it (an older or equal solrsync_version: Solr answers 200 and ignores it)."""
        schema = self.schema
        uk = schema.unique_key
        children = raw.pop("_childDocuments_", None)
        for name, value in self.pre_defaults:
            if raw.get(name) is None:
                raw[name] = value
        rule = self.version
        if rule is not None:
            new_version = raw.get(rule.field)
            if type(new_version) is list:  # Solr reads the first value; the schema refuses the rest later
                new_version = new_version[0] if new_version else None
            if new_version is None:  # Solr 8.11 answers 500 here (5.3.1: 400)
                raise SolrHTTPError(self.solr_version.no_version_status,
                                    "Doc does not have versionField: %s" % rule.field)
        doc_id = raw.get(uk)
        if isinstance(doc_id, dict):
            doc_id = doc_id.get("set")
        if doc_id is None or doc_id == [] or doc_id == "":
            raise bad_request("Document is missing mandatory uniqueKey field: %s" % uk)
        doc_id = str(doc_id[0] if isinstance(doc_id, list) else doc_id)
        existing = self.latest.get(doc_id)
        expected = raw.get("_version_")
        if rule is not None:
            # The version processor sets the update's _version_ to the stored one (retrying on a
            # conflict), so a _version_ sent by the client is ignored: no optimistic concurrency 409.
            new_version = rule.check(doc_id, existing, new_version)
            if new_version is None:
                return None
            if type(raw.get(rule.field)) is float:
                raw[rule.field] = new_version  # 5.x stores a float version truncated to the long
            for name, value in self.post_defaults:
                if raw.get(name) is None:
                    raw[name] = value
        elif expected not in (None, 0, "0"):
            expected = int(expected)
            actual = int(existing.fields["_version_"]) if existing else -1
            if (expected < 0 and existing) or (expected == 1 and not existing) or \
               (expected > 1 and expected != actual):
                raise SolrHTTPError(409, "version conflict for %s expected=%s actual=%s"
                                    % (doc_id, expected, actual))
        return self._index(raw, doc_id, existing, overwrite, children)

    def _index(self, raw, doc_id, existing, overwrite=True, children=None):
        """The end of the chain (Distributed + Run): atomic operations, the schema, the index
        (``children``: the block of nested documents indexed before the parent, nested.py)."""
        schema = self.schema
        uk = schema.unique_key
        if any(type(v) is dict and v and set(v) <= set(_ATOMIC) for v in raw.values()):
            raw = self._apply_atomic(raw, existing, doc_id)
        fields = self._fields(raw, doc_id)
        fields[uk] = doc_id
        for name in schema.required():
            if name not in fields:
                raise bad_request("[doc=%s] missing required field: %s" % (doc_id, name))
        if "_version_" in schema.fields:
            fields["_version_"] = next(self._clock)
        if existing is not None and not overwrite:  # Solr adds a second document with that id
            self._dups[doc_id] = self._dups.get(doc_id, 0) + 1
            self.latest["%s\0dup%d" % (doc_id, self._dups[doc_id])] = Doc(fields)
            return doc_id
        if self._dups:
            self._drop_dups(doc_id)
        if children or self._blocks:
            replace_block(self, doc_id, fields, children)
        elif self.roots_everywhere:  # 8.x/9.x: every document has _root_ (its own id outside a block)
            fields["_root_"] = doc_id
        self.latest.pop(doc_id, None)  # an update moves the document to the end, as a new Lucene doc
        self.latest[doc_id] = Doc(fields)
        return doc_id

    def _fields(self, raw, doc_id):
        """A document's fields checked and converted by the schema (their stored form)."""
        schema = self.schema
        fields = {}
        for name, value in raw.items():
            if name == "_version_" or value is None:
                continue
            f = schema.field(name)
            if f is None:
                if self.config.schemaless:
                    raise not_emulated("schemaless field guessing (AddSchemaFieldsUpdateProcessorFactory, for "
                                       "the unknown field '%s')" % name)
                raise bad_request("ERROR: [doc=%s] unknown field '%s'" % (doc_id, name))
            if not f.multi and type(value) is _PLAIN.get(f.kind) and not _unusual(value, f.bits):  # stored form
                fields[name] = value
                continue
            values = value if isinstance(value, list) else [value]
            if f.kind in _TEXTUAL:
                values = [v if type(v) is str and not _long_string(v) else f.coerce(v, doc_id, self.solr_version)
                          for v in values if v is not None]
            else:
                values = [f.coerce(v, doc_id, self.solr_version) for v in values if v is not None]
            if not values:
                continue
            if f.multi:
                fields[name] = values
            elif len(values) > 1:
                raise bad_request("ERROR: [doc=%s] multiple values encountered for non multiValued field %s: [%s]"
                                  % (doc_id, name, ", ".join(str(v) for v in values)))
            else:
                fields[name] = values[0]
        return fields

    def _apply_atomic(self, raw, existing, doc_id):
        base = {k: (list(v) if isinstance(v, list) else v) for k, v in (existing.fields if existing else {}).items()}
        base.pop("_version_", None)
        for name, value in raw.items():
            if name == "_version_":
                continue
            if not isinstance(value, dict):
                base[name] = value
                continue
            (op, arg), = value.items()
            cur = base.get(name)
            cur = [] if cur is None else (cur if isinstance(cur, list) else [cur])
            args = arg if isinstance(arg, list) else [arg]
            if op == "set":
                base[name] = arg
            elif op == "add":
                base[name] = cur + args
            elif op == "add-distinct":
                base[name] = cur + [a for a in args if a not in cur]
            elif op == "remove":
                base[name] = [v for v in cur if v not in args]
            elif op == "removeregex":
                base[name] = [v for v in cur if not any(re.fullmatch(a, str(v)) for a in args)]
            elif op == "inc":
                f = self.schema.field(name)
                try:
                    num = float(arg) if f is not None and f.kind == "float" else int(arg)
                except (TypeError, ValueError):  # Solr 8.11: 400 (5.3.1: 500, a NumberFormatException)
                    raise SolrHTTPError(self.solr_version.bad_inc_status,
                                        "Error converting field '%s'='%s' to native type" % (name, arg))
                base[name] = (cur[0] if cur else 0) + num
            if base.get(name) == []:
                base.pop(name)
        return base

    def delete_id(self, doc_id, params=None):
        """Delete by id; True when a document was there. With a version processor that has a
        deleteVersionParam, the delete needs that request parameter and becomes a tombstone (id and
        version only, through the rest of the chain), or is ignored when not newer."""
        doc_id = str(doc_id)
        rule = self.version
        if self._dups:
            self._drop_dups(doc_id)
        if self._blocks and self.solr_version.major >= 8:  # 8.0 on: deleting a root deletes its block
            delete_block(self, doc_id)
        if rule is None or rule.delete_param is None:
            return self.latest.pop(doc_id, None) is not None
        raw = (params or {}).get(rule.delete_param)
        if not raw:
            raise bad_request("Delete by ID must specify doc version param: %s" % rule.delete_param)
        existing = self.latest.get(doc_id)
        version = rule.check(doc_id, existing, raw[0])
        if version is None:
            return False
        tombstone = {self.schema.unique_key: doc_id, rule.field: version}
        for name, value in self.post_defaults:
            tombstone[name] = value
        self._index(tombstone, doc_id, existing)
        return existing is not None

    def _drop_dups(self, doc_id):
        for n in range(1, self._dups.pop(doc_id, 0) + 1):
            self.latest.pop("%s\0dup%d" % (doc_id, n), None)

    def delete_query(self, q):
        match = parse(q, self.schema)
        doomed = [k for k, d in self.latest.items() if match.score(d) is not None]
        for k in doomed:
            del self.latest[k]
        return len(doomed)

    # ------------------------------------------------------------ search
    def searcher(self, visible=None):
        """The searcher open now, for one search (taken under the core's lock; ``visible``: only
        these of its documents, one shard's)."""
        return Searcher(self, visible)

    def drop_caches(self):
        """The schema or config changed under the open searcher: what it cached was built with the old."""
        self._sorted = {}
        self.stats_base = ({}, {})

    def status(self):
        instance = self.instance_dir or self.conf_dir.rsplit("/conf", 1)[0]
        return {"name": self.name, "instanceDir": instance + "/", "dataDir": instance + "/data/",
                "config": "solrconfig.xml", "schema": os.path.basename(self.schema.path),
                "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "uptime": int((time.time() - self.started) * 1000),
                "index": {"numDocs": len(self.visible), "maxDoc": len(self.visible),
                          "version": self.generation, "current": self.visible.keys() == self.latest.keys()}}


class Searcher:
    """What one /select reads, fixed when it starts: the open searcher's documents, its caches and
    the schema. As in Solr, a search runs on its searcher while updates go on; only taking this
    snapshot holds the core's lock (a search of 100,000 documents computing its scoring statistics
    held every post for a second, where Solr's indexing goes on beside its queries)."""

    def __init__(self, core, visible=None):
        self.schema, self.solr_version = core.schema, core.solr_version
        self.lucene_major, self.roots_everywhere = core.lucene_major, core.roots_everywhere
        self.generation = core.generation
        self.visible = core.visible if visible is None else visible
        self._sorted = core._sorted if visible is None else {}  # a shard's subset caches its own
        self.stats_base = core.stats_base if visible is None else ({}, {})
        self._blocks = dict(core._blocks)  # updates change it in place
        self.duplicates = bool(core._dups)  # overwrite=false: documents sharing a key (search._by_key)

    def search(self, params):
        """/select on this snapshot -> (response, extra: nextCursorMark, facets, highlighting)."""
        return search(self, params)


class _VersionRule:
    """DocBasedVersionConstraintsProcessorFactory as Solr 5.3.1 runs it (checked against it): the
    stored version is read from the latest state (realtime get, uncommitted updates included)."""

    def __init__(self, schema, args):
        self.field = args.get("versionField")
        f = schema.fields.get(self.field) if self.field else None
        if f is None or not f.stored or f.multi:
            raise SolrHTTPError(500, "field %s must be defined in schema, be stored, and be single valued."
                                % self.field)
        if schema.unique_key is None:
            raise SolrHTTPError(500, "schema must have uniqueKey defined.")
        self.kind = f.kind
        self.ignore_old = bool(args.get("ignoreOldUpdates", False))
        self.delete_param = args.get("deleteVersionParam")

    def convert(self, value):
        """A version as the field type reads it: strings parsed (``Invalid Number``), numbers as sent."""
        if isinstance(value, str):
            try:
                if self.kind == "int":
                    return int(value.strip())
                if self.kind == "float":
                    return float(value.strip())
            except ValueError:
                raise bad_request("Invalid Number: %s" % value)
        return value

    def check(self, doc_id, existing, new):
        """-> the converted new version when it may proceed, None when it is to be dropped (not newer,
        ignoreOldUpdates); 409 when not newer without ignoreOldUpdates."""
        new = self.convert(new)
        if existing is None:
            return int(new) if type(new) is float and self.kind == "int" else new
        old = existing.fields.get(self.field)
        if old is None:
            raise SolrHTTPError(500, "Doc exists in index, but has null versionField: %s" % self.field)
        if type(new) is not type(old) or type(new) is dict:
            raise bad_request("old version and new version are not comparable: class %s vs class %s"
                              % (_JAVA_CLASS.get(type(old), "java.lang.Object"),
                                 _JAVA_CLASS.get(type(new), "java.lang.Object")))
        if new > old:
            return new
        if self.ignore_old:
            return None
        raise SolrHTTPError(409, "user version is not high enough: %s" % new)


_JAVA_CLASS = {int: "java.lang.Long", float: "java.lang.Double", str: "java.lang.String",
               bool: "java.lang.Boolean", dict: "java.util.HashMap"}


def _long_string(value):
    """Possibly over Lucene's term limit (a UTF-8 character is at most 4 bytes): coerce checks."""
    return type(value) is str and len(value) > MAX_TERM_BYTES // 4


_INTEGER_RANGE = {32: (-2 ** 31, 2 ** 31), 64: (-2 ** 63, 2 ** 63)}


def _unusual(value, bits):
    """Not stored as it is without coerce's look: a possibly too long string, an integer beyond the
    field's ``bits`` (an int field wraps it, a long field refuses one beyond 64 bits). A long within
    64 bits -- every solrsync_version, microseconds since 1970 -- is stored as it is: through
    coerce, the version cost an update 8 % more instructions than a 32-bit one."""
    if type(value) is int:
        low, high = _INTEGER_RANGE[bits]
        return not low <= value < high
    return _long_string(value)
