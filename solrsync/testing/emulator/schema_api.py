"""The Schema API: /schema reads, and POSTed commands applied to a copy that replaces the schema
only when every command succeeds (as Solr 8)."""
import copy
import json
import xml.etree.ElementTree as ET

from .errors import not_emulated
from .schema import SolrHTTPError, bad_request


def schema_api(emu, core, handler, body, params):
    """/schema: reads, and POSTed commands (applied all or none)."""
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
        core.drop_caches()
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
        schema.add_field_type(spec, _type_element(spec))
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
    elif command in ("delete-field", "replace-field", "delete-dynamic-field", "replace-dynamic-field",
                     "delete-field-type", "replace-field-type", "delete-copy-field"):
        raise not_emulated("the Schema API command %s" % command)
    else:
        raise bad_request("no such command: %s" % command)


def _type_element(spec):
    """A field type's JSON analyzers as the ``<fieldType>`` element a schema file would hold."""
    el = ET.Element("fieldType")
    for key, side in (("analyzer", None), ("indexAnalyzer", "index"), ("queryAnalyzer", "query")):
        conf = spec.get(key)
        if not isinstance(conf, dict):
            continue
        an = ET.SubElement(el, "analyzer", {"type": side} if side else {})
        if conf.get("class"):
            an.set("class", str(conf["class"]))
        for tag, items in (("charFilter", conf.get("charFilters") or []), ("tokenizer", [conf.get("tokenizer")]),
                           ("filter", conf.get("filters") or [])):
            for item in items:
                if isinstance(item, dict):
                    ET.SubElement(an, tag, {k: str(v).lower() if isinstance(v, bool) else str(v)
                                            for k, v in item.items()})
    return el
