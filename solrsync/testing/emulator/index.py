"""A document as the index holds it: its stored fields, and (computed when a query first needs
them) each field's values with copyFields folded in, analyzed by the field type's index analyzer."""
from collections import Counter


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


class Doc:
    """A stored document plus lazily computed index values (copyFields folded in)."""
    __slots__ = ("fields", "_index", "children")

    def __init__(self, fields, children=None):
        self.fields = fields
        self._index = None
        self.children = children  # nested documents (_childDocuments_), in order

    def values(self, name, schema):
        if self._index is None:
            self._index = {}
        got = self._index.get(name)
        if got is None:
            got = _as_list(self.fields.get(name))
            for src in schema.copy_sources(name):
                for fname, value in self.fields.items():
                    if schema.copy_matches(src, fname):
                        got = got + _as_list(value)
            self._index[name] = got
        return got

    def analyzed(self, name, schema):
        """-> one token list [(term, position, start, end)] per value, by the index analyzer."""
        key = "\0an:" + name
        got = self._index.get(key) if self._index else None
        if got is None:
            f = schema.field(name)
            analyzer = f.index_analyzer if f is not None else None
            values = self.values(name, schema)
            got = [analyzer.tokens(_text(v)) for v in values] if analyzer is not None else []
            self._index[key] = got
        return got

    def tokens(self, name, schema):
        """-> one term list per value."""
        return [[t[0] for t in toks] for toks in self.analyzed(name, schema)]

    def term_freqs(self, name, schema):
        """-> (Counter of terms, field length as Lucene counts it: positions, overlaps discounted)."""
        key = "\0tf:" + name
        got = self._index.get(key) if self._index else None
        if got is None:
            tf, length = Counter(), 0
            for toks in self.analyzed(name, schema):
                tf.update(t[0] for t in toks)
                length += len({t[1] for t in toks})
            got = self._index[key] = (tf, length)
        return got
