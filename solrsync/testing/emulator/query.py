"""The Lucene query syntax subset solrsync, GeoNode-style search pages and the tests use.

``parse(q, schema, df)`` returns a predicate ``match(doc) -> bool``. Supported: ``*:*``,
``field:value``, ``field:"a phrase"``, ``field:(a OR b)``, ranges ``[X TO Y]`` / ``{X TO Y}`` with
``*``, prefix wildcards, ``+``/``-``/``NOT``/``AND``/``OR``/``&&``/``||``, grouping, and the local
params ``{!field f=bbox}Intersects(ENVELOPE(..))`` (also IsWithin, Contains, IsDisjointTo),
``{!terms f=id}a,b`` and ``{!lucene}``.
"""
import fnmatch
import re

from .schema import SolrHTTPError, analyze, bad_request, parse_date, parse_envelope

_SPATIAL = re.compile(r"^\s*(Intersects|IsWithin|Contains|IsDisjointTo)\s*\((.*)\)\s*$", re.I | re.S)
_LOCAL = re.compile(r"^\{!(\w+)([^}]*)\}(.*)$", re.S)


def syntax_error(q, why):
    return bad_request("org.apache.solr.search.SyntaxError: Cannot parse '%s': %s" % (q, why))


class Doc:
    """A stored document plus lazily computed index values (copyFields folded in)."""
    __slots__ = ("fields", "_index")

    def __init__(self, fields):
        self.fields = fields
        self._index = None

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

    def tokens(self, name, schema):
        key = "\0tok:" + name
        got = self._index.get(key) if self._index else None
        if got is None:
            got = [analyze(v) for v in self.values(name, schema)]
            self._index[key] = got
        return got


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- tokenizer
_TOKENS = re.compile(r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<and>&&)
  | (?P<or>\|\|)
  | (?P<quoted>"(?:[^"\\]|\\.)*")
  | (?P<range>[\[{](?:[^\]}"]|"[^"]*")*[\]}])
  | (?P<term>(?:[^\s()"\\\[\]{}]|\\.)+)
""", re.X | re.S)


def _tokenize(q):
    out, pos = [], 0
    while pos < len(q):
        m = _TOKENS.match(q, pos)
        if not m:
            raise syntax_error(q, "Lexical error at column %d" % (pos + 1))
        pos = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class _Parser:
    def __init__(self, q, schema, df):
        self.q, self.schema, self.df = q, schema, df
        self.toks = _tokenize(q)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse_query(self, field, top=False):
        """A sequence of clauses joined by AND/OR, Lucene's classic occur rules."""
        clauses = []  # [occur, predicate] ; occur in MUST / SHOULD / NOT
        conj = None
        while True:
            kind, text = self.peek()
            if kind is None or kind == "rparen":
                break
            if kind == "and" or (kind == "term" and text == "AND"):
                self.take()
                conj = "AND"
                if clauses and clauses[-1][0] == "SHOULD":
                    clauses[-1][0] = "MUST"
                continue
            if kind == "or" or (kind == "term" and text == "OR"):
                self.take()
                conj = "OR"
                continue
            occur = "SHOULD"
            if kind == "term" and text == "NOT":
                self.take()
                occur = "NOT"
            elif kind == "term" and text[0] in "+-" and len(text) > 1:
                self.toks[self.i] = (kind, text[1:])
                occur = "MUST" if text[0] == "+" else "NOT"
            elif kind == "term" and text in "+-":
                self.take()
                occur = "MUST" if text == "+" else "NOT"
            if occur == "SHOULD" and conj == "AND":
                occur = "MUST"
            clauses.append([occur, self.parse_clause(field)])
            conj = None
        if not clauses:
            raise syntax_error(self.q, 'Encountered "<EOF>"')
        return _boolean(clauses, top)

    def parse_clause(self, field):
        kind, text = self.take()
        if kind == "lparen":
            pred = self.parse_query(field)
            if self.take()[0] != "rparen":
                raise syntax_error(self.q, 'Encountered "<EOF>"')
            return pred
        if kind == "term" and ":" in text.replace("\\:", "") and not text.startswith(":"):
            name, _, rest = _split_field(text)
            if name == "*" and rest == "*":
                return lambda doc: True
            if rest:
                return self.term(name, rest)
            nkind, ntext = self.peek()
            if nkind in ("quoted", "range", "lparen"):
                if nkind == "lparen":
                    self.take()
                    pred = self.parse_query(name)
                    if self.take()[0] != "rparen":
                        raise syntax_error(self.q, 'Encountered "<EOF>"')
                    return pred
                self.take()
                return self.term(name, ntext)
            raise syntax_error(self.q, 'Encountered "<EOF>"')
        if kind in ("term", "quoted", "range"):
            return self.term(field, text)
        raise syntax_error(self.q, 'Encountered "%s"' % text)

    def term(self, name, text):
        schema = self.schema
        f = schema.field(name)
        if f is None:
            raise bad_request("undefined field %s" % name)
        if text.startswith('"'):
            return field_query(f, name, _unescape(text[1:-1]), schema)
        if text[0] in "[{":
            return _range(f, name, text, schema, self.q)
        value = _unescape(text)
        if value == "*":
            return lambda doc: bool(doc.values(name, schema))
        if "*" in value or "?" in value:
            pattern = value.lower() if f.kind == "text" else value
            if f.kind == "text":
                return lambda doc: any(fnmatch.fnmatchcase(t, pattern) for toks in doc.tokens(name, schema)
                                       for t in toks)
            return lambda doc: any(fnmatch.fnmatchcase(str(v), pattern) for v in doc.values(name, schema))
        if f.kind == "text":
            words = analyze(value)
            return lambda doc: any(w in toks for toks in doc.tokens(name, schema) for w in words)
        return _equals(f, name, value, schema)


def field_query(f, name, value, schema):
    """A quoted value, or ``{!field}``: a phrase on text, a spatial predicate on bbox, else equality."""
    if f.kind == "bbox":
        return spatial(name, value)
    if f.kind == "text":
        phrase = analyze(value)
        return lambda doc: any(_contains_run(toks, phrase) for toks in doc.tokens(name, schema))
    return _equals(f, name, value, schema)


def _boolean(clauses, top):
    must = [p for o, p in clauses if o == "MUST"]
    should = [p for o, p in clauses if o == "SHOULD"]
    nots = [p for o, p in clauses if o == "NOT"]
    if len(clauses) == 1 and should:
        return should[0]
    if not must and not should and not top:
        return lambda doc: False  # a purely negative sub-query matches nothing, as in Lucene

    def match(doc):
        if any(p(doc) for p in nots):
            return False
        if must:
            return all(p(doc) for p in must)
        return any(p(doc) for p in should) if should else True
    return match


def _split_field(text):
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == ":":
            return _unescape(text[:i]), ":", text[i + 1:]
        i += 1
    return text, "", ""


def _unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def _contains_run(tokens, phrase):
    n = len(phrase)
    if n == 0:
        return False
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def _convert(f, value, q=""):
    kind = f.kind
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "date":
            return parse_date(value)[0]
        if kind == "boolean":
            return str(value).lower() == "true"
    except ValueError:
        if kind == "date":
            raise bad_request("Invalid Date String:'%s'" % value)
        raise bad_request("Invalid Number: %s" % value)
    return str(value)


def _equals(f, name, value, schema):
    if f.kind == "bbox":
        return spatial(name, value)
    target = _convert(f, value)
    if f.kind == "date":
        return lambda doc: any(parse_date(v)[0] == target for v in doc.values(name, schema))
    return lambda doc: any(v == target for v in doc.values(name, schema))


def _range(f, name, text, schema, q):
    m = re.match(r'^([\[{])\s*("[^"]*"|\S+)\s+TO\s+("[^"]*"|\S+)\s*([\]}])$', text, re.S)
    if not m:
        raise syntax_error(q, "bad range %s" % text)
    lo_inc, lo, hi, hi_inc = m.group(1) == "[", m.group(2).strip('"'), m.group(3).strip('"'), m.group(4) == "]"
    lo = None if lo == "*" else _convert(f, _unescape(lo))
    hi = None if hi == "*" else _convert(f, _unescape(hi))
    key = (lambda v: parse_date(v)[0]) if f.kind == "date" else (lambda v: v)
    if f.kind == "text":
        key = str.lower

    def inside(v):
        v = key(v)
        if lo is not None and (v < lo or (v == lo and not lo_inc)):
            return False
        if hi is not None and (v > hi or (v == hi and not hi_inc)):
            return False
        return True
    return lambda doc: any(inside(v) for v in doc.values(name, schema))


# ---------------------------------------------------------------- spatial
def _x_spans(min_x, max_x):
    """A rectangle's longitude extent as spans; one crossing the antimeridian becomes two."""
    if min_x <= max_x:
        return [(min_x, max_x)]
    return [(min_x, 180.0), (-180.0, max_x)]


def rect_intersects(a, b):
    (ax0, ax1, ay1, ay0), (bx0, bx1, by1, by0) = a, b
    if ay1 < by0 or by1 < ay0:
        return False
    return any(s0 <= t1 and t0 <= s1 for s0, s1 in _x_spans(ax0, ax1) for t0, t1 in _x_spans(bx0, bx1))


def rect_within(inner, outer):
    (ix0, ix1, iy1, iy0), (ox0, ox1, oy1, oy0) = inner, outer
    if iy0 < oy0 or iy1 > oy1:
        return False
    if ox0 == -180 and ox1 == 180:
        return True
    return all(any(o0 <= s0 and s1 <= o1 for o0, o1 in _x_spans(ox0, ox1)) for s0, s1 in _x_spans(ix0, ix1))


def spatial(name, text, schema=None):
    m = _SPATIAL.match(text)
    if not m:
        raise bad_request("Unknown Spatial Operation: %s" % text.split("(")[0].strip())
    op = m.group(1).lower()
    try:
        query = parse_envelope(m.group(2).strip())
    except ValueError as exc:
        raise bad_request(str(exc))

    def test(doc):
        for value in _as_list(doc.fields.get(name)):
            box = parse_envelope(value)
            if op == "intersects" and rect_intersects(box, query):
                return True
            if op == "iswithin" and rect_within(box, query):
                return True
            if op == "contains" and rect_within(query, box):
                return True
            if op == "isdisjointto" and not rect_intersects(box, query):
                return True
        return False
    return test


# ---------------------------------------------------------------- entry point
def parse(q, schema, df="text"):
    q = (q or "").strip()
    if not q:
        return lambda doc: False
    m = _LOCAL.match(q)
    if m:
        parser, params, body = m.group(1), dict(re.findall(r"(\w+)=(\S+)", m.group(2))), m.group(3)
        if parser == "lucene":
            return parse(body, schema, params.get("df", df))
        f = params.get("f")
        if parser in ("field", "terms") and f:
            if schema.field(f) is None:
                raise bad_request("undefined field %s" % f)
            if parser == "terms":
                wanted = set(v for v in body.split(params.get("separator", ",")) if v)
                return lambda doc: any(str(v) in wanted for v in doc.values(f, schema))
            return field_query(schema.field(f), f, body, schema)
        raise bad_request("Unknown query parser '%s'" % parser)
    if q == "*:*":
        return lambda doc: True
    parser = _Parser(q, schema, df)
    pred = parser.parse_query(df, top=True)
    if parser.i < len(parser.toks):
        raise syntax_error(q, 'Encountered " ")" ") "')
    return pred


__all__ = ["Doc", "parse", "rect_intersects", "rect_within", "SolrHTTPError"]
