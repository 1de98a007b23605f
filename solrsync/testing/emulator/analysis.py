"""Text analysis read from a configset's ``<analyzer>`` elements: a tokenizer, then token filters,
each given by its factory class (``solr.LowerCaseFilterFactory``) or its SPI name (``lowercase``).

A token is ``(term, position, start, end)`` (offsets into the value, for highlighting). Stemmers are
the Snowball ones Lucene's filters implement (the ``snowballstemmer`` package: ``porter`` for
PorterStemFilter, the language for SnowballPorterFilter). A chain naming a component the emulator
does not implement still loads (stock configsets name many); a query on such a field answers 400
"solrsync emulator: <component> is not emulated", never an approximation.
"""
import os
import re
import unicodedata

try:
    import snowballstemmer
except ImportError:  # the ``testing`` extra; without it a stemming field answers "not emulated"
    snowballstemmer = None

from .errors import not_emulated

# UAX#29 word breaks, closely enough: letters/digits joined by . ' ’ (MidNumLet) and digits by , ;
_STANDARD = re.compile(r"\w+(?:(?:[.'’](?=\w)|(?<=\d)[,;](?=\d))\w+)*", re.UNICODE)
_WHITESPACE = re.compile(r"\S+")
_LETTER = re.compile(r"[^\W\d_]+", re.UNICODE)
# Lucene's ENGLISH_STOP_WORDS_SET (StandardAnalyzer's default stop set until Lucene 7)
ENGLISH_STOP = frozenset("a an and are as at be but by for if in into is it no not of on or such that the their "
                         "then there these they this to was will with".split())


def _key(el):
    """``solr.PorterStemFilterFactory`` / ``porterStem`` -> ``porterstem``."""
    name = el.get("name") or el.get("class", "").rsplit(".", 1)[-1]
    name = re.sub(r"Factory$", "", name)
    name = re.sub(r"(CharFilter|TokenFilter|Filter|Tokenizer)$", "", name)
    return name.lower()


def _words(conf_dir, spec, ignore_case=False):
    """A comma-separated list of word files (``#`` comments; Snowball's ``|`` format too)."""
    out = set()
    for name in (spec or "").split(","):
        path = os.path.join(conf_dir or "", name.strip())
        if not name.strip() or not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                word = line.split("|", 1)[0].split("#", 1)[0].strip() if "|" in line else \
                    ("" if line.lstrip().startswith("#") else line.strip())
                if word:
                    out.add(word.lower() if ignore_case else word)
    return out


# ---------------------------------------------------------------- tokenizers
def _regex_tokenizer(pattern, lower=False):
    def run(text):
        return [((m.group().lower() if lower else m.group()), m.start(), m.end()) for m in pattern.finditer(text)]
    return run


def _tokenizer(el):
    key = _key(el)
    if key in ("standard", "classic", "uax29urlemail"):
        return _regex_tokenizer(_STANDARD)
    if key == "whitespace":
        return _regex_tokenizer(_WHITESPACE)
    if key == "letter":
        return _regex_tokenizer(_LETTER)
    if key == "lowercase":
        return _regex_tokenizer(_LETTER, lower=True)
    if key == "keyword":
        return lambda text: [(text, 0, len(text))] if text else []
    if key == "pattern":
        pattern, group = re.compile(el.get("pattern", r"\W+")), int(el.get("group", "-1"))
        if group == -1:
            def split(text):
                out, pos = [], 0
                for m in pattern.finditer(text):
                    if m.start() > pos:
                        out.append((text[pos:m.start()], pos, m.start()))
                    pos = m.end()
                if pos < len(text):
                    out.append((text[pos:], pos, len(text)))
                return out
            return split
        return lambda text: [(m.group(group), m.start(group), m.end(group)) for m in pattern.finditer(text)]
    return None


# ---------------------------------------------------------------- filters: fn(tokens) -> tokens
# a token here is [term, position, start, end, keyword]
def _map(fn):
    def run(tokens):
        for t in tokens:
            t[0] = fn(t[0])
        return [t for t in tokens if t[0]]
    return run


def _stemmer(algorithm, protected=()):
    if snowballstemmer is None:
        return None
    stem = snowballstemmer.stemmer(algorithm).stemWord

    def run(tokens):
        for t in tokens:
            if not t[4] and t[0] not in protected:
                t[0] = stem(t[0])
        return tokens
    return run


def _stop(words, ignore_case):
    def run(tokens):
        return [t for t in tokens if (t[0].lower() if ignore_case else t[0]) not in words]
    return run


def _english_minimal(term):
    """Lucene's EnglishMinimalStemmer (plural -s)."""
    n = len(term)
    if n < 3 or term[-1] != "s":
        return term
    if term.endswith("ies") and not term.endswith(("eies", "aies")):
        return term[:-3] + "y"
    if term.endswith("es") and not term.endswith(("aes", "ees", "oes")):
        return term[:-1]
    if term[-2] not in "us":
        return term[:-1]
    return term


def _fold(term):
    return "".join(c for c in unicodedata.normalize("NFKD", term) if not unicodedata.combining(c))


def _synonyms(conf_dir, spec, ignore_case, expand):
    """Solr-format synonyms, one-word rules (text matching a multi-word rule: not emulated)."""
    rules, phrases = {}, set()
    for name in (spec or "").split(","):
        path = os.path.join(conf_dir or "", name.strip())
        if not name.strip() or not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                lhs, arrow, rhs = line.partition("=>")
                left = [w.strip() for w in lhs.split(",") if w.strip()]
                right = [w.strip() for w in rhs.split(",") if w.strip()] if arrow else left
                if ignore_case:
                    left, right = [w.lower() for w in left], [w.lower() for w in right]
                if any(" " in w for w in left + right):
                    phrases.update(tuple(w.split()) for w in left + right if " " in w)
                    continue
                for w in left:
                    targets = right if (arrow or expand) else right[:1]
                    rules.setdefault(w, [])
                    rules[w].extend(x for x in targets if x not in rules[w])
    if not rules and not phrases:
        return lambda tokens: tokens
    firsts = {p[0] for p in phrases}

    def run(tokens):
        if firsts:
            terms = [t[0].lower() if ignore_case else t[0] for t in tokens]
            for i, term in enumerate(terms):
                if term in firsts and any(tuple(terms[i:i + len(p)]) == p for p in phrases):
                    raise not_emulated("a multi-word synonym rule ('%s')" % " ".join(
                        next(p for p in phrases if tuple(terms[i:i + len(p)]) == p)))
        out = []
        for t in tokens:
            got = rules.get(t[0].lower() if ignore_case else t[0])
            if not got:
                out.append(t)
                continue
            out.extend([w, t[1], t[2], t[3], t[4]] for w in got)
        return out
    return run


def _ngrams(lo, hi, edge, keep):
    def run(tokens):
        out = []
        for t in tokens:
            term = t[0]
            if edge:
                grams = [term[:n] for n in range(lo, hi + 1) if n <= len(term)]
            else:
                grams = [term[s:s + n] for s in range(len(term)) for n in range(lo, hi + 1) if s + n <= len(term)]
            if keep and (len(term) < lo or len(term) > hi):
                grams = [term] + grams if len(term) < lo else grams + [term]
            out.extend([g, t[1], t[2], t[3], t[4]] for g in grams)
        return out
    return run


def _filter(el, conf_dir):
    """-> fn(tokens) -> tokens, or None when the emulator does not implement it."""
    key = _key(el)
    ignore_case = el.get("ignoreCase", "false").lower() == "true"
    if key in ("lowercase", "turkishlowercase"):
        return _map(str.lower)
    if key == "uppercase":
        return _map(str.upper)
    if key in ("standard", "flattengraph", "hyphenatedwords", "classic", "cjkwidth"):
        return lambda tokens: tokens
    if key == "trim":
        return _map(str.strip)
    if key == "asciifolding":
        return _map(_fold)
    if key == "stop":
        words = _words(conf_dir, el.get("words"), ignore_case) if el.get("words") else ENGLISH_STOP
        return _stop(words, ignore_case)
    if key == "porterstem":
        return _stemmer("porter")
    if key == "snowballporter":
        protected = _words(conf_dir, el.get("protected"))
        algorithm = el.get("language", "English").lower()
        if snowballstemmer is not None and algorithm not in snowballstemmer.algorithms():
            return None
        return _stemmer(algorithm, protected)
    if key == "englishminimalstem":
        def run(tokens):
            for t in tokens:
                if not t[4]:
                    t[0] = _english_minimal(t[0])
            return tokens
        return run
    if key == "englishpossessive":
        return _map(lambda term: term[:-2] if term.lower().endswith(("'s", "’s")) else term)
    if key == "keywordmarker":
        words = _words(conf_dir, el.get("protected"), ignore_case)

        def mark(tokens):
            for t in tokens:
                t[4] = t[4] or (t[0].lower() if ignore_case else t[0]) in words
            return tokens
        return mark
    if key == "removeduplicates":
        def dedupe(tokens):
            seen, out = set(), []
            for t in tokens:
                if (t[0], t[1]) not in seen:
                    seen.add((t[0], t[1]))
                    out.append(t)
            return out
        return dedupe
    if key == "length":
        lo, hi = int(el.get("min", "0")), int(el.get("max", str(1 << 30)))
        return lambda tokens: [t for t in tokens if lo <= len(t[0]) <= hi]
    if key in ("synonym", "synonymgraph"):
        return _synonyms(conf_dir, el.get("synonyms"), ignore_case, el.get("expand", "true").lower() == "true")
    if key in ("edgengram", "ngram"):
        lo = int(el.get("minGramSize", "1"))
        hi = int(el.get("maxGramSize", "1" if key == "edgengram" else "2"))
        return _ngrams(lo, hi, key == "edgengram", el.get("preserveOriginal", "false").lower() == "true")
    if key == "patternreplace":
        pattern, repl = re.compile(el.get("pattern", "")), el.get("replacement", "")
        repl = re.sub(r"\$(\d)", r"\\\1", repl)
        count = 0 if el.get("replace", "all") == "all" else 1
        return _map(lambda term: pattern.sub(repl, term, count=count))
    if key == "delimitedpayload":
        delim = el.get("delimiter", "|")
        return _map(lambda term: term.split(delim, 1)[0])
    if key == "elision":
        articles = _words(conf_dir, el.get("articles"), ignore_case) or {"l", "m", "t", "qu", "n", "s", "j"}
        return _map(lambda term: term.split("'", 1)[1] if "'" in term and term.split("'", 1)[0].lower()
                    in articles else term)
    return None


class Analyzer:
    """A field type's analyzer for one side (index or query)."""

    def __init__(self, tokenizer, filters, missing=None):
        self.tokenizer, self.filters = tokenizer, filters
        self.missing = missing  # the first component the emulator does not implement

    def tokens(self, text):
        """-> [(term, position, start, end)] for one value."""
        if self.missing:
            raise not_emulated("analysis component '%s'" % self.missing)
        toks = [[term, pos, start, end, False] for pos, (term, start, end) in enumerate(self.tokenizer(text))]
        for fn in self.filters:
            toks = fn(toks)
        return [(t[0], t[1], t[2], t[3]) for t in toks]

    def terms(self, text):
        return [t[0] for t in self.tokens(text)]


def _simple(tokenizer, stop=()):
    filters = [_map(str.lower)]
    if stop:
        filters.append(_stop(frozenset(stop), False))
    return Analyzer(tokenizer, filters)


def analyzer_from(el, conf_dir, lucene_major=9):
    """An ``<analyzer>`` element -> Analyzer."""
    cls = el.get("class")
    if cls:
        name = cls.rsplit(".", 1)[-1]
        if name == "StandardAnalyzer":  # Lucene < 7: English stop words by default
            return _simple(_regex_tokenizer(_STANDARD), ENGLISH_STOP if lucene_major < 7 else ())
        if name == "WhitespaceAnalyzer":
            return Analyzer(_regex_tokenizer(_WHITESPACE), [])
        if name == "KeywordAnalyzer":
            return Analyzer(_tokenizer_named("keyword"), [])
        if name == "SimpleAnalyzer":
            return Analyzer(_regex_tokenizer(_LETTER, lower=True), [])
        return Analyzer(None, [], missing=name)
    tok_el = next((c for c in el if c.tag == "tokenizer"), None)
    missing = None
    tokenizer = _tokenizer(tok_el) if tok_el is not None else None
    if tokenizer is None:
        missing = tok_el.get("name") or tok_el.get("class") if tok_el is not None else "an analyzer without tokenizer"
    filters = []
    for child in el:
        if child.tag == "charFilter" and missing is None:
            missing = child.get("name") or child.get("class")
        if child.tag != "filter":
            continue
        fn = _filter(child, conf_dir)
        if fn is None and missing is None:
            missing = child.get("name") or child.get("class")
        filters.append(fn)
    return Analyzer(tokenizer, filters, missing)


def _tokenizer_named(name):
    class El(dict):
        def get(self, k, d=None):
            return dict.get(self, k, d)
    return _tokenizer(El(name=name))


# what a TextField without an analyzer, and a StrField (one token: the value), analyze with
DEFAULT_TEXT = Analyzer(_regex_tokenizer(_STANDARD), [_map(str.lower)])
KEYWORD = Analyzer(lambda text: [(text, 0, len(text))] if text else [], [])
