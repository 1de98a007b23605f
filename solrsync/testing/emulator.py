"""A Solr emulator: a real HTTP server speaking the part of Solr's wire format solrsync uses.

    with SolrEmulator() as solr:             # free port on 127.0.0.1, core "layers"
        url = solr.core_url("layers")         # http://127.0.0.1:PORT/solr/layers
        solr.faults.fail(503, seconds=2)      # fault injection
        solr.stats["docs_added"]

    python -m solrsync.testing.emulator --port 8983 --core layers --core books=configsets/books/conf

Each core is served from its own configset (default: the layers one solrsync ships), so schema errors match
production; so do the default update chain (DefaultValue and DocBasedVersionConstraints processors:
versioned adds, versioned deletes leaving tombstones) and the /select handler's defaults, appends
and invariants, read from its solrconfig.xml. CoreAdmin CREATE finds ``configSet=NAME`` in a directory
of configsets (``NAME/conf``; default: solrsync/configsets), as Solr does in ``<solr_home>/configsets``.
Visibility follows Solr: adds are seen by /select only after a commit, a soft commit
or commitWithin; /get sees them at once. Where this and a real Solr disagree, Solr is right.
"""
import argparse
import base64
import copy
import fnmatch
import itertools
import json
import os
import pathlib
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from .query import Doc, parse
from .schema import MAX_TERM_BYTES, Schema, SolrConfig, SolrHTTPError, bad_request, parse_date
from .versions import DEFAULT_MAJOR, SPEC, SolrVersion

CONFIGSETS = pathlib.Path(__file__).resolve().parent.parent / "configsets"
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
        self._clock = itertools.count(int(time.time() * 1000) << 20)
        self.on_searcher = None  # a hook for measurements: called after each new searcher opens

    def load_config(self):
        """(Re)read managed-schema and solrconfig.xml (core creation and RELOAD)."""
        self.schema = Schema.from_configset(self.conf_dir)
        self.config = SolrConfig.from_configset(self.conf_dir)
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
        self.visible = dict(self.latest)
        self.generation += 1
        self.commit_due = None
        self._sorted.clear()
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
        for name, value in self.pre_defaults:
            if raw.get(name) is None:
                raw[name] = value
        rule = self.version
        if rule is not None:
            new_version = raw.get(rule.field)
            if type(new_version) is list:  # Solr reads the first value; the schema refuses the rest later
                new_version = new_version[0] if new_version else None
            if new_version is None:
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
        return self._index(raw, doc_id, existing, overwrite)

    def _index(self, raw, doc_id, existing, overwrite=True):
        """The end of the chain (Distributed + Run): atomic operations, the schema, the index."""
        schema = self.schema
        uk = schema.unique_key
        if any(type(v) is dict and v and set(v) <= set(_ATOMIC) for v in raw.values()):
            raw = self._apply_atomic(raw, existing, doc_id)
        fields = {}
        for name, value in raw.items():
            if name == "_version_" or value is None:
                continue
            f = schema.field(name)
            if f is None:
                raise bad_request("ERROR: [doc=%s] unknown field '%s'" % (doc_id, name))
            if not f.multi and type(value) is _PLAIN.get(f.kind) and not _long_string(value):  # stored form
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
        fields[uk] = doc_id
        for name in schema.required():
            if name not in fields:
                raise bad_request("[doc=%s] missing required field: %s" % (doc_id, name))
        if "_version_" in schema.fields:
            fields["_version_"] = next(self._clock)
        if existing is not None and not overwrite:
            return doc_id
        self.latest.pop(doc_id, None)  # an update moves the document to the end, as a new Lucene doc
        self.latest[doc_id] = Doc(fields)
        return doc_id

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
                except (TypeError, ValueError):
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

    def delete_query(self, q):
        match = parse(q, self.schema)
        doomed = [k for k, d in self.latest.items() if match(d)]
        for k in doomed:
            del self.latest[k]
        return len(doomed)

    # ------------------------------------------------------------ search
    def search(self, params):
        schema = self.schema
        q = params.get("q", ["*:*"])[0]
        df = params.get("df", ["text"])[0]
        fqs = params.get("fq", [])
        sort = params.get("sort", [""])[0]
        rows = int(params.get("rows", ["10"])[0])
        start = int(params.get("start", ["0"])[0])
        cursor = params.get("cursorMark", [None])[0]
        keys = _parse_sort(sort, schema, self.solr_version)
        if cursor is not None:
            if start != 0:
                raise bad_request("Cursor functionality requires start=0")
            if not any(name == schema.unique_key for name, _ in keys):
                raise bad_request("Cursor functionality requires a sort containing a uniqueKey field tie breaker")
        cache_key = (self.generation, q, df, tuple(fqs), sort)
        hits = self._sorted.get(cache_key)
        if hits is None:
            preds = [parse(q, schema, df)] + [parse(fq, schema, df) for fq in fqs]
            hits = [d for d in self.visible.values() if all(p(d) for p in preds)]
            if keys:
                for name, desc in reversed(keys):
                    hits.sort(key=lambda d, n=name, de=desc: _sort_key(d, n, schema, de), reverse=desc)
            if len(self._sorted) > 32:
                self._sorted.clear()
            self._sorted[cache_key] = hits
        page_from = start
        if cursor not in (None, "*"):
            try:
                after = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
            except ValueError:
                raise bad_request("Unable to parse 'cursorMark' after totem: value must either be '*' "
                                  "or the 'nextCursorMark' returned by a previous search: %s" % cursor)
            page_from = _after_cursor(hits, keys, after, schema)
        page = hits[page_from:page_from + rows]
        fl = params.get("fl", ["*"])
        out = {"numFound": len(hits), "start": start, "docs": [_project(d, fl, schema) for d in page]}
        if self.solr_version.counts_exactly:
            out["numFoundExact"] = True
        if any("score" in entry for entry in fl):
            out["maxScore"] = 1.0
        extra = {}
        if cursor is not None:
            if page:
                last = [_sort_value(page[-1], name, schema, desc) for name, desc in keys]
                extra["nextCursorMark"] = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
            else:
                extra["nextCursorMark"] = cursor
        return out, extra

    def status(self):
        instance = self.instance_dir or self.conf_dir.rsplit("/conf", 1)[0]
        return {"name": self.name, "instanceDir": instance + "/", "dataDir": instance + "/data/",
                "config": "solrconfig.xml", "schema": os.path.basename(self.schema.path),
                "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "uptime": int((time.time() - self.started) * 1000),
                "index": {"numDocs": len(self.visible), "maxDoc": len(self.visible),
                          "version": self.generation, "current": self.visible.keys() == self.latest.keys()}}


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


def _parse_sort(sort, schema, solr_version):
    keys = []
    for part in [p.strip() for p in sort.split(",") if p.strip()]:
        bits = part.split()
        if len(bits) != 2 or bits[1].lower() not in ("asc", "desc"):
            raise bad_request("Can't determine a Sort Order (asc or desc) in sort spec '%s'" % part)
        name, desc = bits[0], bits[1].lower() == "desc"
        if name == "score":
            continue
        f = schema.field(name)
        if f is None:
            raise bad_request("sort param field can't be found: %s" % name)
        if f.multi and not solr_version.sorts_multivalued:
            raise bad_request("can not sort on multivalued field: %s" % name)
        keys.append((name, desc))  # a multi-valued field (docValues) sorts by its min / max, as Solr 8+
    return keys


def _sort_value(doc, name, schema, desc=False):
    v = doc.fields.get(name)
    f = schema.field(name)
    if isinstance(v, list):
        v = (max(v) if desc else min(v)) if v else None
    if v is not None and f.kind == "date":
        return parse_date(v)[0]
    return v


def _sort_key(doc, name, schema, desc):
    v = _sort_value(doc, name, schema, desc)
    missing = v is None
    # missing values sort last in both directions (sortMissingLast)
    return (not missing if desc else missing, v if not missing else 0)


def _after_cursor(hits, keys, after, schema):
    def cmp_key(doc):
        return [_sort_value(doc, name, schema, desc) for name, desc in keys]
    for i, doc in enumerate(hits):
        vals = cmp_key(doc)
        for v, a, (_, desc) in zip(vals, after, keys):
            if v == a:
                continue
            if v is None or a is None:
                later = a is not None
            else:
                later = v > a if not desc else v < a
            if later:
                return i
            break
    return len(hits)


def _project(doc, fl, schema):
    wanted = []
    for entry in fl:
        wanted.extend(w for w in entry.replace(",", " ").split() if w)
    if not wanted:
        wanted = ["*"]
    out = {}
    for name, value in doc.fields.items():
        f = schema.field(name)
        if name != "_version_" and f is not None and not f.stored:
            continue
        if any(w == "*" or w == name or ("*" in w and _glob(w, name)) for w in wanted):
            out[name] = list(value) if isinstance(value, list) else value
    if "score" in wanted:
        out["score"] = 1.0
    return out


def _glob(pattern, name):
    return fnmatch.fnmatchcase(name, pattern)


class Faults:
    """Fault injection: error statuses, latency, dropped connections; each for N requests or S seconds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self._fail = None    # (status, until, remaining)
        self._drop = None    # (until, remaining)
        self.latency = 0.0

    def fail(self, status=503, seconds=None, count=None):
        self._fail = (status, _until(seconds), count)

    def drop(self, seconds=None, count=None):
        self._drop = (_until(seconds), count)

    def delay(self, seconds):
        self.latency = float(seconds)

    def take(self):
        """-> ("drop", None) | ("fail", status) | None for the request now arriving."""
        with self.lock:
            if self._drop and _active(self._drop[0], self._drop[1]):
                until, count = self._drop
                self._drop = (until, None if count is None else count - 1)
                return ("drop", None)
            if self._fail and _active(self._fail[1], self._fail[2]):
                status, until, count = self._fail
                self._fail = (status, until, None if count is None else count - 1)
                return ("fail", status)
        return None


def _until(seconds):
    return None if seconds is None else time.monotonic() + seconds


def _active(until, count):
    if count is not None and count <= 0:
        return False
    return until is None or time.monotonic() < until


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, emulator):
        self.emulator = emulator
        self.open_sockets = set()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        for sock in list(self.open_sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def read_configsets(directory):
    """{name: conf dir} of the configsets in ``directory`` (each ``NAME/conf`` holding solrconfig.xml)."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError("configsets directory %s does not exist" % directory)
    return {path.parent.name: path for path in sorted(directory.glob("*/conf"))
            if (path / "solrconfig.xml").is_file()}


def free_port():
    """A TCP port free on 127.0.0.1 right now (for the emulator, a consumer, a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SolrEmulator:
    """The server: a set of cores on 127.0.0.1:port under /solr, plus faults and counters."""

    def __init__(self, port=0, cores=("layers",), configset=None, host="127.0.0.1", configsets=None, cloud=False,
                 record_updates=False, solr_version=DEFAULT_MAJOR):
        """``cores``: names (served from ``configset``, a conf dir; default the shipped layers one) or a
        dict {name: conf dir or None}; ``configsets``: the directory of configsets ``NAME/conf`` that
        CoreAdmin CREATE ``configSet=NAME`` reads (default: the ones solrsync ships). ``cloud``: act
        as a SolrCloud node, each name an alias of a collection (testing/cloud.py).
        ``record_updates``: keep, per update request, when it arrived and ended, the client's
        address and the ids it added (with their versions) and deleted, in ``updates`` (and at
        GET /solr/_emulator/updates): the tests with several hosts find there whether two workers
        pushed one document at once. ``solr_version``: the major version (5, 8 or 9) it answers as,
        where those differ (testing/versions.py)."""
        self.host, self.port = host, port
        self.solr_version = SolrVersion(solr_version)
        self.record_updates = record_updates
        self.updates = []
        self.configsets = read_configsets(configsets or CONFIGSETS)
        self.default_conf = pathlib.Path(configset) if configset else \
            self.configsets.get("layers", CONFIGSETS / "layers" / "conf")
        confs = cores if isinstance(cores, dict) else dict.fromkeys(cores)
        self.core_confs = {name: pathlib.Path(conf) if conf else self.default_conf for name, conf in confs.items()}
        self.cores = {}
        self.lock = threading.RLock()
        self.cloud = None
        if cloud:
            from .cloud import Cloud
            self.cloud = Cloud(self)
            self.cloud.reset(list(self.core_confs))
        else:
            for name, conf in self.core_confs.items():
                self.add_core(name, conf)
        self.faults = Faults()
        self.stats = {}
        self.reset_stats()
        self.home = None  # the Solr home where CoreAdmin CREATE makes instance dirs (on first use)
        self._server = None
        self._thread = None

    def add_core(self, name, conf_dir):
        """A new core ``name`` served from the configset in ``conf_dir`` (replacing any core so named)."""
        core = Core(name, conf_dir, solr_version=self.solr_version)
        with self.lock:
            self.cores[name] = core
        return core

    # ------------------------------------------------------------ lifecycle
    def start(self):
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="solr-emulator:%d" % self.port, daemon=True)
        self._thread.start()
        if getattr(self, "_ticker", None) is None or not self._ticker.is_alive():
            self._ticker = threading.Thread(target=self._tick_forever, name="solr-emulator-commits", daemon=True)
            self._ticker.start()
        return self

    def _tick_forever(self):
        """Open searchers when commitWithin falls due, as Solr's commit tracker does, even when no
        request arrives (freshness measurements depend on it)."""
        while self._server is not None:
            with self.lock:
                cores = list(self.cores.values())
            for core in cores:
                if core.commit_due is not None:
                    with core.lock:
                        core.tick()
            time.sleep(0.02)

    def stop(self):
        """Stop listening and cut open connections; data stays, so start() brings the same index back."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_all()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if self.home is not None:  # the instance dirs CoreAdmin CREATE made
            shutil.rmtree(self.home, ignore_errors=True)

    @property
    def url(self):
        return "http://%s:%d/solr" % (self.host, self.port)

    def core_url(self, name="layers"):
        return "%s/%s" % (self.url, name)

    def core(self, name="layers"):
        return self.cores[name]

    def reset(self, cores=("layers",)):
        """A clean server: fresh cores, no faults, zeroed counters (what a test fixture wants)."""
        with self.lock:
            if self.cloud is not None:
                self.cloud.reset(cores)
            else:
                self.cores = {name: Core(name, self.core_confs.get(name, self.default_conf),
                                         solr_version=self.solr_version) for name in cores}
        self.faults.clear()
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.updates = []
        self.stats.update(requests=0, update_requests=0, select_requests=0, docs_added=0,
                          docs_dropped=0, docs_deleted=0, errors=0, faults=0)

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n

    # ------------------------------------------------------------ CoreAdmin
    def core_admin(self, params):
        action = params.get("action", ["STATUS"])[0].upper()
        name = params.get("core", params.get("name", [None]))[0]
        with self.lock:
            if action == "STATUS" and self.cloud is not None:
                return {"initFailures": {}, "status": self.cloud.core_status([name] if name else [])}
            if action == "STATUS":
                names = [name] if name else sorted(self.cores)
                return {"initFailures": {}, "status": {n: (self.cores[n].status() if n in self.cores else {})
                                                       for n in names}}
            if action == "CREATE":
                if not name:
                    raise bad_request("Missing parameter [name]")
                if name in self.cores:
                    raise SolrHTTPError(500, "Core with name '%s' already exists." % name)
                conf = self._find_conf(params, name)
                if self.home is None:
                    self.home = tempfile.mkdtemp(prefix="solr-emulator-home-")
                instance = os.path.join(self.home, os.path.basename(params.get("instanceDir", [name])[0]) or name)
                os.makedirs(instance, exist_ok=True)
                with open(os.path.join(instance, "core.properties"), "w") as f:
                    f.write("name=%s\n" % name)
                with self.lock:
                    self.cores[name] = Core(name, conf, instance_dir=instance, solr_version=self.solr_version)
                return {"core": name}
            if name not in self.cores:
                raise bad_request("No such core: %s" % name if action != "UNLOAD"
                                  else "Cannot unload non-existent core [%s]" % name)
            if action == "UNLOAD":
                # as Solr: the instance dir (index and transaction logs in it) goes with deleteInstanceDir
                gone = self.cores.pop(name)
                if params.get("deleteInstanceDir", ["false"])[0] == "true" and gone.instance_dir:
                    shutil.rmtree(gone.instance_dir, ignore_errors=True)
            elif action == "RELOAD":
                core = self.cores[name]
                core.load_config()
                core._sorted.clear()
            elif action == "SWAP":
                other = params.get("other", [None])[0]
                if other not in self.cores:
                    raise bad_request("No such core: %s" % other)
                a, b = self.cores[name], self.cores[other]
                a.name, b.name = other, name
                self.cores[name], self.cores[other] = b, a
            else:
                raise bad_request("Unsupported operation: %s" % action)
            return {}

    def _find_conf(self, params, name):
        configset = params.get("configSet", [None])[0]
        if configset:
            if configset not in self.configsets:
                raise bad_request("Error CREATEing SolrCore '%s': Unable to create core [%s] Caused by: Could not "
                                  "load configuration from directory configsets/%s" % (name, name, configset))
            return self.configsets[configset]
        instance = params.get("instanceDir", [name])[0]
        conf = os.path.join(instance, "conf")
        if os.path.isdir(conf):
            return conf
        raise bad_request("Error CREATEing SolrCore '%s': Unable to create core [%s] Caused by: Can't find resource "
                          "'solrconfig.xml' in classpath or '%s'" % (name, name, conf))


# ---------------------------------------------------------------- HTTP
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "SolrEmulator"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._serve(b"")

    def do_POST(self):
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length else b"", arrived)

    def _serve(self, body, arrived=None):
        emu = self.server.emulator
        # what an update request did, when emu.record_updates (filled by _update)
        self.record = {"added": [], "deleted": []} if emu.record_updates else None
        arrived = arrived or time.time()
        emu.count("requests")
        fault = emu.faults.take()
        if emu.faults.latency:
            time.sleep(emu.faults.latency)
        parts = urlsplit(self.path)
        params = parse_qs(parts.query, keep_blank_values=True)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded" and body and not parts.path.startswith("/solr/_emulator"):
            for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
                params.setdefault(k, []).extend(v)
            body = b""
        wt = params.get("wt", [None])[0] or ("xml" if ctype.endswith("xml") else "json")
        if fault:
            emu.count("faults")
            if fault[0] == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            return self._reply(fault[1], {"error": {"msg": "Service Unavailable (injected fault)",
                                                    "code": fault[1]}}, wt)
        started = time.monotonic()
        try:
            status, payload = 200, self._route(emu, parts.path.rstrip("/"), params, body, ctype)
        except SolrHTTPError as exc:
            emu.count("errors")
            status, payload = exc.code, {"error": {"msg": exc.msg, "code": exc.code}}
            if exc.details:
                payload["error"]["details"] = exc.details
        except Exception as exc:  # a bug in the emulator: say so as Solr would, with a 500
            emu.count("errors")
            status, payload = 500, {"error": {"msg": "%s: %s" % (type(exc).__name__, exc), "code": 500}}
        payload = dict(payload)
        if self.record is not None and self.record.get("core"):
            self.record.update(arrived=arrived, ended=time.time(), status=status, client=self.client_address[0],
                               port=self.client_address[1])
            with emu.lock:
                emu.updates.append(self.record)
        header = {"status": 0 if status == 200 else status, "QTime": int((time.monotonic() - started) * 1000)}
        self._reply(status, dict({"responseHeader": header}, **payload), wt)

    def _reply(self, status, payload, wt):
        if wt == "xml":
            data, ctype = _to_xml(payload, status).encode(), "application/xml; charset=UTF-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json; charset=UTF-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, emu, path, params, body, ctype):
        if not path.startswith("/solr"):
            raise SolrHTTPError(404, "Not Found: %s" % path)
        rest = path[len("/solr"):].strip("/").split("/")
        shard = None
        if emu.cloud is not None:
            answer = emu.cloud.route(rest, params, body)
            if answer is not None:
                return answer
            rest[0], shard = emu.cloud.resolve(rest[0])
        elif rest[:2] in (["admin", "collections"], ["admin", "configs"]):
            raise bad_request("Solr instance is not running in SolrCloud mode.")
        if rest[:2] == ["admin", "cores"]:
            return emu.core_admin(params)
        if rest[:3] == ["admin", "info", "system"]:
            return emu.solr_version.info("std")
        if rest[0] == "_emulator":
            return self._control(emu, rest[1:], body)
        with emu.lock:
            core = emu.cores.get(rest[0])
        if core is None:
            raise SolrHTTPError(404, "Error processing the request. CoreContainer is either not initialized or "
                                     "shutting down, or core '%s' does not exist." % rest[0])
        handler = "/".join(rest[1:])
        with core.lock:
            core.tick()
            if handler in ("update", "update/json", "update/json/docs"):
                emu.count("update_requests")
                forward = emu.cloud.forwarding(core, shard) if emu.cloud and core.name in emu.cloud.collections \
                    else None
                return self._update(emu, core, params, body, ctype, handler == "update/json/docs", forward)
            if handler in ("select", "query"):
                emu.count("select_requests")
                search = core.search if shard is None or params.get("distrib", ["true"])[0] != "false" else \
                    lambda p: emu.cloud.search_shard(core, shard, p)
                response, extra = search(core.config.handler_params("/" + handler, params))
                return dict({"response": response}, **extra)
            if handler == "get":
                return self._realtime_get(core, params)
            if handler == "admin/ping":
                return {"status": "OK"}
            if handler.startswith("schema"):
                return self._schema(emu, core, handler, body, params)
        raise SolrHTTPError(404, "Not Found: /solr/%s/%s" % (core.name, handler))

    def _update(self, emu, core, params, body, ctype, docs_only=False, forward=None):
        """``forward``: the request reached a SolrCloud collection (testing/cloud.py): each document
        runs as on its shard's leader."""
        if self.record is not None:
            self.record["core"] = core.name
        run = (lambda doc_id, op: op()) if forward is None else forward.run
        uk = core.schema.unique_key
        within = params.get("commitWithin", [None])[0]
        overwrite = params.get("overwrite", ["true"])[0] != "false"
        commits = []
        if body.strip():
            if ctype.endswith("xml") or body.lstrip()[:1] == b"<":
                commands = _xml_commands(body)
            elif body.lstrip()[:1] == b"[":  # a plain array of documents: the fast, common case
                try:
                    commands = [("add", (d, None, None)) for d in json.loads(body)]
                except ValueError as exc:
                    raise bad_request("Cannot parse provided JSON: %s" % exc)
            else:
                try:
                    data = json.loads(body, object_pairs_hook=lambda pairs: _Pairs(pairs))
                except ValueError as exc:
                    raise bad_request("Cannot parse provided JSON: %s" % exc)
                commands = _json_commands(data, docs_only)
            for op, arg in commands:
                if op == "add":
                    doc, doc_within, doc_overwrite = arg
                    if self.record is not None:
                        self.record["added"].append((_plain(doc.get("id")), _plain(doc.get("solrsync_version"))))
                    ow = overwrite if doc_overwrite is None else doc_overwrite
                    if run(doc.get(uk) if isinstance(doc, dict) else None,
                           lambda: core.add(doc, overwrite=ow)) is None:
                        emu.count("docs_dropped")
                    emu.count("docs_added")
                    cw = doc_within if doc_within is not None else within
                    if cw is not None and int(cw) >= 0:
                        core.commit_within(int(cw))
                elif op == "delete_id":
                    if self.record is not None:
                        self.record["deleted"].append(arg)
                    checked = core.version is None or core.version.delete_param is None or \
                        params.get(core.version.delete_param)  # a missing version is refused before forwarding
                    if run(arg if checked else None, lambda: core.delete_id(arg, params)):
                        emu.count("docs_deleted")
                    if within is not None:
                        core.commit_within(int(within))
                elif op == "delete_query":
                    emu.count("docs_deleted", core.delete_query(arg))
                    if within is not None:
                        core.commit_within(int(within))
                elif op == "commit":
                    commits.append(arg)
        flag = lambda name: params.get(name, ["false"])[0] == "true"  # noqa: E731
        if flag("commit"):
            commits.append(params.get("openSearcher", ["true"])[0] != "false")
        if flag("softCommit"):
            commits.append(True)
        if any(commits):
            core.open_searcher()
        if forward is not None:
            forward.raise_failure()
        return {}

    def _realtime_get(self, core, params):
        schema = core.schema
        fl = params.get("fl", ["*"])
        ids = list(params.get("id", []))
        for group in params.get("ids", []):
            ids.extend(i for i in group.split(",") if i)
        found = [_project(core.latest[i], fl, schema) for i in ids if i in core.latest]
        if "ids" not in params and len(ids) == 1:
            return {"doc": found[0] if found else None}
        return {"response": {"numFound": len(found), "start": 0, "docs": found}}

    def _schema(self, emu, core, handler, body, params):
        schema = core.schema
        parts = handler.split("/")
        if body:
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise bad_request("Error reading input String %s" % exc)
            if parts == ["schema", "fields"] and isinstance(data, list):  # the pre-5.x Schema REST form
                data = {"add-field": data}
            if not isinstance(data, dict):
                raise bad_request("Error reading input String: not a JSON object of commands")
            core.schema = _schema_commands(schema, data)
            core._sorted.clear()
            if emu.cloud is not None:
                emu.cloud.schema_changed(core, schema, params)
            return {}
        whole = schema.describe()
        listed = {"fields": "fields", "dynamicfields": "dynamicFields", "fieldtypes": "fieldTypes",
                  "copyfields": "copyFields"}
        if len(parts) == 2 and parts[1] in listed:
            return {listed[parts[1]]: whole[listed[parts[1]]]}
        if len(parts) == 3 and parts[1] in ("fields", "fieldtypes"):
            key = "fields" if parts[1] == "fields" else "fieldTypes"
            found = [item for item in whole[key] if item["name"] == parts[2]]
            if not found:
                raise SolrHTTPError(404, "%s '%s' not found." % ("Field" if key == "fields" else "Field type",
                                                                 parts[2]))
            return {key[:-1]: found[0]}
        if parts == ["schema", "uniquekey"]:
            return {"uniqueKey": schema.unique_key}
        if parts == ["schema"]:
            return {"schema": whole}
        raise SolrHTTPError(404, "Not Found: %s" % handler)

    def _control(self, emu, rest, body):
        """POST /solr/_emulator/faults {"fail": {"status": 503, "seconds": 5}} (or the form
        status=503&seconds=5); GET /solr/_emulator/stats; GET /solr/_emulator/updates (with
        record_updates)"""
        if rest == ["stats"]:
            return {"stats": dict(emu.stats)}
        if rest == ["updates"]:
            if not emu.record_updates:
                raise bad_request("updates: the emulator was started without --record-updates")
            with emu.lock:
                return {"updates": list(emu.updates)}
        if rest == ["faults"]:
            # JSON whatever the Content-Type says (curl -d sends JSON as a form), or a form; anything
            # else is refused rather than silently doing nothing.
            spec = _fault_spec(body)
            try:
                if spec.get("clear"):
                    emu.faults.clear()
                if "fail" in spec:
                    emu.faults.fail(**spec["fail"])
                if "drop" in spec:
                    emu.faults.drop(**spec["drop"])
                if "delay" in spec:
                    emu.faults.delay(spec["delay"])
            except (TypeError, ValueError) as exc:
                raise bad_request("faults: %s" % exc)
            return {}
        raise SolrHTTPError(404, "Not Found")


def _schema_commands(schema, data):
    """The Schema API's POST as Solr 8 runs it: the commands in order on a copy of the schema, which
    replaces it only when all succeed; else 400 "error processing commands" listing each failed one."""
    trial = copy.deepcopy(schema)
    errors = []
    for command, arg in data.items():
        for spec in arg if isinstance(arg, list) else [arg]:
            try:
                _schema_command(trial, command, spec)
            except SolrHTTPError as exc:
                errors.append({command: spec, "errorMessages": [exc.msg]})
    if errors:
        raise SolrHTTPError(400, "error processing commands", details=errors)
    return trial


def _schema_command(schema, command, spec):
    if not isinstance(spec, dict):
        raise bad_request("Expected a JSON object, got %r" % (spec,))
    spec = {k: str(v).lower() if isinstance(v, bool) else v for k, v in spec.items()}
    name = spec.get("name")
    if command in ("add-field", "add-dynamic-field"):
        dynamic = command == "add-dynamic-field"
        if name in (dict(schema.dynamic) if dynamic else schema.fields):
            raise bad_request("%s '%s' already exists." % ("Dynamic field" if dynamic else "Field", name))
        if spec.get("type") not in schema.types:
            raise bad_request("No such field type '%s'" % spec.get("type"))
        schema.add_field(spec, dynamic=dynamic)
    elif command == "add-field-type":
        if not name or not spec.get("class"):
            raise bad_request("A field type needs a name and a class")
        if name in schema.types:
            raise bad_request("Field type '%s' already exists." % name)
        schema.add_field_type(spec)
    elif command == "add-copy-field":
        source, dest = spec.get("source"), spec.get("dest")
        for d in dest if isinstance(dest, list) else [dest]:
            if "*" not in str(source) and schema.field(str(source)) is None:
                raise bad_request("copyField source :'%s' is not a glob and doesn't match any explicit field or "
                                  "dynamicField." % source)
            if schema.field(str(d)) is None:
                raise bad_request("copyField dest :'%s' is not an explicit field and doesn't match a dynamicField."
                                  % d)
            schema.copy.append((source, d))
    else:
        raise bad_request("no such command: %s (the emulator knows add-field, add-dynamic-field, add-field-type, "
                          "add-copy-field)" % command)


_FAULT_FORM = {"status": int, "seconds": float, "count": int, "delay": float, "drop": bool, "clear": bool}


def _fault_spec(body):
    """The body of POST /_emulator/faults -> {"clear"|"fail"|"drop"|"delay": ...}; 400 naming the
    accepted forms for anything else. The form (``status=503&seconds=5``) fails requests with
    ``status``, or with ``drop=true`` drops them, for ``seconds`` and/or ``count``; ``delay=S``
    adds latency, ``clear=true`` ends every fault."""
    text = body.decode("utf-8", "replace").strip()
    wanted = ('faults: the body must be a JSON object with any of "clear", "fail", "drop", "delay", e.g. '
              '{"fail": {"status": 503, "seconds": 2}}, or a form of %s, e.g. status=503&seconds=2; got %r'
              % (", ".join(_FAULT_FORM), text[:200]))
    if text[:1] in ("{", "[", '"') or not text:
        try:
            spec = json.loads(text or "{}")
        except ValueError:
            spec = None
        if not isinstance(spec, dict) or not spec or set(spec) - {"clear", "fail", "drop", "delay"}:
            raise bad_request(wanted)
        return spec
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise bad_request(wanted)
    if set(form) - set(_FAULT_FORM) or any(len(v) > 1 for v in form.values()):
        raise bad_request(wanted)
    values = {}
    for key, (raw,) in form.items():
        if _FAULT_FORM[key] is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise bad_request("faults: %s=%s is not true or false" % (key, raw))
            values[key] = raw.lower() in ("true", "1")
            continue
        try:
            values[key] = _FAULT_FORM[key](raw)
        except ValueError:
            raise bad_request("faults: %s=%s is not a number" % (key, raw))
    spec = {}
    if values.pop("clear", False):
        spec["clear"] = True
    if "delay" in values:
        spec["delay"] = values.pop("delay")
    window = {k: values.pop(k) for k in ("seconds", "count") if k in values}
    if values.pop("drop", False):
        if "status" in values:
            raise bad_request("faults: drop and status exclude each other (a dropped request has no status)")
        spec["drop"] = window
    elif "status" in values or window:
        spec["fail"] = dict(window, status=values.pop("status", 503))
    if not spec:
        raise bad_request(wanted)
    return spec


class _Pairs(list):
    """A JSON object as its list of pairs: Solr's update format repeats keys (``"add"`` twice)."""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default

    def as_dict(self):
        return {k: _plain(v) for k, v in self}


def _plain(value):
    if isinstance(value, _Pairs):
        return value.as_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _json_commands(data, docs_only):
    if isinstance(data, _Pairs) and docs_only:
        return [("add", (data.as_dict(), None, None))]
    if isinstance(data, list) and not isinstance(data, _Pairs):
        return [("add", (_plain(d), None, None)) for d in data]
    out = []
    for key, value in data:
        if key == "add":
            out.append(("add", (_plain(value.get("doc")), value.get("commitWithin"), value.get("overwrite"))))
        elif key == "delete":
            for item in (value if isinstance(value, list) and not isinstance(value, _Pairs) else [value]):
                if isinstance(item, _Pairs):
                    if item.get("query") is not None:
                        out.append(("delete_query", item.get("query")))
                    else:
                        out.append(("delete_id", item.get("id")))
                else:
                    out.append(("delete_id", item))
        elif key == "commit":
            out.append(("commit", str(value.get("openSearcher", True)).lower() != "false"
                        if isinstance(value, _Pairs) else True))
        elif key in ("optimize", "rollback"):
            continue
        else:
            raise bad_request("Unknown command '%s' at [%d]" % (key, 0))
    return out


def _xml_commands(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise bad_request("Unexpected character in XML update: %s" % exc)
    elements = [root] if root.tag != "update" else list(root)
    out = []
    for el in elements:
        if el.tag == "add":
            for doc_el in el.findall("doc"):
                doc = {}
                for f in doc_el.findall("field"):
                    name, value = f.get("name"), f.text or ""
                    if f.get("update"):
                        value = {f.get("update"): value}
                    if name in doc:
                        prev = doc[name]
                        doc[name] = (prev if isinstance(prev, list) else [prev]) + [value]
                    else:
                        doc[name] = value
                out.append(("add", (doc, el.get("commitWithin"), None)))
        elif el.tag == "delete":
            for child in el:
                out.append(("delete_id" if child.tag == "id" else "delete_query", child.text or ""))
        elif el.tag in ("commit", "optimize"):
            out.append(("commit", el.get("openSearcher", "true") != "false"))
    return out


def _to_xml(payload, status):
    def node(name, value):
        attr = ' name="%s"' % escape(name) if name is not None else ""
        if isinstance(value, bool):
            return "<bool%s>%s</bool>" % (attr, str(value).lower())
        if isinstance(value, int):
            return "<int%s>%d</int>" % (attr, value)
        if isinstance(value, float):
            return "<double%s>%r</double>" % (attr, value)
        if isinstance(value, dict):
            return "<lst%s>%s</lst>" % (attr, "".join(node(k, v) for k, v in value.items()))
        if isinstance(value, list):
            return "<arr%s>%s</arr>" % (attr, "".join(node(None, v) for v in value))
        if value is None:
            return "<null%s/>" % attr
        return "<str%s>%s</str>" % (attr, escape(str(value)))
    return '<?xml version="1.0" encoding="UTF-8"?>\n<response>\n%s\n</response>\n' % "".join(
        node(k, v) for k, v in payload.items())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m solrsync.testing.emulator",
                                     description="Serve a Solr emulator on 127.0.0.1 (or --host) until interrupted.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8983)
    parser.add_argument("--core", action="append", metavar="NAME[=CONFDIR]",
                        help="a core, served from CONFDIR (a configset's conf directory) or else --configset "
                             "(repeatable; default: layers)")
    parser.add_argument("--configset", help="conf directory of the cores named without one (default: solrsync's layers)")
    parser.add_argument("--configsets", metavar="DIR",
                        help="directory of configsets (DIR/NAME/conf) for CoreAdmin CREATE configSet=NAME "
                             "(default: the ones solrsync ships)")
    parser.add_argument("--record-updates", action="store_true",
                        help="keep each update request's arrival, end, client and ids for GET /solr/_emulator/updates")
    parser.add_argument("--cloud", action="store_true",
                        help="act as a SolrCloud node: each --core an alias of a 2-shard collection CORE_1")
    parser.add_argument("--solr-version", type=int, choices=sorted(SPEC), default=DEFAULT_MAJOR,
                        help="answer as this Solr major version where they differ: %s (default %d)" % (
                            ", ".join("%d (%s)" % kv for kv in sorted(SPEC.items())), DEFAULT_MAJOR))
    args = parser.parse_args(argv)
    cores = {}
    for spec in args.core or ["layers"]:
        name, _, conf = spec.partition("=")
        if not name or (conf and not os.path.isfile(os.path.join(conf, "solrconfig.xml"))):
            parser.error("--core %s: give NAME or NAME=CONFDIR, CONFDIR holding solrconfig.xml" % spec)
        cores[name] = conf or None
    for path, what in ((args.configset, "--configset"), (args.configsets, "--configsets")):
        if path and not os.path.isdir(path):
            parser.error("%s %s: no such directory" % (what, path))
    try:
        emu = SolrEmulator(host=args.host, port=args.port, cores=cores, configset=args.configset,
                           configsets=args.configsets, cloud=args.cloud, record_updates=args.record_updates,
                           solr_version=args.solr_version).start()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or not exc.strerror:
            print("solr emulator: %s" % exc, file=sys.stderr)
        else:
            print("solr emulator: cannot listen on %s:%d: %s" % (args.host, args.port, exc.strerror), file=sys.stderr)
        return 2
    except (SolrHTTPError, ET.ParseError) as exc:  # a configset Solr could not load either
        print("solr emulator: cannot load a core's configset: %s" % exc, file=sys.stderr)
        return 2
    print("Solr emulator listening: %s (cores: %s; answering as Solr %s)" % (
        emu.url, ", ".join(emu.cores), emu.solr_version.spec), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
