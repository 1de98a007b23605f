"""Relevance: the parsed query as a tree of scoring nodes, scored as Lucene's similarity does.

Solr 5.x (Lucene 5) scores with the classic TF-IDF (DefaultSimilarity: sqrt(tf) * idf^2 * norm,
queryNorm, coord); from 6 on BM25 (k1=1.2, b=0.75), unless the schema's ``<similarity>`` says
otherwise. Field lengths go through Lucene's lossy norm encodings (SmallFloat) so that documents
tie where Lucene makes them tie; ties keep index order, as Lucene's doc ids do.

A node's ``score(doc)`` is its score, or None when the document does not match.
"""
import math
import struct
from collections import Counter


# ---------------------------------------------------------------- Lucene's SmallFloat
def _float_bits(f):
    return struct.unpack(">i", struct.pack(">f", f))[0]


def _bits_float(i):
    return struct.unpack(">f", struct.pack(">i", i))[0]


def float_to_byte315(f):
    bits = _float_bits(f)
    small = bits >> (24 - 3)
    if small <= (63 - 15) << 3:
        return 0 if bits <= 0 else 1
    if small >= ((63 - 15) << 3) + 0x100:
        return 255
    return small - ((63 - 15) << 3)


def byte315_to_float(b):
    if b == 0:
        return 0.0
    return _bits_float(((b & 0xff) << (24 - 3)) + ((63 - 15) << 24))


def _long_to_int4(i):
    bits = i.bit_length()
    if bits < 4:
        return i
    shift = bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def _int4_to_long(i):
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_FREE = 255 - _long_to_int4((1 << 31) - 1)


def length_lucene7(n):
    """A field length as Lucene 7+ norms keep it (SmallFloat.intToByte4, decoded)."""
    if n < _FREE:
        return n
    return _FREE + _int4_to_long(_long_to_int4(n - _FREE))


def as_float32(x):
    """A score as Lucene returns it: a Java float, printed in the fewest digits that read back."""
    f32 = struct.unpack(">f", struct.pack(">f", x))[0]
    for digits in range(6, 10):
        text = "%.*g" % (digits, f32)
        if struct.unpack(">f", struct.pack(">f", float(text)))[0] == f32:
            return float(text)
    return f32


# ---------------------------------------------------------------- similarities
class Similarity:
    """Per request: the collection statistics of the searcher (``stats(field)``) and the formulas."""

    def __init__(self, kind, lucene_major, stats, k1=1.2, b=0.75):
        self.kind, self.lucene, self.stats = kind, lucene_major, stats
        self.k1, self.b = k1, b
        self.classic5 = kind == "classic" and lucene_major < 7  # queryNorm and coord
        self.coord = self.classic5

    def idf(self, field, terms):
        st = self.stats(field)
        total = 0.0
        for term in terms:
            df = st.df.get(term, 0)
            if self.kind == "classic":
                n = st.max_doc if self.lucene < 7 else st.doc_count
                total += 1.0 + math.log(n / (df + 1.0))
            else:
                total += math.log(1.0 + (st.doc_count - df + 0.5) / (df + 0.5))
        return total

    def norm(self, field, length):
        """The length factor of a field value as the index keeps it."""
        if self.kind == "classic":
            if length == 0:
                return 0.0
            if self.lucene < 7:
                return byte315_to_float(float_to_byte315(1.0 / math.sqrt(length)))
            return 1.0 / math.sqrt(length_lucene7(length))
        if self.lucene < 7:
            f = byte315_to_float(float_to_byte315(1.0 / math.sqrt(length))) if length else 0.0
            return 1.0 / (f * f) if f else 0.0
        return float(length_lucene7(length))

    def tf_score(self, field, freq, length, has_norms):
        """The per-document part of a term (or phrase) score."""
        if self.kind == "classic":
            return math.sqrt(freq) * (self.norm(field, length) if has_norms else 1.0)
        st = self.stats(field)
        dl = self.norm(field, length) if has_norms else 1.0
        avgdl = st.avgdl if has_norms else 1.0
        k = self.k1 * (1 - self.b + self.b * dl / avgdl) if avgdl else self.k1
        tf = freq / (freq + k)
        return tf * (self.k1 + 1) if self.lucene < 8 else tf


class FieldStats:
    """One field over the searcher's documents: document frequencies and lengths."""

    def __init__(self, docs, field, schema):
        self.field, self.max_doc = field, len(docs)
        self.df = Counter()
        self.doc_count = self.total = 0  # total: sumTotalTermFreq (stacked tokens count here, not in lengths)
        for doc in docs:
            self._count(doc, schema, 1)
        self.avgdl = self.total / self.doc_count if self.doc_count else 1.0

    def _count(self, doc, schema, sign):
        tf, length = doc.term_freqs(self.field, schema)
        if tf:
            self.doc_count += sign
            (self.df.update if sign > 0 else self.df.subtract)(tf.keys())
            self.total += sign * sum(tf.values())

    def moved(self, before, after, schema):
        """These statistics for the documents ``after`` (id -> Doc, a newer searcher's), from those
        of ``before``, the documents they were counted over: only the documents that differ are
        counted again. Counting all of them for each new searcher took 0.1-1 s at 100,000, in the
        process that indexes too."""
        new = FieldStats((), self.field, schema)
        new.df, new.doc_count, new.total, new.max_doc = Counter(self.df), self.doc_count, self.total, len(after)
        for key, doc in before.items():
            if after.get(key) is not doc:
                new._count(doc, schema, -1)
        for key, doc in after.items():
            if before.get(key) is not doc:
                new._count(doc, schema, 1)
        new.avgdl = new.total / new.doc_count if new.doc_count else 1.0
        return new


# ---------------------------------------------------------------- nodes
class Node:
    boost = 1.0
    value = 1.0

    def weight_sq(self, sim):
        """Lucene 5's getValueForNormalization (classic TF-IDF only)."""
        return self.boost ** 2

    def normalize(self, sim, norm, top_boost):
        pass

    def matches(self, doc):
        return self.score(doc) is not None


class Const(Node):
    """A query that matches by a predicate and scores its boost: ranges, wildcards, filters, *:*."""

    def __init__(self, pred, boost=1.0):
        self.pred, self.boost = pred, boost
        self.value = boost

    def normalize(self, sim, norm, top_boost):
        self.value = self.boost * norm * top_boost

    def score(self, doc):
        return self.value if self.pred(doc) else None


class Terms(Node):
    """Terms of one field scored as one (a term, or a phrase: ``slop`` None for a bag of synonyms)."""

    def __init__(self, field, f, terms, sim, schema, phrase=False, slop=0, boost=1.0):
        self.field, self.f, self.terms, self.sim, self.schema = field, f, terms, sim, schema
        self.phrase, self.slop, self.boost = phrase, slop, boost
        self.keyword = set(terms) if f is not None and f.kind == "string" and not phrase else None
        self.plain = self.keyword is not None and not schema.copy_sources(field)
        if sim is not None and not sim.classic5 and self.keyword is not None and len(terms) == 1:
            self.idf = self.value = None  # the statistics when a document first matches (id:X: rarely)
            return
        self.idf = sim.idf(field, terms if phrase else terms[:1]) if sim else 1.0
        if sim and not phrase and len(terms) > 1:  # SynonymQuery: one term, the commonest's document frequency
            st = sim.stats(field)
            common = max(terms, key=lambda t: st.df.get(t, 0))
            self.idf = sim.idf(field, [common])
        self.value = self.idf * boost  # normalized later (classic 5.x)

    def weight_sq(self, sim):
        return (self.idf * self.boost) ** 2

    def normalize(self, sim, norm, top_boost):
        self.value = self.idf * self.boost * norm * top_boost * self.idf

    def freq(self, doc, schema):
        if not self.phrase:
            tf, length = doc.term_freqs(self.field, schema)
            return sum(tf.get(t, 0) for t in self.terms), length
        total, length = 0.0, doc.term_freqs(self.field, schema)[1]
        for toks in doc.analyzed(self.field, schema):
            total += phrase_freq(toks, self.terms, self.slop)
        return total, length

    def score(self, doc):
        if self.keyword is not None:  # a string field: its values are its terms; most documents miss
            values = doc.fields.get(self.field) if self.plain else doc.values(self.field, self.schema)
            if values is None or (values not in self.keyword if type(values) is str else
                                   not any(v in self.keyword for v in values)):
                return None
        freq, length = self.freq(doc, self.schema)
        if not freq:
            return None
        if self.sim is None:
            return self.boost
        if self.value is None:
            self.idf = self.sim.idf(self.field, self.terms)
            self.value = self.idf * self.boost
        return self.value * self.sim.tf_score(self.field, freq, length, self.f.norms)


def phrase_freq(tokens, terms, slop):
    """How often a phrase occurs in one value (sloppy: each match weighs 1/(distance + 1))."""
    if not terms:
        return 0.0
    where = {}
    for term, pos, _, _ in tokens:
        where.setdefault(term, []).append(pos)
    if any(t not in where for t in terms):
        return 0.0
    total = 0.0
    for p0 in where[terms[0]]:
        if slop == 0:
            if all(p0 + i in where[t] for i, t in enumerate(terms)):
                total += 1.0
            continue
        dist = 0
        for i, t in enumerate(terms[1:], 1):
            best = min(abs(p - (p0 + i)) for p in where[t])
            dist = max(dist, best)
        if dist <= slop:
            total += 1.0 / (dist + 1)
    return total


class Bool(Node):
    """Lucene's BooleanQuery: MUST / SHOULD / MUST_NOT / FILTER clauses, minimumShouldMatch."""

    def __init__(self, clauses, min_should=0, boost=1.0, coord=True):
        self.clauses, self.min_should, self.boost, self.use_coord = clauses, min_should, boost, coord
        self.must = [n for o, n in clauses if o == "MUST"]
        self.should = [n for o, n in clauses if o == "SHOULD"]
        self.nots = [n for o, n in clauses if o == "NOT"]
        self.filters = [n for o, n in clauses if o == "FILTER"]
        self.coord = 1.0
        self.sim = None

    def weight_sq(self, sim):
        return sum(n.weight_sq(sim) for n in self.must + self.should) * self.boost ** 2

    def normalize(self, sim, norm, top_boost):
        for n in self.must + self.should:
            n.normalize(sim, norm, top_boost * self.boost)

    def score(self, doc):
        for n in self.nots:
            if n.score(doc) is not None:
                return None
        for n in self.filters:
            if n.score(doc) is None:
                return None
        total, matched = 0.0, 0
        for n in self.must:
            s = n.score(doc)
            if s is None:
                return None
            total += s
            matched += 1
        hits = 0
        for n in self.should:
            s = n.score(doc)
            if s is not None:
                total += s
                hits += 1
        if hits < self.min_should or (not self.must and not hits and (self.should or not self.filters)):
            return None
        matched += hits
        if self.sim is not None and self.sim.coord and self.use_coord:
            total *= matched / float(len(self.must) + len(self.should))
        return total * (self.boost if self.sim is None or not self.sim.classic5 else 1.0)


class DisMax(Node):
    """DisjunctionMaxQuery: the best clause plus ``tie`` times the others."""

    def __init__(self, nodes, tie=0.0, boost=1.0):
        self.nodes, self.tie, self.boost = nodes, tie, boost

    def weight_sq(self, sim):
        subs = [n.weight_sq(sim) for n in self.nodes]
        top = max(subs) if subs else 0.0
        return ((sum(subs) - top) * self.tie * self.tie + top) * self.boost ** 2

    def normalize(self, sim, norm, top_boost):
        for n in self.nodes:
            n.normalize(sim, norm, top_boost * self.boost)

    def score(self, doc):
        got = [s for s in (n.score(doc) for n in self.nodes) if s is not None]
        if not got:
            return None
        top = max(got)
        return (top + (sum(got) - top) * self.tie) * (self.boost if not getattr(self, "classic5", False) else 1.0)


def prepare(node, sim):
    """Lucene 5's query normalisation (classic TF-IDF): queryNorm = 1/sqrt(sum of squared weights)."""
    _mark(node, sim)
    if sim is not None and sim.classic5:
        total = node.weight_sq(sim)
        node.normalize(sim, 1.0 / math.sqrt(total) if total > 0 else 1.0, 1.0)
    return node


def _mark(node, sim):
    if isinstance(node, Bool):
        node.sim = sim
        for _, n in node.clauses:
            _mark(n, sim)
    elif isinstance(node, DisMax):
        node.classic5 = sim is not None and sim.classic5
        for n in node.nodes:
            _mark(n, sim)
