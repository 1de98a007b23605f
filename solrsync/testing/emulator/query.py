"""The Lucene (standard) query parser: the query string -> a tree of scoring nodes (scoring.py).

Supported: ``*:*``, ``field:value``, ``field:"a phrase"`` (``~slop``), ``field:(a OR b)``, ranges
``[X TO Y]`` / ``{X TO Y}`` with ``*``, wildcards ``*`` / ``?``, fuzzy ``term~N``, ``/regex/``,
boosts ``^N``, ``+``/``-``/``NOT``/``AND``/``OR``/``&&``/``||``, grouping, ``_query_:"{!...}"``
and the default operator (``q.op``). Text is analyzed by the field type's query analyzer; local
params (``{!...}``) and dismax/edismax are in parsers.py.
"""
import fnmatch
import re

from .errors import not_emulated
from .index import Doc  # noqa: F401 (re-exported)
from .schema import SolrHTTPError, bad_request, parse_date  # noqa: F401
from .scoring import Bool, Const, Terms
from .spatial import rect_intersects, rect_within, spatial  # noqa: F401 (re-exported)


def syntax_error(q, why):
    return bad_request("org.apache.solr.search.SyntaxError: Cannot parse '%s': %s" % (q, why))


_TOKENS = re.compile(r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\)(?:\^[\d.]+)?)
  | (?P<and>&&)
  | (?P<or>\|\|)
  | (?P<quoted>"(?:[^"\\]|\\.)*"(?:[~^][\d.]*)*)
  | (?P<range>[\[{](?:[^\]}"]|"[^"]*")*[\]}](?:\^[\d.]+)?)
  | (?P<regex>/(?:[^/\\]|\\.)*/(?:\^[\d.]+)?)
  | (?P<term>(?:[^\s()"\\\[\]{}]|\\.)+)
""", re.X | re.S)


def _tokenize(q):
    out, pos = [], 0
    while pos < len(q):
        m = _TOKENS.match(q, pos)
        if not m:
            raise syntax_error(q, "Lexical error at column %d" % (pos + 1))
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def _modifiers(text):
    """``foo^2`` / ``"a b"~3^2`` / ``foo~1`` -> (text, boost, tilde: None or the number after ``~``)."""
    boost, tilde = 1.0, None
    m = re.search(r"((?:[~^][\d.]*)+)$", text)
    if m and not text.endswith("\\" + m.group(1)[:1]) and m.start() > 0:
        for op, num in re.findall(r"([~^])([\d.]*)", m.group(1)):
            if op == "^":
                boost = float(num or 1)
            else:
                tilde = float(num) if num else -1.0
        text = text[:m.start()]
    return text, boost, tilde


class Parser:
    """One query string. ``ctx``: the request's scoring context (similarity; None when only
    matching counts, as for delete-by-query), ``op``: the default operator, ``qf``: the fields the
    default field stands for (edismax's aliasing; parsers.py)."""

    def __init__(self, q, schema, df, ctx=None, op="OR", default=None):
        self.q, self.schema, self.df, self.ctx = q, schema, df, ctx
        self.sim = ctx.sim if ctx is not None else None
        self.op = op.upper()
        self.default = default  # fn(text, quoted, boost, tilde) -> node, for the default field
        self.toks = _tokenize(q)
        self.i = 0
        self.explicit = False  # did the query use AND / OR / + / -

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def parse(self):
        node = self.parse_query(self.df, top=True)
        if self.i < len(self.toks):
            raise syntax_error(self.q, 'Encountered " ")" ") "')
        return node

    def parse_query(self, field, top=False):
        """Clauses joined by AND/OR, Lucene's classic occur rules (QueryParserBase.addClause)."""
        clauses = []  # [occur, node]; occur MUST / SHOULD / NOT
        conj = None
        default = "MUST" if self.op == "AND" else "SHOULD"
        while True:
            kind, text = self.peek()
            if kind is None or kind == "rparen":
                break
            if kind == "and" or (kind == "term" and text == "AND"):
                self.take()
                conj, self.explicit = "AND", True
                if clauses and clauses[-1][0] == "SHOULD":
                    clauses[-1][0] = "MUST"
                continue
            if kind == "or" or (kind == "term" and text == "OR"):
                self.take()
                conj, self.explicit = "OR", True
                if clauses and clauses[-1][0] == "MUST" and default == "MUST":
                    clauses[-1][0] = "SHOULD"
                continue
            occur = None
            if kind == "term" and text == "NOT":
                self.take()
                occur = "NOT"
            elif kind == "term" and text[0] in "+-" and len(text) > 1:
                self.toks[self.i] = (kind, text[1:])
                occur = "MUST" if text[0] == "+" else "NOT"
            elif kind == "term" and text in "+-":
                self.take()
                occur = "MUST" if text == "+" else "NOT"
            if occur is not None:
                self.explicit = True
            if occur is None:
                occur = "MUST" if conj == "AND" else "SHOULD" if conj == "OR" else default
            node = self.parse_clause(field)
            if node is not None:
                clauses.append([occur, node])
            conj = None
        if not clauses:
            if self.i == 0 or self.peek()[0] == "rparen" and not top:
                raise syntax_error(self.q, 'Encountered "<EOF>"')
            return None
        return boolean(clauses, top)

    def parse_clause(self, field):
        kind, text = self.take()
        if kind == "lparen":
            node = self.parse_query(field)
            close = self.take()
            if close[0] != "rparen":
                raise syntax_error(self.q, 'Encountered "<EOF>"')
            return _boosted(node, _modifiers(close[1])[1])
        if kind == "term" and ":" in text.replace("\\:", "") and not text.startswith(":"):
            name, _, rest = _split_field(text)
            if name == "*" and rest == "*":
                return Const(lambda doc: True)
            if rest:
                return self.term(name, rest, "term")
            nkind, ntext = self.peek()
            if nkind == "lparen":
                self.take()
                node = self.parse_query(name)
                close = self.take()
                if close[0] != "rparen":
                    raise syntax_error(self.q, 'Encountered "<EOF>"')
                return _boosted(node, _modifiers(close[1])[1])
            if nkind in ("quoted", "range", "regex"):
                self.take()
                return self.term(name, ntext, nkind)
            raise syntax_error(self.q, 'Encountered "<EOF>"')
        if kind in ("term", "quoted", "range", "regex"):
            if kind == "term" and text == "*":
                return Const(lambda doc: True)
            return self.term(field, text, kind)
        raise syntax_error(self.q, 'Encountered "%s"' % text)

    def term(self, name, text, kind):
        nkind, ntext = self.peek()
        if nkind == "term" and ntext[:1] in "^~" and kind in ("quoted", "term"):
            self.take()
            text += ntext
        body, boost, tilde = _modifiers(text) if kind in ("term", "quoted") else (text, 1.0, None)
        if kind in ("range", "regex"):
            body, boost = re.sub(r"\^[\d.]+$", "", text), _modifiers(text)[1] if re.search(r"\^[\d.]+$", text) \
                else 1.0
        if name == "_query_" and self.ctx is not None:  # parsers.Context knows the other parsers
            return _boosted(self.ctx.nested(_unescape(body[1:-1] if kind == "quoted" else body), self), boost)
        if name == self.df and self.default is not None:
            return self.default(body, kind, boost, tilde)
        return field_node(self, name, body, kind, boost, tilde)


def field_node(parser, name, body, kind, boost=1.0, tilde=None):
    """One clause on one field: a term, phrase, range, wildcard, fuzzy or regex query."""
    schema, sim = parser.schema, parser.sim
    f = schema.field(name)
    if f is None:
        raise bad_request("undefined field %s" % name)
    if f.similarity is not None and sim is not None:
        raise not_emulated("a field type's own similarity (field %s)" % name)
    if kind == "range":
        return Const(_range(f, name, body, schema, parser.q), boost)
    if kind == "regex":
        pattern = re.compile(body[1:-1])
        return Const(lambda doc: any(pattern.fullmatch(t) for toks in _terms(doc, f, name, schema) for t in toks),
                     boost)
    if kind == "quoted":
        value = _unescape(body[1:-1])
        return quoted_node(parser, f, name, value, boost, int(tilde) if tilde and tilde > 0 else 0)
    if kind == "term" and len(body) > 1 and body[0] == "/" and body[-1] == "/":
        return field_node(parser, name, body, "regex", boost)
    value = _unescape(body)
    if value == "*":
        return Const(lambda doc: bool(doc.values(name, schema)), boost)
    if tilde is not None and f.kind in ("text", "string"):
        edits = 2 if tilde < 0 else int(tilde) if tilde >= 1 else 2
        return _fuzzy(parser, f, name, value.lower() if f.kind == "text" else value, edits, boost)
    if ("*" in value or "?" in value) and f.kind in ("text", "string"):
        pattern = value.lower() if f.kind == "text" else value
        return Const(lambda doc: any(fnmatch.fnmatchcase(t, pattern) for toks in _terms(doc, f, name, schema)
                                     for t in toks), boost)
    if f.kind == "text":
        return text_node(parser, f, name, value, boost)
    if f.kind == "string":
        return Terms(name, f, [value], sim, schema, boost=boost)
    return Const(_equals(f, name, value, schema), boost)


def _terms(doc, f, name, schema):
    return doc.tokens(name, schema) if f.kind in ("text", "string") else [[str(v) for v in doc.values(name, schema)]]


def text_node(parser, f, name, value, boost=1.0, op=None):
    """An unquoted word on a text field: its analyzed terms (one: a term query; several at one
    position: synonyms; at several positions: a boolean of them, by the default operator)."""
    tokens = f.query_analyzer.tokens(value)
    if not tokens:
        return None
    positions = {}
    for term, pos, _, _ in tokens:
        positions.setdefault(pos, []).append(term)
    one = len(positions) == 1
    nodes = [_synonyms(parser, name, f, terms, boost if one else 1.0) for terms in positions.values()]
    if len(nodes) == 1:
        return nodes[0]
    occur = "MUST" if (op or parser.op) == "AND" else "SHOULD"
    return Bool([[occur, n] for n in nodes], boost=boost, coord=False)


def _synonyms(parser, name, f, terms, boost):
    """Terms at one position: Lucene 6+'s SynonymQuery (scored as one term), before that a
    disjunction of the terms without coord."""
    sim = parser.sim
    if len(terms) == 1 or sim is None or sim.lucene >= 6:
        return Terms(name, f, list(dict.fromkeys(terms)), sim, parser.schema, boost=boost)
    return Bool([["SHOULD", Terms(name, f, [t], sim, parser.schema)] for t in terms], boost=boost, coord=False)


def quoted_node(parser, f, name, value, boost=1.0, slop=0):
    """A quoted value: a phrase on text, a spatial predicate on bbox, else a term."""
    schema = parser.schema
    if f.kind == "bbox":
        return Const(spatial(name, value), boost)
    if f.kind == "text":
        terms = [t[0] for t in f.query_analyzer.tokens(value)]
        if not terms:
            return None
        if len(terms) == 1:
            return Terms(name, f, terms, parser.sim, schema, boost=boost)
        return Terms(name, f, terms, parser.sim, schema, phrase=True, slop=slop, boost=boost)
    if f.kind == "string":
        return Terms(name, f, [value], parser.sim, schema, boost=boost)
    return Const(_equals(f, name, value, schema), boost)


def _boosted(node, boost):
    if node is not None and boost != 1.0:
        node.boost *= boost
        if isinstance(node, (Const, Terms)) and node.value is not None:  # None: computed at the first match
            node.value *= boost
    return node


def boolean(clauses, top=False):
    """Clauses -> a node; a purely negative top-level query matches everything else (Solr adds *:*)."""
    if len(clauses) == 1 and clauses[0][0] in ("SHOULD", "MUST"):
        return clauses[0][1]
    if top and all(o == "NOT" for o, _ in clauses):
        clauses = [["MUST", Const(lambda doc: True)]] + clauses
    return Bool(clauses)


def _fuzzy(parser, f, name, value, edits, boost):
    """``term~N``: the indexed terms within N edits (Damerau-Levenshtein, as FuzzyQuery), each
    scored as a term boosted by 1 - edits/length with the rarest's document frequency (Lucene's
    TopTermsBlendedFreqScoringRewrite)."""
    schema, sim = parser.schema, parser.sim

    def near(term):
        return abs(len(term) - len(value)) <= edits and _distance(term, value, edits) <= edits
    if sim is None:
        return Const(lambda doc: any(near(t) for toks in doc.tokens(name, schema) for t in toks), boost)
    stats = sim.stats(name)
    found = []
    for term in stats.df:
        if near(term):
            ed = _distance(term, value, edits)
            weight = 1.0 - ed / float(min(len(term), len(value))) if ed else 1.0
            if weight > 0:
                found.append((term, weight))
    if not found:
        return None
    found = sorted(found, key=lambda tw: (-tw[1], tw[0]))[:50]
    rarest = max(found, key=lambda tw: stats.df[tw[0]])[0]
    nodes = []
    for term, weight in found:
        node = Terms(name, f, [term], sim, schema, boost=weight * boost)
        node.idf = sim.idf(name, [rarest])
        node.value = node.idf * node.boost
        nodes.append(["SHOULD", node])
    return nodes[0][1] if len(nodes) == 1 else Bool(nodes, coord=False)


def _distance(a, b, limit):
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


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
