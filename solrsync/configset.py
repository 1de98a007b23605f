"""A configset for any pipeline: the ``managed-schema`` its documents need, with the shipped
``solrconfig.xml`` (versioned-writes chain, /select appends), for Solr 8.11 and 9.x -- or, for
Solr 5.x to 7.x, the same with Trie field types under the same type names and an older
``luceneMatchVersion`` (``major`` below MIN_MAJOR).

Each document field's Solr type comes from its class (Text: text_general, Date: pdate, BBox: bbox,
Multi: multiValued) or, for a plain copied field, from the source (``source.solr_type(path)``: the
integration knows the model; the engine never imports it). Everything else is what the shipped
layers configset has: uniqueKey ``id``, the catch-all ``text`` field fed by copyFields from every
string and text field, the ``solrsync_version``/``solrsync_live`` fields the update chain needs.
"""
from pathlib import Path
from xml.sax.saxutils import quoteattr

import requests

from .documents import BBox, Date, Multi, Text
from .sink import OWNER_FIELD, VERSION_FIELD, SolrRequestError, SolrUnavailable

SHIPPED = Path(__file__).resolve().parent / "configsets" / "layers" / "conf"
CATCH_ALL = "text"
LIVE_FIELD = "solrsync_live"

# The Schema API's form of each field type (add-field-type takes it as is); in dependency order.
FIELD_TYPES = {
    "string": {"class": "solr.StrField", "sortMissingLast": "true", "docValues": "true"},
    "boolean": {"class": "solr.BoolField", "sortMissingLast": "true"},
    "pint": {"class": "solr.IntPointField", "docValues": "true"},
    "plong": {"class": "solr.LongPointField", "docValues": "true"},
    "pdouble": {"class": "solr.DoublePointField", "docValues": "true"},
    "pdate": {"class": "solr.DatePointField", "docValues": "true"},
    # BBoxField's four sub-fields: useDocValuesAsStored=false or atomic updates fail on 8.x
    "bbox_double": {"class": "solr.DoublePointField", "docValues": "true", "useDocValuesAsStored": "false"},
    "bbox": {"class": "solr.BBoxField", "geo": "true", "numberType": "bbox_double", "distanceUnits": "kilometers"},
    "text_general": {"class": "solr.TextField", "positionIncrementGap": "100",
                     "analyzer": {"tokenizer": {"class": "solr.StandardTokenizerFactory"},
                                  "filters": [{"class": "solr.LowerCaseFilterFactory"}]}},
}

# Fields every solrsync core has: Solr's own _version_, the id, the versioned writes' two fields.
BASE_FIELDS = [
    {"name": "_version_", "type": "plong", "indexed": False, "stored": False},
    {"name": "id", "type": "string", "indexed": True, "stored": True, "required": True},
    {"name": VERSION_FIELD, "type": "plong", "indexed": True, "stored": True, "docValues": True},
    {"name": LIVE_FIELD, "type": "boolean", "indexed": True, "stored": False},
    {"name": OWNER_FIELD, "type": "string", "indexed": True, "stored": True},
]
CATCH_ALL_FIELD = {"name": CATCH_ALL, "type": "text_general", "indexed": True, "stored": False, "multiValued": True}
DYNAMIC_FIELDS = [{"name": "*__" + part, "type": "bbox_double", "indexed": True, "stored": False}
                  for part in ("minX", "maxX", "minY", "maxY")] + \
                 [{"name": "*__xdl", "type": "boolean", "indexed": True, "stored": False}] + \
                 [{"name": pattern, "type": type_, "indexed": True, "stored": True, **extra}
                  for pattern, type_, extra in (("*_s", "string", {}), ("*_ss", "string", {"multiValued": True}),
                                                ("*_i", "plong", {}), ("*_d", "pdouble", {}), ("*_b", "boolean", {}),
                                                ("*_dt", "pdate", {}), ("*_t", "text_general", {}))]
_COPIED = ("string", "text_general")
# The oldest Solr the shipped files load on: point field types need 7, luceneMatchVersion 8.11.0 needs 8.11.
MIN_MAJOR = 8
TOO_OLD = ("solrsync's configsets are for Solr 8.11 and 9.x (point field types, luceneMatchVersion 8.11); "
           "a Solr 5.x-7.x core needs a schema written for it (Trie types, see README: Solr versions)")
# Solr 5.x-7.x: Trie types under the point types' names (5 and 6 have no point types), so fields, dynamic
# fields and the emulator read alike. useDocValuesAsStored is 6.0+: the bbox's numbers are not stored anyway.
LEGACY_TYPES = {
    "pint": {"class": "solr.TrieIntField", "precisionStep": "0", "docValues": "true"},
    "plong": {"class": "solr.TrieLongField", "precisionStep": "0", "docValues": "true"},
    "pdouble": {"class": "solr.TrieDoubleField", "precisionStep": "0", "docValues": "true"},
    "pdate": {"class": "solr.TrieDateField", "precisionStep": "0", "docValues": "true"},
    "bbox_double": {"class": "solr.TrieDoubleField", "precisionStep": "0", "docValues": "true"},
}
VERSIONS = (5, 6, 7, 8, 9)


def field_types(major=9):
    """The field types (Schema API form, in dependency order) of the configset for Solr ``major``."""
    if major not in VERSIONS:
        raise ValueError("Solr %s: configsets are for Solr %s" % (major, ", ".join(map(str, VERSIONS))))
    return FIELD_TYPES if major >= MIN_MAJOR else {name: LEGACY_TYPES.get(name, attrs)
                                                   for name, attrs in FIELD_TYPES.items()}


def document_fields(document, solr_type):
    """-> [(name, solr type, multiValued)] of a Document's fields but ``id``; ``solr_type(path)``
    names the type of a plain field's source (None: string), or (type, multiValued) as
    ``DjangoSource.solr_field`` does. A field computed by ``fn`` is a string."""
    out = []
    for name, f in document.fields():
        if name == "id":
            continue
        multi = isinstance(f, Multi)
        if isinstance(f, BBox):
            type_ = "bbox"
        elif isinstance(f, Text):
            type_ = "text_general"
        elif isinstance(f, Date):
            type_ = "pdate"
        elif f.fn is None:
            type_ = solr_type(f.values_key if multi else f.source) or "string"
            if isinstance(type_, tuple):  # (type, multiValued): an ArrayField's values
                type_, many = type_
                multi = multi or bool(many)
        else:
            type_ = "string"
        if type_ not in FIELD_TYPES:
            raise ValueError("field %s: unknown Solr type %r" % (name, type_))
        out.append((name, type_, multi))
    return out


def schema_spec(fields):
    """The schema for these document fields, in the Schema API's terms: {"fields", "dynamicFields",
    "copyFields"} (the field types are FIELD_TYPES)."""
    declared = [{"name": name, "type": type_, "indexed": True, "stored": True, **({"multiValued": True} if multi else {})}
                for name, type_, multi in fields]
    names = {f["name"] for f in declared}
    catch_all = CATCH_ALL not in names  # a document's own "text" field replaces it
    return {"fields": BASE_FIELDS + declared + ([CATCH_ALL_FIELD] if catch_all else []),
            "dynamicFields": DYNAMIC_FIELDS,
            "copyFields": [{"source": name, "dest": CATCH_ALL} for name, type_, _ in fields
                           if catch_all and type_ in _COPIED]}


def _for(major):
    return "Solr 8.11 and 9.x" if major >= MIN_MAJOR else "Solr %d.x" % major


def managed_schema(pipeline_name, fields, major=9):
    """The managed-schema file's text, for Solr ``major``."""
    spec = schema_spec(fields)
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>',
             "<!--",
             '  solrsync "%s" configset for %s (standalone cores), made by `solrsync configset %s%s`.'
             % (pipeline_name, _for(major), pipeline_name, "" if major >= MIN_MAJOR else " (Solr version %d)" % major),
             "  Install: copy this folder (conf/ inside) to <solr_home>/configsets/%s, then" % pipeline_name,
             "    curl 'http://HOST:8983/solr/admin/cores?action=CREATE&name=%s&instanceDir=%s&configSet=%s'"
             % ((pipeline_name,) * 3),
             "  Versioned writes (solrconfig.xml, chain \"solrsync\") need solrsync_version and solrsync_live.",
             "-->",
             '<schema name=%s version="1.6">' % quoteattr("solrsync-" + pipeline_name),
             "  <uniqueKey>id</uniqueKey>", ""]
    for name, attrs in field_types(major).items():
        lines.append("  " + _field_type_xml(name, attrs))
    lines.append("")
    if major < MIN_MAJOR:  # 5.x's update log wants _version_ stored (8.x: docValues are enough)
        spec["fields"] = [dict(f, stored=True) if f["name"] == "_version_" else f for f in spec["fields"]]
    lines += ["  " + _element("field", f) for f in spec["fields"]]
    lines.append("")
    lines += ["  " + _element("dynamicField", f) for f in spec["dynamicFields"]]
    lines.append("")
    lines += ["  " + _element("copyField", f) for f in spec["copyFields"]]
    lines.append("</schema>")
    return "\n".join(lines) + "\n"


def _attrs(attrs):
    return "".join(" %s=%s" % (k, quoteattr(str(v).lower() if isinstance(v, bool) else str(v)))
                   for k, v in attrs.items())


def _element(tag, attrs):
    return "<%s%s/>" % (tag, _attrs(attrs))


def _field_type_xml(name, attrs):
    plain = {k: v for k, v in attrs.items() if k != "analyzer"}
    head = "<fieldType%s" % _attrs(dict({"name": name}, **plain))
    analyzer = attrs.get("analyzer")
    if not analyzer:
        return head + "/>"
    inner = [_element("tokenizer", analyzer["tokenizer"])] + [_element("filter", f) for f in analyzer["filters"]]
    return head + ">\n    <analyzer>\n%s\n    </analyzer>\n  </fieldType>" % "\n".join("      " + i for i in inner)


def solrconfig(pipeline_name, major=9):
    """solrconfig.xml: the shipped one (its update chain and /select appends are what versioned
    writes need, whatever the documents), its header naming the pipeline; for Solr 5.x-7.x with
    that version's luceneMatchVersion and finite upload limits (5.x reads -1 KB as "refuse every
    form body")."""
    text = (SHIPPED / "solrconfig.xml").read_text(encoding="utf-8")
    text = text.replace('<!-- solrsync "layers" core', '<!-- solrsync "%s" core' % pipeline_name, 1)
    if major >= MIN_MAJOR:
        return text
    replaced = text.replace("for Solr 8.11 / 9.x.", "for Solr %d.x." % major, 1) \
        .replace("<luceneMatchVersion>8.11.0</luceneMatchVersion>", "<luceneMatchVersion>%s</luceneMatchVersion>"
                 % ("5.3.1" if major == 5 else "%d.0.0" % major), 1) \
        .replace('multipartUploadLimitInKB="-1" formdataUploadLimitInKB="-1"',
                 'multipartUploadLimitInKB="2048000" formdataUploadLimitInKB="2048000"', 1)
    assert "<luceneMatchVersion>8" not in replaced and 'InKB="-1"' not in replaced, \
        "the shipped solrconfig.xml changed: say how to write it for Solr %d" % major
    return replaced


def write(directory, pipeline_name, fields, force=False, major=9):
    """Write DIRECTORY/conf/{solrconfig.xml, managed-schema} for Solr ``major``; -> their paths. An
    existing file is kept (ValueError) unless ``force``: it may hold hand edits."""
    conf = Path(directory) / "conf"
    files = {conf / "solrconfig.xml": solrconfig(pipeline_name, major),
             conf / "managed-schema": managed_schema(pipeline_name, fields, major)}
    there = [str(p) for p in files if p.exists()]
    if there and not force:
        raise ValueError("%s already exist%s (--force overwrites)" % (", ".join(there), "s" if len(there) == 1 else ""))
    conf.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return [str(p) for p in files]


# ---------------------------------------------------------------- an existing core
def schema_changes(current, fields):
    """What the Schema API can add to a core's schema (``current``: GET /schema's "schema") so it
    holds these document fields -> (commands {command: [spec]}, problems [one line each]).
    Nothing is replaced: a field of another type or multiValued-ness, another uniqueKey, or a core
    without versioned writes needs a new core (``reindex --swap``), and is a problem."""
    spec = schema_spec(fields)
    have_types = {t["name"]: t for t in current.get("fieldTypes", ())}
    have_fields = {f["name"]: f for f in current.get("fields", ())}
    have_dynamic = {f["name"] for f in current.get("dynamicFields", ())}
    have_copies = {(c["source"], c["dest"]) for c in current.get("copyFields", ())}
    commands, problems = {}, []
    rebuild = "cannot be changed in place: needs a new core (`solrsync configset` + `reindex --swap`)"
    if current.get("uniqueKey") != "id":
        problems.append("uniqueKey is %s, the documents need id: %s" % (current.get("uniqueKey"), rebuild))
    if VERSION_FIELD not in have_fields:
        problems.append("no %s field, so no versioned update chain (solrconfig.xml): %s" % (VERSION_FIELD, rebuild))
    wanted = [f for f in spec["fields"] + spec["dynamicFields"] if f["name"] not in (VERSION_FIELD, LIVE_FIELD)]
    used = {f["type"] for f in wanted}
    used |= {FIELD_TYPES[t].get("numberType") for t in used} - {None}
    for name, attrs in FIELD_TYPES.items():
        if name not in used:
            continue
        if name not in have_types:
            commands.setdefault("add-field-type", []).append(dict({"name": name}, **attrs))
        elif have_types[name].get("class") != attrs["class"]:
            problems.append("field type %s is %s in the core, %s here: %s" % (
                name, have_types[name].get("class"), attrs["class"], rebuild))
    for f in spec["fields"]:
        have = have_fields.get(f["name"])
        if have is None:
            if f["name"] not in (VERSION_FIELD, LIVE_FIELD):
                commands.setdefault("add-field", []).append(f)
            continue
        multi = _multi(have, have_types)
        if have.get("type") != f["type"] or multi != bool(f.get("multiValued")):
            problems.append("field %s is %s%s in the core, %s%s here: %s" % (
                f["name"], have.get("type"), " multiValued" if multi else "", f["type"],
                " multiValued" if f.get("multiValued") else "", rebuild))
    for f in spec["dynamicFields"]:
        if f["name"] not in have_dynamic:
            commands.setdefault("add-dynamic-field", []).append(f)
    for c in spec["copyFields"]:
        if (c["source"], c["dest"]) not in have_copies:
            commands.setdefault("add-copy-field", []).append(c)
    return commands, problems


def _multi(field, types):
    value = field.get("multiValued", types.get(field.get("type"), {}).get("multiValued", False))
    return str(value).lower() == "true"


def apply(settings, core, fields):
    """Add to the core what these document fields need (one Schema API request, which Solr applies
    whole or not at all) -> (the commands sent, the problems it cannot fix). SolrUnavailable /
    SolrRequestError as the sink raises them."""
    url = "%s/schema" % settings.core_url(core)
    current = _call("get", url, settings, params={"wt": "json"})["schema"]
    commands, problems = schema_changes(current, fields)
    if commands:  # SolrCloud: answer once every shard's core has the change, not only the one asked
        _call("post", url, settings, params={"wt": "json", "updateTimeoutSecs": max(30, int(settings.SOLR_TIMEOUT))},
              json=commands)
    return commands, problems


def _call(method, url, settings, **kwargs):
    try:
        resp = requests.request(method, url, timeout=settings.SOLR_TIMEOUT, verify=settings.SOLR_VERIFY_TLS,
                                auth=settings.solr_auth, **kwargs)
    except requests.RequestException as exc:
        raise SolrUnavailable("Schema API %s: %s" % (url, exc))
    try:
        body = resp.json()
    except ValueError:
        body = {}
    error = body.get("error") or {}
    if resp.status_code != 200 or body.get("errors"):
        details = error.get("details") or body.get("errors") or []  # Solr 8 answers 400, 5.x 200 with "errors"
        msgs = [" ".join(m.split()) for d in details if isinstance(d, dict) for m in d.get("errorMessages", ())]
        msg = "; ".join(msgs) or " ".join(str(error.get("msg") or resp.text[:300]).split())
        if resp.status_code >= 500 or resp.status_code == 404:
            raise SolrUnavailable("Schema API %s answered %d: %s" % (url, resp.status_code, msg), resp.status_code)
        raise SolrRequestError(resp.status_code if resp.status_code != 200 else 400, "Schema API: %s" % msg)
    return body
