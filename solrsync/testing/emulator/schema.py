"""A Solr schema read from a configset's ``managed-schema`` (or ``schema.xml``).

The emulator checks every document against it, so a field the shipped configset lacks fails in
tests exactly as it fails in production. Field types are reduced to the kinds that change
behaviour: string, text, int, float, date, boolean, bbox.
"""
import datetime as dt
import fnmatch
import math
import os
import re
import pathlib
import xml.etree.ElementTree as ET

from .analysis import DEFAULT_TEXT, KEYWORD, analyzer_from
from .errors import SolrHTTPError, bad_request, not_emulated  # noqa: F401 (re-exported)
from .versions import SolrVersion

CONFIGSETS = pathlib.Path(__file__).resolve().parent.parent.parent / "configsets"  # the ones solrsync ships

_KINDS = [
    ("BBoxField", "bbox"),
    ("SpatialRecursivePrefixTree", "bbox"),
    ("TextField", "text"),
    ("StrField", "string"),
    ("BoolField", "boolean"),
    ("Date", "date"),
    ("Int", "int"),
    ("Long", "int"),
    ("Double", "float"),
    ("Float", "float"),
]

_TOKEN = re.compile(r"\w+", re.UNICODE)
_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$")
# spatial4j's WKT reader (checked on Solr 5.3.1): the keyword in any case, no leading blank, numbers
# as Java writes them (no NaN, Infinity, hex, "1_0" or a "d" suffix), blanks between tokens, nothing after.
_NUMBER = r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*"
_ENVELOPE = re.compile(r"^ENVELOPE\s*\(%s,%s,%s,%s\)\s*$" % ((_NUMBER,) * 4), re.IGNORECASE)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
DEFAULT_VERSION = SolrVersion()


def analyze(value):
    """StandardTokenizer + LowerCaseFilter, closely enough for word queries."""
    return _TOKEN.findall(str(value).lower())


def parse_date(text):
    """Solr date string -> (epoch milliseconds, canonical string). Raises ValueError."""
    text = str(text).strip()
    if text.upper().startswith("NOW"):
        return date_math(text)
    m = _DATE.match(text)
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac = m.groups()
    moment = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=dt.timezone.utc)
    millis = int((moment - EPOCH).total_seconds()) * 1000
    frac = (frac or "")[:3].rstrip("0")
    if frac:
        millis += int(frac.ljust(3, "0"))
    return millis, format_millis(millis)


def canonical_date(text):
    """A Solr date string as Solr stores it; whole-second dates in plainly valid ranges skip the
    datetime round trip (the emulator's ingest speed depends on it)."""
    m = _DATE.match(text) if isinstance(text, str) else None
    if m and not m.group(7):
        mo, d, h, mi, s = (int(g) for g in m.groups()[1:6])
        if 1 <= mo <= 12 and 1 <= d <= 28 and h < 24 and mi < 60 and s < 60:
            return text
    return parse_date(text)[1]


MAX_TERM_BYTES = 32766  # Lucene's IndexWriter.MAX_TERM_LENGTH


def format_millis(millis):
    """Solr 8's canonical form (java.time's ISO_INSTANT): milliseconds in three digits when there
    are any (``.500``; Solr 5.3.1 dropped the trailing zeros, ``.5``)."""
    moment = EPOCH + dt.timedelta(milliseconds=millis)
    # four-digit years (0999-...): strftime's %Y does not pad on glibc
    base = "%04d-%02d-%02dT%02d:%02d:%02d" % (moment.year, moment.month, moment.day, moment.hour, moment.minute,
                                              moment.second)
    ms = millis % 1000
    return base + (".%03d" % ms if ms else "") + "Z"


_MATH = re.compile(r"([+-/])(\d*)([A-Z]+)")
_UNITS = {"MILLI": 0.001, "SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}


def date_math(text, now=None):
    """``NOW``, ``NOW-7DAYS``, ``NOW/DAY``: the subset of Solr date math tests need (``now``: the
    moment NOW stands for, in epoch milliseconds; range facets step by it)."""
    moment = dt.datetime.now(dt.timezone.utc) if now is None else EPOCH + dt.timedelta(milliseconds=now)
    rest = text.strip()[3:].upper()
    pos = 0
    for m in _MATH.finditer(rest):
        if m.start() != pos:
            raise ValueError(text)
        pos = m.end()
        op, num, unit = m.groups()
        unit = unit.rstrip("S")
        if unit in ("YEAR", "MONTH"):
            if op == "/":
                moment = moment.replace(month=1 if unit == "YEAR" else moment.month, day=1,
                                        hour=0, minute=0, second=0, microsecond=0)
                continue
            months = int(num or 1) * (12 if unit == "YEAR" else 1) * (1 if op == "+" else -1)
            total = moment.year * 12 + moment.month - 1 + months
            moment = moment.replace(year=total // 12, month=total % 12 + 1)
            continue
        if unit not in _UNITS:
            raise ValueError(text)
        if op == "/":
            step = dt.timedelta(seconds=_UNITS[unit])
            moment = EPOCH + ((moment - EPOCH) // step) * step
        else:
            delta = dt.timedelta(seconds=_UNITS[unit] * int(num or 1))
            moment = moment + delta if op == "+" else moment - delta
    if pos != len(rest):
        raise ValueError(text)
    millis = int((moment - EPOCH) / dt.timedelta(milliseconds=1))
    return millis, format_millis(millis)


def parse_envelope(text, geo=True):
    """``ENVELOPE(minX, maxX, maxY, minY)`` -> (minX, maxX, maxY, minY), with spatial4j's errors."""
    m = _ENVELOPE.match(str(text))
    if not m:
        raise ValueError("Couldn't parse shape '%s' because: Expected ENVELOPE(minX, maxX, maxY, minY) with four "
                         "numbers" % (text,))
    min_x, max_x, max_y, min_y = (float(p) for p in m.groups())
    prefix = "Couldn't parse shape '%s' because: com.spatial4j.core.exception.InvalidShapeException: " % text
    for v in (min_x, max_x, max_y, min_y):
        if math.isnan(v) or math.isinf(v):
            raise ValueError(prefix + "NaN or infinite value in %s" % text)
    if max_y < min_y:
        raise ValueError(prefix + "maxY must be >= minY: %s to %s" % (min_y, max_y))
    if geo:
        for x in (min_x, max_x):
            if not -180 <= x <= 180:
                raise ValueError(prefix + "Bad X value %s is not in boundary Rect(minX=-180.0,maxX=180.0,"
                                          "minY=-90.0,maxY=90.0)" % x)
        if not (-90 <= min_y <= 90 and -90 <= max_y <= 90):
            raise ValueError(prefix + "Y values [%s to %s] not in boundary Rect(minX=-180.0,maxX=180.0,"
                                      "minY=-90.0,maxY=90.0)" % (min_y, max_y))
    return min_x, max_x, max_y, min_y


class Field:
    __slots__ = ("name", "type_name", "kind", "multi", "stored", "indexed", "required", "dynamic", "bits",
                 "index_analyzer", "query_analyzer", "norms", "missing", "similarity")

    def __init__(self, name, type_name, kind, multi=False, stored=True, indexed=True,
                 required=False, dynamic=False, bits=64):
        self.name, self.type_name, self.kind, self.bits = name, type_name, kind, bits
        self.multi, self.stored, self.indexed = multi, stored, indexed
        self.required, self.dynamic = required, dynamic
        text = kind == "text"
        self.index_analyzer = self.query_analyzer = DEFAULT_TEXT if text else KEYWORD
        self.norms = text        # omitNorms defaults to true on every type but text
        self.missing = None      # sortMissingFirst / sortMissingLast ("first" / "last")
        self.similarity = None   # a per-type <similarity>, else the schema's

    def describe(self):
        out = {"name": self.name, "type": self.type_name}
        if self.multi:
            out["multiValued"] = True
        out.update(indexed=self.indexed, stored=self.stored)
        if self.required:
            out["required"] = True
        return out

    def coerce(self, value, doc_id, solr_version=DEFAULT_VERSION):
        """One incoming value -> its stored form; raises SolrHTTPError(400) as that Solr version does."""
        kind = self.kind
        try:
            if kind in ("string", "text"):
                if isinstance(value, bool):
                    return "true" if value else "false"
                value = value if isinstance(value, str) else str(value)
                if kind == "string" and self.indexed and len(value) > MAX_TERM_BYTES // 4 and \
                        len(value.encode("utf-8", "surrogatepass")) > MAX_TERM_BYTES:
                    # Lucene refuses a term this long (5.3.1 and 8.x alike); no [doc=] in the message
                    raise bad_request("Exception writing document id %s to the index; possible analysis error: "
                                      "Document contains at least one immense term in field=\"%s\" (whose UTF8 "
                                      "encoding is longer than the max length %d), all of which were skipped."
                                      % (doc_id, self.name, MAX_TERM_BYTES))
                return value
            if kind == "int":
                return _java_integer(value, self.bits)
            if kind == "float":
                return float(value)
            if kind == "boolean":
                if isinstance(value, bool):
                    return value
                # BoolField: true when the text starts with 1, t or T ("yes" is false, "tomato" true)
                text = str(value)
                return text[:1] in ("1", "t", "T")
            if kind == "date":
                try:
                    return solr_version.date(canonical_date(value))
                except ValueError:
                    raise SolrHTTPError(400, "Invalid Date String:'%s'" % value)
            if kind == "bbox":
                value = str(value)
                parse_envelope(value.strip() if solr_version.trims_shapes else value)
                return value
        except SolrHTTPError:
            raise
        except ValueError as exc:
            if kind == "bbox":
                raise bad_request(solr_version.shape_error(doc_id, self.name, value, str(exc)))
            detail = str(exc) if str(exc).startswith("For input") else 'For input string: "%s"' % value
            raise bad_request("ERROR: [doc=%s] Error adding field '%s'='%s' msg=%s"
                              % (doc_id, self.name, value, detail))
        return value


def _java_integer(value, bits):
    """What an IntPointField (32 bits) or LongPointField (64) stores for a JSON value, measured on
    9.4.0: an integer number is narrowed as Java's ``Number.intValue()`` does (2**31 -> -2**31, silently),
    one beyond 64 bits refused; a decimal number truncated toward zero and clamped (1.5 -> 1, 1e20 ->
    Long.MAX_VALUE); text parsed strictly ("1.5", "true": "For input string")."""
    if isinstance(value, bool):
        raise ValueError('For input string: "%s"' % ("true" if value else "false"))
    low, high = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    if isinstance(value, float):
        if math.isnan(value):
            return 0
        return max(low, min(high, int(value))) if not math.isinf(value) else (high if value > 0 else low)
    if isinstance(value, int):
        if not -2 ** 63 <= value < 2 ** 63:
            raise ValueError('For input string: "%s"' % value)
        if bits == 64:
            return value
        return (value - low) % 2 ** bits + low
    text = str(value)
    if not re.match(r"^[+-]?\d+$", text):
        raise ValueError('For input string: "%s"' % text)
    number = int(text)
    if not low <= number <= high:
        raise ValueError('For input string: "%s"' % text)
    return number


class Schema:
    def __init__(self, path, lucene_major=9):
        self.path = path
        self.lucene_major = lucene_major  # luceneMatchVersion's (StandardAnalyzer's stop words, similarity)
        self.similarity = None
        self.fields = {}
        self.dynamic = []  # (pattern, Field), longest pattern first as Solr matches them
        self.types = {}  # name -> (kind, multiValued)
        self.type_specs = {}  # name -> its attributes, as the Schema API lists them
        self.name = None
        self.copy = []  # (source pattern, dest)
        self.unique_key = "id"
        self.version = 1.5
        self._dynamic_cache = {}
        self._required = None
        self._load(path)

    @classmethod
    def from_configset(cls, conf_dir, lucene_major=9):
        for name in ("managed-schema", "managed-schema.xml", "schema.xml"):
            path = os.path.join(conf_dir, name)
            if os.path.exists(path):
                return cls(path, lucene_major)
        raise FileNotFoundError("no managed-schema or schema.xml in %s" % conf_dir)

    def _load(self, path):
        root = ET.parse(path).getroot()
        for el in root.iter():  # ${prop:default} -> default, as Solr substitutes unset properties
            for k, v in el.attrib.items():
                if "${" in v:
                    el.attrib[k] = _PROPERTY.sub(lambda m: m.group(2) or "", v)
        self.version = float(root.get("version", "1.5"))
        self.name = root.get("name")
        sim = next((el for el in root if el.tag == "similarity"), None)
        self.similarity = _similarity(sim)
        for ft in root.iter():
            if ft.tag.lower() == "fieldtype":  # Solr accepts <fieldtype> as well as <fieldType>
                self.add_field_type(ft.attrib, ft)
        for tag, dynamic in (("field", False), ("dynamicField", True), ("dynamicfield", True)):
            for f in root.iter(tag):
                self.add_field(f.attrib, dynamic=dynamic)
        uk = root.find("uniqueKey")
        if uk is not None and uk.text:
            self.unique_key = uk.text.strip()
        for cf in root.iter("copyField"):
            self.copy.append((cf.get("source"), cf.get("dest")))

    def add_field_type(self, attrs, el=None):
        """A field type from its attributes (and, read from a schema file, its element: analyzers,
        similarity)."""
        cls = attrs.get("class", "")
        kind = next((k for key, k in _KINDS if key in cls), "string")
        extra = {"norms": not _flag(attrs.get("omitNorms"), kind != "text"),
                 "missing": "last" if _flag(attrs.get("sortMissingLast"), False) else
                 "first" if _flag(attrs.get("sortMissingFirst"), False) else None}
        if kind == "text":
            conf_dir = os.path.dirname(self.path) if self.path else None
            lucene = 5 if self.lucene_major < 6 else self.lucene_major
            both = index = query = None
            for an in (el.findall("analyzer") if el is not None else ()):
                side = an.get("type")
                made = analyzer_from(an, conf_dir, lucene)
                if side == "index":
                    index = made
                elif side == "query":
                    query = made
                elif side is None:
                    both = made
            extra["index_analyzer"] = index or both or query or DEFAULT_TEXT
            extra["query_analyzer"] = query or both or index or DEFAULT_TEXT
        if el is not None and el.find("similarity") is not None:
            extra["similarity"] = _similarity(el.find("similarity"))
        self.types[attrs["name"]] = (kind, _flag(attrs.get("multiValued"), False), extra)
        self.type_specs[attrs["name"]] = dict(attrs)

    def add_field(self, attrs, dynamic=False):
        name, type_name = attrs["name"], attrs["type"]
        if type_name not in self.types:
            raise bad_request("Field '%s': Field type '%s' not found." % (name, type_name))
        kind, type_multi, extra = self.types[type_name]
        bits = 32 if "Int" in self.type_specs[type_name].get("class", "") else 64
        field = Field(name, type_name, kind, multi=_flag(attrs.get("multiValued"), type_multi), bits=bits,
                      stored=_flag(attrs.get("stored"), True), indexed=_flag(attrs.get("indexed"), True),
                      required=_flag(attrs.get("required"), False), dynamic=dynamic)
        for key, value in extra.items():
            setattr(field, key, value)
        if attrs.get("omitNorms") is not None:
            field.norms = not _flag(attrs.get("omitNorms"), False)
        self._dynamic_cache.clear()
        self._required = None
        if dynamic:
            self.dynamic.append((name, field))
            self.dynamic.sort(key=lambda item: -len(item[0]))
        else:
            self.fields[name] = field
        return field

    def required(self):
        """Names of the required fields (cached until the schema changes)."""
        if self._required is None:
            self._required = tuple(name for name, f in self.fields.items() if f.required)
        return self._required

    def field(self, name):
        f = self.fields.get(name)
        if f is not None:
            return f
        f = self._dynamic_cache.get(name)
        if f is None and name not in self._dynamic_cache:
            f = self._dynamic_cache[name] = self._match_dynamic(name)
        return f

    def _match_dynamic(self, name):
        for pattern, f in self.dynamic:
            if (pattern.startswith("*") and name.endswith(pattern[1:])) or \
               (pattern.endswith("*") and name.startswith(pattern[:-1])):
                return f
        return None

    def describe(self):
        """The whole schema as GET /schema answers."""
        return {"name": self.name, "version": self.version, "uniqueKey": self.unique_key,
                "fieldTypes": [dict(spec) for spec in self.type_specs.values()],
                "fields": [f.describe() for _, f in sorted(self.fields.items())],
                "dynamicFields": [f.describe() for _, f in self.dynamic],
                "copyFields": [{"source": src, "dest": dest} for src, dest in self.copy]}

    def copy_sources(self, dest):
        return [src for src, d in self.copy if d == dest]

    def copy_matches(self, src_pattern, name):
        return fnmatch.fnmatchcase(name, src_pattern)


_PROPERTY = re.compile(r"\$\{([^:}]+)(?::([^}]*))?\}")


def _similarity(el):
    """A ``<similarity class=...>`` -> ("bm25", {k1, b}) / ("classic", {}) / None (the default)."""
    if el is None:
        return None
    cls = el.get("class", "").rsplit(".", 1)[-1]
    params = dict(_named_list(el))
    if cls.startswith("BM25"):
        return ("bm25", {"k1": float(params.get("k1", 1.2)), "b": float(params.get("b", 0.75))})
    if cls in ("ClassicSimilarityFactory", "DefaultSimilarityFactory"):
        return ("classic", {})
    if cls == "SchemaSimilarityFactory":
        return None
    return ("unsupported", {"class": cls})


def _flag(value, default):
    if value is None:
        return default
    return str(value).lower() == "true"


# ---------------------------------------------------------------- solrconfig.xml
_PROCESSOR_KINDS = {
    "DefaultValueUpdateProcessorFactory": "default",
    "DocBasedVersionConstraintsProcessorFactory": "version",
    "LogUpdateProcessorFactory": "pass",
    "DistributedUpdateProcessorFactory": "pass",
    "RunUpdateProcessorFactory": "pass",
}


def _typed(el):
    """A ``<str>``/``<bool>``/``<int>``/... element of a NamedList -> its Python value."""
    text = (el.text or "").strip()
    if el.tag == "bool":
        return text.lower() == "true"
    if el.tag in ("int", "long"):
        return int(text)
    if el.tag in ("float", "double"):
        return float(text)
    return el.text or ""


def _named_list(el):
    """-> [(name, value)] in order (a NamedList may repeat a name, e.g. two ``fq``)."""
    return [(child.get("name"), _typed(child)) for child in el if child.get("name") is not None]


class SolrConfig:
    """The parts of ``solrconfig.xml`` the emulator obeys.

    * ``chain``: the default ``updateRequestProcessorChain`` (``default="true"``, else the unnamed one) as
      ``[(kind, args)]``; kind is "default" (DefaultValueUpdateProcessorFactory), "version"
      (DocBasedVersionConstraintsProcessorFactory), "pass" (Log/Distributed/Run) or "unknown".
      No chain: [] (Solr's implicit Log/Distributed/Run: nothing to emulate).
    * ``handlers``: request handler name -> {"defaults"|"appends"|"invariants": [(name, value)]}.
    """

    def __init__(self, path=None):
        self.path = path
        self.chain = []
        self.handlers = {}
        self.lucene_major = None  # luceneMatchVersion's major, when given
        self.schemaless = False  # the default chain guesses unknown fields (AddSchemaFieldsUpdateProcessor)
        self.components = {}  # searchComponent name -> class
        if path is not None:
            self._load(path)

    @classmethod
    def from_configset(cls, conf_dir):
        path = os.path.join(conf_dir, "solrconfig.xml")
        return cls(path if os.path.exists(path) else None)

    def _load(self, path):
        root = ET.parse(path).getroot()
        for el in root.iter():
            for k, v in el.attrib.items():
                if "${" in v:
                    el.attrib[k] = _PROPERTY.sub(lambda m: m.group(2) or "", v)
            if el.text and "${" in el.text:
                el.text = _PROPERTY.sub(lambda m: m.group(2) or "", el.text)
        lmv = root.findtext("luceneMatchVersion")
        m = re.match(r"\s*(?:LUCENE_)?(\d+)", lmv or "")
        self.lucene_major = int(m.group(1)) if m else None
        chains = root.findall("updateRequestProcessorChain")
        chosen = next((c for c in chains if _flag(c.get("default"), False)), None)
        if chosen is None:
            chosen = next((c for c in chains if not c.get("name")), None)
        named = {p.get("name"): p.get("class", "") for p in root.findall("updateProcessor")}
        if chosen is not None:
            procs = [p.strip() for p in (chosen.get("processor") or "").split(",") if p.strip()]
            self.schemaless = any("AddSchemaFields" in named.get(p, "") for p in procs) or \
                any("AddSchemaFields" in p.get("class", "") for p in chosen.findall("processor"))
            for proc in chosen.findall("processor"):
                cls = proc.get("class", "").rsplit(".", 1)[-1]
                self.chain.append((_PROCESSOR_KINDS.get(cls, "unknown"), dict(_named_list(proc))))
        self.components = {c.get("name"): c.get("class", "").rsplit(".", 1)[-1]
                           for c in root.findall("searchComponent")}
        for handler in root.findall("requestHandler"):
            params = {}
            for lst in handler.findall("lst"):
                if lst.get("name") in ("defaults", "appends", "invariants"):
                    params[lst.get("name")] = _named_list(lst)
            params["class"] = handler.get("class", "")
            params["components"] = [el.text.strip() for arr in handler.findall("arr")
                                    if (arr.get("name") or "").endswith("components") for el in arr if el.text]
            self.handlers[handler.get("name")] = params

    def handler_params(self, name, params):
        """A request's params (name -> [values]) as the handler sees them: defaults fill what is absent,
        appends add values, invariants replace (Solr's SolrPluginUtils.setDefaults order)."""
        conf = self.handlers.get(name)
        if not conf:
            return params
        out = dict(params)
        for key, value in conf.get("defaults", ()):
            if key not in params:
                out.setdefault(key, []).append(str(value).lower() if isinstance(value, bool) else str(value))
        for key, value in conf.get("appends", ()):
            out[key] = list(out.get(key, [])) + [str(value).lower() if isinstance(value, bool) else str(value)]
        invariants = {}
        for key, value in conf.get("invariants", ()):
            invariants.setdefault(key, []).append(str(value).lower() if isinstance(value, bool) else str(value))
        out.update(invariants)
        return out
