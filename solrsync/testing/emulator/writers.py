"""Response writers: ``wt=json`` (the default) and ``wt=xml``."""
import json
from xml.sax.saxutils import escape


def write(payload, status, wt):
    """-> (body bytes, Content-Type) of a response in the writer ``wt`` names."""
    if wt == "xml":
        return _to_xml(payload, status).encode(), "application/xml; charset=UTF-8"
    return json.dumps(payload).encode(), "application/json; charset=UTF-8"


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
