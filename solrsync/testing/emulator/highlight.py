"""Highlighting (``hl=true``) of the page's documents: the query's terms (every field's, unless
``hl.requireFieldMatch``) marked in the stored values of the ``hl.fl`` fields (default: ``df``),
each value analyzed by its field's index analyzer so stemmed forms match.

As Solr 5 (the original highlighter) each matching token is wrapped by itself, phrase queries only
where the phrase matches; as Solr 9 (the unified highlighter, weightMatches) a matched phrase is
wrapped as one. ``hl.simple.pre``/``post`` (9: also ``hl.tag.pre``/``post``), ``hl.snippets``,
``hl.encoder=html``. A value longer than ``hl.fragsize`` (100) is cut to a window around its first
match, not on Solr's exact fragment boundaries."""
import fnmatch
from xml.sax.saxutils import escape

from .errors import not_emulated
from .parsers import Context, parse
from .scoring import Bool, DisMax, Terms


def _collect(node, out):
    """The query's positive term nodes (a NOT clause highlights nothing)."""
    if isinstance(node, Terms):
        out.append(node)
    elif isinstance(node, Bool):
        for occur, sub in node.clauses:
            if occur != "NOT":
                _collect(sub, out)
    elif isinstance(node, DisMax):
        for sub in node.nodes:
            _collect(sub, out)
    return out


def _param(params, field, name, default=None):
    got = params.get("f.%s.%s" % (field, name)) or params.get(name)
    return got[0] if got else default


def highlight(core, params, page, q, df):
    schema = core.schema
    method = params.get("hl.method", ["unified" if core.solr_version.major >= 9 else "original"])[0]
    if method not in ("unified", "original"):
        raise not_emulated("the %s highlighter" % method)
    if params.get("hl.q"):
        q = params["hl.q"][0]
    def_type = params.get("defType", ["lucene"])[0]
    terms = _collect(parse(q or "", schema, df, Context(params), def_type), []) if q else []
    spec = ",".join(params.get("hl.fl", [])) or df
    wanted = [w for w in spec.replace(",", " ").split() if w]
    require = params.get("hl.requireFieldMatch", ["false"])[0] == "true"
    merged_phrases = method == "unified"
    out = {}
    for doc, _ in page:
        entry = {}
        names = []
        for w in wanted:
            if "*" in w:
                names.extend(n for n in doc.fields if fnmatch.fnmatchcase(n, w) and n not in names)
            elif w not in names:
                names.append(w)
        for name in names:
            f = schema.field(name)
            if f is None or not f.stored or name not in doc.fields:
                continue
            mine = [t for t in terms if not require or t.field == name]
            if not mine:
                continue
            pre = _param(params, name, "hl.tag.pre") if method == "unified" else None
            pre = pre or _param(params, name, "hl.simple.pre", "<em>")
            post = _param(params, name, "hl.tag.post") if method == "unified" else None
            post = post or _param(params, name, "hl.simple.post", "</em>")
            html = _param(params, name, "hl.encoder", "") == "html"
            fragsize = int(_param(params, name, "hl.fragsize", "100"))
            snippets = int(_param(params, name, "hl.snippets", "1"))
            found = []
            values = doc.fields[name]
            for value in (values if isinstance(values, list) else [values]):
                text = value if isinstance(value, str) else str(value)
                spans = _spans(f, text, mine, merged_phrases)
                if spans:
                    found.append(_mark(text, spans, pre, post, html, fragsize))
                if len(found) >= snippets:
                    break
            if found:
                entry[name] = found
        out[str(doc.fields.get(schema.unique_key))] = entry
    return out


def _spans(f, text, nodes, merge_phrases):
    """-> sorted [(start, end)] of the tokens (or merged phrases) to wrap."""
    tokens = f.index_analyzer.tokens(text)
    words = {t for n in nodes if not n.phrase for t in n.terms}
    spans = {(s, e) for term, _, s, e in tokens if term in words}
    by_pos = {}
    for term, pos, s, e in tokens:
        by_pos.setdefault(pos, []).append((term, s, e))
    for n in nodes:
        if not n.phrase:
            continue
        for pos in list(by_pos):
            hit = []
            for i, term in enumerate(n.terms):
                got = [(s, e) for t, s, e in by_pos.get(pos + i, []) if t == term]
                if not got:
                    break
                hit.append(got[0])
            else:
                if merge_phrases:
                    spans.add((hit[0][0], hit[-1][1]))
                else:
                    spans.update(hit)
    ordered = []
    for s, e in sorted(spans):
        if ordered and s < ordered[-1][1]:
            ordered[-1] = (ordered[-1][0], max(e, ordered[-1][1]))
        else:
            ordered.append((s, e))
    return ordered


def _mark(text, spans, pre, post, html, fragsize):
    lo, hi = 0, len(text)
    if fragsize > 0 and len(text) > fragsize:
        lo = max(0, spans[0][0] - fragsize // 4)
        hi = min(len(text), lo + fragsize)
        while lo > 0 and not text[lo - 1].isspace():
            lo -= 1
        while hi < len(text) and not text[hi].isspace():
            hi += 1
    enc = escape if html else (lambda s: s)
    out, pos = [], lo
    for s, e in spans:
        if s < lo or e > hi:
            continue
        out.append(enc(text[pos:s]))
        out.append(pre + enc(text[s:e]) + post)
        pos = e
    out.append(enc(text[pos:hi]))
    return "".join(out)
