"""/update: JSON (the array, the command object with repeated keys, /update/json/docs) and XML
bodies read into commands, and the commands run on a core (or, in SolrCloud mode, on each
document's shard leader)."""
import json
import xml.etree.ElementTree as ET

from .schema import bad_request


def update(emu, core, params, body, ctype, docs_only=False, forward=None, record=None):
    """An update request's commands run on ``core``. ``forward``: the request reached a SolrCloud
    collection (cloud.py): each document runs as on its shard's leader. ``record``: what the
    request added and deleted, filled in when the emulator records updates."""
    if record is not None:
        record["core"] = core.name
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
                if record is not None:
                    record["added"].append((_plain(doc.get("id")), _plain(doc.get("solrsync_version"))))
                ow = overwrite if doc_overwrite is None else doc_overwrite
                if run(doc.get(uk) if isinstance(doc, dict) else None,
                       lambda: core.add(doc, overwrite=ow)) is None:
                    emu.count("docs_dropped")
                emu.count("docs_added")
                cw = doc_within if doc_within is not None else within
                if cw is not None and int(cw) >= 0:
                    core.commit_within(int(cw))
            elif op == "delete_id":
                if record is not None:
                    record["deleted"].append(arg)
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
