"""Query parsers: local params (``{!parser k=v}body``), the standard one (query.py), dismax and
edismax (``qf`` weights, ``tie``, ``mm``, ``pf``/``ps``, ``bq``, ``q.alt``) and the small ones
(``field``, ``term``, ``terms``, ``prefix``, ``raw``). Any other parser answers 400 "... is not
emulated"."""
import re

from .errors import bad_request, not_emulated
from .query import Parser, _boosted, boolean, field_node, quoted_node, syntax_error
from .nested import BlockJoin
from .scoring import Bool, Const, DisMax, Terms, prepare

_LOCAL_TYPE = re.compile(r"^\{!")
_PARAM = re.compile(r"""\s*([\w.]+)(?:=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s}]*))?""")
UNEMULATED_PARSERS = ("func", "frange", "geofilt", "bbox", "join", "collapse", "boost",
                      "knn", "graph", "switch", "complexphrase", "surround", "xmlparser", "mlt", "rerank",
                      "ltr", "simple", "spatial", "hash", "bool", "maxscore", "nested", "minhash")


class Context:
    """What parsing one request needs: its parameters, the similarity (None: matching only)."""

    def __init__(self, params=None, sim=None, docs=None):
        self.params = params or {}
        self.sim = sim
        self.docs = docs  # the searcher's documents in index order (block joins walk them)

    def get(self, name, default=None):
        got = self.params.get(name)
        return got[0] if got else default

    def nested(self, q, parser):
        return parse_nested(q, parser)


def split_local(q, ctx=None):
    """``{!type k=v ...}body`` -> (local params dict or None, body). ``$name`` values are the
    request's parameters; ``v`` replaces the body."""
    if not q.startswith("{!"):
        return None, q
    local, pos = {}, 2
    first = True
    while pos < len(q):
        if q[pos] == "}":
            break
        m = _PARAM.match(q, pos)
        if not m or m.end() == pos:
            raise syntax_error(q, "Expected identifier at pos %d str='%s'" % (pos, q))
        name, value = m.group(1), m.group(2)
        if value is None:
            if first:
                local["type"] = name
            else:
                raise syntax_error(q, "Expected '=' in local params")
        else:
            if value[:1] in "'\"":
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            elif value.startswith("$") and ctx is not None:
                value = ctx.get(value[1:], "")
            local[name] = value
        first = False
        pos = m.end()
        while pos < len(q) and q[pos] == " ":
            pos += 1
    else:
        raise syntax_error(q, "Expected '}' in local params")
    body = q[pos + 1:]
    if "v" in local:
        body = local["v"]
    return local, body


def parse(q, schema, df="text", ctx=None, def_type="lucene"):
    """A query string -> its node (scoring.py); local params pick the parser."""
    ctx = ctx or Context()
    local, body = split_local((q or "").strip(), ctx)
    kind = local.get("type", def_type) if local else def_type
    node = _by_parser(kind, body, local or {}, schema, df, ctx)
    return prepare(node, ctx.sim) if node is not None else Const(lambda doc: False)


def parse_nested(q, parser):
    """``_query_:"{!dismax qf=title}x"`` inside a standard query."""
    ctx = parser.ctx or Context()
    local, body = split_local(q.strip(), ctx)
    return _by_parser((local or {}).get("type", "lucene"), body, local or {}, parser.schema, parser.df, ctx)


def _by_parser(kind, body, local, schema, df, ctx):
    local_df = local.get("df", df)
    f_name = local.get("f")
    if kind in ("lucene", "standard"):
        body = body.strip()
        if not body:
            return None
        if body == "*:*":
            return Const(lambda doc: True)
        op = local.get("q.op", ctx.get("q.op", "OR"))
        return Parser(body, schema, local_df, ctx, op=op).parse()
    if kind in ("dismax", "edismax"):
        return dismax(body, schema, df, ctx, local, kind == "edismax")
    if kind in ("parent", "child"):
        spec = local.get("which" if kind == "parent" else "of")
        if not spec:
            raise bad_request("Missing required parameter: %s" % ("which" if kind == "parent" else "of"))
        block_filter = Parser(spec, schema, local_df, Context(ctx.params)).parse()
        inner = Parser(body, schema, local_df, ctx).parse() if body.strip() else None
        if inner is None:
            return None
        return BlockJoin(kind == "parent", block_filter, inner, ctx.docs or (), local.get("score", "none"))
    if kind in ("field", "term", "terms", "prefix", "raw"):
        if not f_name:
            raise bad_request("Missing required parameter: f")
        f = schema.field(f_name)
        if f is None:
            raise bad_request("undefined field %s" % f_name)
        if kind == "terms":
            wanted = set(v for v in body.split(local.get("separator", ",")) if v)
            if f.kind == "text":
                return Const(lambda doc: any(t in wanted for toks in doc.tokens(f_name, schema) for t in toks))
            return Const(lambda doc: any(str(v) in wanted or v in wanted for v in doc.values(f_name, schema)))
        if kind == "prefix":
            return Const(lambda doc: any(str(t).startswith(body) for toks in doc.tokens(f_name, schema)
                                         for t in toks))
        if kind in ("term", "raw") and f.kind in ("text", "string"):
            return Terms(f_name, f, [body], ctx.sim, schema)
        parser = Parser("x", schema, local_df, ctx)
        return quoted_node(parser, f, f_name, body)
    if kind in UNEMULATED_PARSERS:
        raise not_emulated("the {!%s} query parser" % kind)
    raise bad_request("Unknown query parser '%s'" % kind)


def parse_qf(spec):
    """``title^2 body`` -> [(field, boost)]."""
    out = []
    for part in (spec or "").split():
        name, _, boost = part.partition("^")
        out.append((name, float(boost) if boost else 1.0))
    return out


def min_should_match(spec, count):
    """Solr's SolrPluginUtils.calculateMinShouldMatch."""
    spec = (spec or "0%").strip()
    if "<" in spec:
        result = count
        for part in spec.split():
            upper, _, rest = part.partition("<")
            if count <= int(upper):
                return result
            result = min_should_match(rest, count)
        return result
    if spec.endswith("%"):
        calc = int(count * float(spec[:-1]) * 0.01)
    else:
        calc = int(spec)
    result = count + calc if calc < 0 else calc
    return count if count < result else max(result, 0)


def dismax(q, schema, df, ctx, local, extended):
    """dismax / edismax: each word a DisjunctionMaxQuery over the ``qf`` fields (weighted), ``mm``
    of them required, ``pf`` phrase and ``bq`` queries adding to the score."""
    def param(name, default=None):
        return local.get(name, ctx.get(name, default))

    for unsupported in ("bf", "boost", "pf2", "pf3", "uf"):
        if param(unsupported):
            raise not_emulated("the %s parameter of %s" % (unsupported, "edismax" if extended else "dismax"))
    q = (q or "").strip()
    if not q:
        alt = param("q.alt")
        return Parser(alt, schema, df, ctx).parse() if alt else None
    qf = parse_qf(param("qf") or param("df") or df)
    tie = float(param("tie", "0"))
    op = param("q.op", "OR").upper()
    sentinel = "\0default"

    def default(body, kind, boost, tilde):
        nodes = []
        for name, fboost in qf:
            f = schema.field(name)
            if f is None:
                raise bad_request("undefined field %s" % name)
            try:
                node = field_node(parser, name, body, kind, 1.0, tilde)
            except Exception:
                if f.kind in ("text", "string"):
                    raise
                continue  # a word that is no number: a numeric qf field does not take part
            if node is not None:
                nodes.append(_boosted(node, fboost))
        if not nodes:
            return None
        return DisMax(nodes, tie, boost)

    text = q if extended else re.sub(r'([:\[\]{}()^~!/\\])', r"\\\1", q)
    parser = Parser(text, schema, sentinel, ctx, op="OR", default=default)
    main = parser.parse()
    if main is None:
        return None
    mm = param("mm", "100%" if op == "AND" else "0%")
    if isinstance(main, Bool) and not parser.explicit:  # mm counts the optional words of a plain query
        main.min_should = min_should_match(mm, len(main.should))
    extra = []
    pf = parse_qf(param("pf"))
    words = [t for k, t in parser.toks if k == "term" and t not in ("AND", "OR", "NOT") and ":" not in t
             and t[0] not in "+-"]
    if pf and len(words) > 1:
        phrases = []
        for name, fboost in pf:
            f = schema.field(name)
            if f is not None and f.kind == "text":
                node = quoted_node(parser, f, name, " ".join(words), fboost, int(param("ps", "0")))
                if node is not None:
                    phrases.append(node)
        if phrases:
            extra.append(DisMax(phrases, tie))
    for bq in ctx.params.get("bq", []) if "bq" not in local else [local["bq"]]:
        node = Parser(bq, schema, df, ctx).parse()
        if node is not None:
            extra.append(node)
    if not extra:
        return main
    return Bool([["MUST", main]] + [["SHOULD", n] for n in extra], coord=False)


__all__ = ["Context", "parse", "split_local", "boolean"]
