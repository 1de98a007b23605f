"""Documents: turning a row into the JSON Solr accepts.

A pipeline declares its document as a class (``LayerDocument``) whose attributes are fields::

    class LayerDocument(Document):
        id = Field("uuid")
        title = Text("title")
        bbox = BBox("bbox_x0", "bbox_x1", "bbox_y0", "bbox_y1")
        modified_date = Date("date")
        keywords = Multi("keywords", attr="name")

``build(row)`` returns the document and the warnings met on the way (a bbox that could not be
repaired is dropped, the layer still indexed). ``None`` and empty values are omitted.
"""
import base64
import copy
import datetime as dt
import decimal
import json
import math
import re

UTC = dt.timezone.utc

# Solr's XML/JSON parsers reject C0 controls other than tab/newline/CR, and lone surrogates.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")
# How far outside the world a coordinate may stray and still be float noise rather than an error.
_NOISE = 1e-6


class InvalidBBox(ValueError):
    """A bbox that cannot be turned into an envelope Solr accepts."""


def envelope(min_x, max_x, min_y, max_y):
    """Solr WKT ``ENVELOPE(minX, maxX, maxY, minY)`` from GeoNode's x0, x1, y0, y1.

    All four None -> None (no bbox). What each oddity becomes:
      * NaN / inf / non-numbers / some but not all None: InvalidBBox.
      * latitude beyond +-90 by float noise (1e-6): clamped (both ends, so y0 = y1 = -90.0000001 becomes
        -90, -90); further: InvalidBBox.
      * longitude beyond +-180 by float noise: clamped; within +-360: wrapped into [-180, 180]
        (0..360 data, boxes drawn past the antimeridian); a span of 360 or more: the whole world;
        further out: InvalidBBox.
      * y0 > y1: swapped (Solr rejects maxY < minY).
      * x0 > x1 after wrapping: Solr reads it as a box crossing the antimeridian. Kept so when that
        box is the narrower reading (170, -170 is 20 degrees wide); swapped when the crossing box
        would be wider than the swapped one (11, 10 would otherwise cover 359 degrees).
      * zero width or height (a point or a line): kept; Solr indexes and matches it.
    """
    if (type(min_x) is float and type(max_x) is float and type(min_y) is float and type(max_y) is float
            and -180.0 <= min_x <= max_x <= 180.0 and -90.0 <= min_y <= max_y <= 90.0):
        # the common case, already valid: skip the repairs (reindex speed depends on it)
        return "ENVELOPE(%s, %s, %s, %s)" % (_num(min_x), _num(max_x), _num(max_y), _num(min_y))
    coords = (min_x, max_x, min_y, max_y)
    if all(c is None for c in coords):
        return None
    try:
        x0, x1, y0, y1 = (float(c) for c in coords)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int too large for a float
        raise InvalidBBox("bbox has a missing or non-numeric coordinate: %r" % (coords,))
    if any(math.isnan(c) or math.isinf(c) for c in (x0, x1, y0, y1)):
        raise InvalidBBox("bbox has NaN or infinite coordinates: %r" % (coords,))
    if y0 > y1:
        y0, y1 = y1, y0
    for y in (y0, y1):
        if abs(y) > 90 + _NOISE:
            raise InvalidBBox("latitude %r is beyond +-90" % y)
    # Both ends clamped on both sides: clamping y0 only from below and y1 only from above turned
    # y0 = y1 = -90.0000001 into minY -90.0 > maxY -90.0000001, which Solr refuses. Clamping keeps y0 <= y1.
    y0, y1 = min(max(y0, -90.0), 90.0), min(max(y1, -90.0), 90.0)
    for x in (x0, x1):
        if abs(x) > 360 + _NOISE:
            raise InvalidBBox("longitude %r is beyond +-360" % x)
    if x1 - x0 >= 360:
        x0, x1 = -180.0, 180.0
    x0, x1 = _wrap(x0), _wrap(x1)
    if x0 > x1:
        crossing_width = (180 - x0) + (x1 + 180)
        if crossing_width > x0 - x1:
            x0, x1 = x1, x0
    return "ENVELOPE(%s, %s, %s, %s)" % (_num(x0), _num(x1), _num(y1), _num(y0))


def _wrap(x):
    if abs(x) <= 180 + _NOISE:
        return max(-180.0, min(180.0, x))
    return x - 360 if x > 0 else x + 360


def _num(v):
    """Rounded to 9 decimals (float noise: 85.17432500000001), no trailing zeros, no exponent,
    no "-0.0"; twice as fast as repr(round(v, 9)).

    Safe for Solr: "%.9f" rounds correctly, so it is monotonic (a <= b stays a <= b: min/max never swap)
    and never passes a bound that is itself a 9-decimal number (v <= 90.0 prints <= "90.0"); Java reads
    the short decimal back to the nearest double, monotonic again."""
    text = ("%.9f" % v).rstrip("0")
    if text[-1] == ".":
        text += "0"
    return "0.0" if text == "-0.0" else text


def solr_date(value, naive_tz=UTC):
    """Any date, datetime or ISO-8601 string -> ``YYYY-MM-DDTHH:MM:SS[.mmm]Z`` in UTC.

    Naive datetimes are read in ``naive_tz`` (UTC unless the caller knows better, e.g. Django's
    TIME_ZONE with USE_TZ=False). Solr keeps milliseconds, so microseconds are cut there.
    """
    if type(value) is dt.datetime and value.tzinfo is UTC:
        # what the ORM hands over (aware, UTC): isoformat is C, the general path below ~4x slower
        ms = value.microsecond // 1000
        return value.isoformat()[:19] + (".%03dZ" % ms if ms else "Z")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not an ISO-8601 date: %r" % value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ValueError("not a date: %r" % (value,))
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=naive_tz)
    value = value.astimezone(UTC)
    out = "%04d-%02d-%02dT%02d:%02d:%02d" % (value.year, value.month, value.day, value.hour, value.minute,
                                              value.second)
    ms = value.microsecond // 1000
    return out + (".%03d" % ms if ms else "") + "Z"


def clean_text(value):
    """Text Solr will take: control characters and lone surrogates removed; empty -> None."""
    if value is None:
        return None
    text = value if type(value) is str else str(value)
    if not (text.isascii() and text.isprintable()):  # the common case needs no regex
        text = _CONTROL.sub("", text)
    return text.strip() or None


def _clean_any(value):
    """Text cleaned, anything else (numbers, booleans) as it is."""
    return clean_text(value) if isinstance(value, str) else value


# The integer range of each Solr integer type: Solr narrows a larger number silently (a pint given
# 2**31 stores -2**31, measured on 9.4.0), so a value outside is dropped with a warning instead.
_INT_RANGES = {"pint": (-2 ** 31, 2 ** 31 - 1), "plong": (-2 ** 63, 2 ** 63 - 1), None: (-2 ** 63, 2 ** 63 - 1)}
_TEXT_TYPES = ("string", "text_general")


def solr_value(value, solr_type=None, naive_tz=UTC):
    """One Python value (whatever a Django field holds) -> the JSON value a field of ``solr_type``
    accepts and gives back unchanged, so that what ``--verify`` reads equals what was built.
    ``solr_type`` None: the type is not known (a computed field), chosen by the value's own type.

    Raises ValueError for a value the type cannot hold (NaN or infinity, an integer beyond the
    type's range, text that is not a number): the field is dropped with a warning naming the row."""
    kind = type(value)
    if kind is str:
        if solr_type is None or solr_type in _TEXT_TYPES:
            return clean_text(value)
        return _from_text(value, solr_type, naive_tz)
    if value is None:
        return None
    if kind is bool:
        if solr_type == "boolean" or solr_type is None:
            return value
        if solr_type in _TEXT_TYPES:
            return "true" if value else "false"
        raise ValueError("%r is not a value of a %s field" % (value, solr_type))
    if isinstance(value, (int, float, decimal.Decimal)):
        return _number(value, solr_type)
    if isinstance(value, (dt.date, dt.datetime)):
        if solr_type in (None, "pdate") or solr_type in _TEXT_TYPES:
            try:
                return solr_date(value, naive_tz)
            except OverflowError:  # year 1 or 9999 moved past the calendar by its offset
                raise ValueError("%s is outside the dates Solr can hold in UTC" % value)
        raise ValueError("a date is not a value of a %s field" % solr_type)
    if solr_type is None and isinstance(value, (list, tuple)):  # a computed field's values
        return [v for v in (solr_value(item, None, naive_tz) for item in value) if v is not None]
    if isinstance(value, (dict, list, tuple)):
        # a JSONField's value as JSON text (a multi-valued field hands its values one by one)
        if solr_type is not None and solr_type not in _TEXT_TYPES:
            raise ValueError("%r is not a value of a single-valued %s field" % (value, solr_type))
        try:
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError("cannot write %r as JSON: %s" % (value, exc))
        return clean_text(text)
    if isinstance(value, dt.timedelta):  # a DurationField: seconds
        return _number(value.total_seconds(), solr_type)
    if solr_type is not None and solr_type not in _TEXT_TYPES:
        raise ValueError("%r is not a value of a %s field" % (value, solr_type))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return clean_text(str(value))  # a UUID, a time, a FieldFile, an IP address, a custom type: its text


def _number(value, solr_type):
    """An int, float or Decimal as ``solr_type`` holds it."""
    if solr_type in _TEXT_TYPES:
        if isinstance(value, float) and not math.isfinite(value) or \
                isinstance(value, decimal.Decimal) and not value.is_finite():
            raise ValueError("%s is not a number Solr can hold" % value)
        return str(value)
    if isinstance(value, int) and solr_type in _INT_RANGES:
        low, high = _INT_RANGES[solr_type]
        if not low <= value <= high:
            raise ValueError("%d is outside the range of a %s field" % (value, solr_type or "Solr integer"))
        return value
    if isinstance(value, float) and not math.isfinite(value) or \
            isinstance(value, decimal.Decimal) and not value.is_finite():
        raise ValueError("%s is not a number Solr can hold" % value)
    if solr_type == "pdouble" or solr_type is None:
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError("%s is beyond a double's range" % value)
        return number
    if solr_type in _INT_RANGES:
        if value != int(value):
            raise ValueError("%s is not a whole number, as a %s field holds" % (value, solr_type))
        return _number(int(value), solr_type)
    raise ValueError("%s is not a value of a %s field" % (value, solr_type))


def _from_text(value, solr_type, naive_tz):
    """Text a non-text field reads: parsed here as Solr would, so what is compared is what Solr
    stores (Solr would store "7" in a pint field as 7)."""
    text = value.strip()
    if not text:
        return None
    if solr_type in ("pint", "plong"):
        if not re.match(r"^[+-]?\d+$", text):
            raise ValueError("%r is not a whole number" % value)
        return _number(int(text), solr_type)
    if solr_type == "pdouble":
        try:
            return _number(float(text), solr_type)
        except ValueError:
            raise ValueError("%r is not a number" % value) from None
    if solr_type == "pdate":
        return solr_date(text, naive_tz)
    if solr_type == "boolean":  # what Django's BooleanField reads as one (Solr: "yes" is false)
        if text.lower() in ("t", "true", "1", "f", "false", "0"):
            return text.lower() in ("t", "true", "1")
        raise ValueError("%r is not a boolean" % value)
    raise ValueError("%r is not a value of a %s field" % (value, solr_type))


def resolve(row, path):
    """``"owner.username"`` on an object or a dict; None anywhere on the way -> None."""
    if isinstance(row, dict) and path in row:  # flat rows keyed by the whole path
        return row[path]
    value = row
    for part in path.split("."):
        if value is None:
            return None
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
    return value


class Field:
    """A value copied from a row attribute (dotted path), or computed by ``fn(row)``.

    ``depends`` names the paths a computed field reads (``fn=..., depends=["owner.email"]``):
    with the copied paths, they tell the integration which related rows' changes re-index a
    document (``Document.reads``).

    ``flat_expr()`` is ``value()`` as a Python expression over a *flat row* ``row`` -- a dict keyed
    by the whole paths, as ``DjangoSource`` reads rows for a reindex. ``Document.build`` compiles
    these into one function per document class (a field computed by ``fn``, or whose class
    overrides ``value`` but not ``flat_expr``, is called instead). A path missing from the row
    raises KeyError there, and the general path walks it."""

    solr_type = None  # the Solr type of what it reads, once the document is ``typed``
    many = False      # ... and whether that is a list of values (an ArrayField)

    def __init__(self, source=None, fn=None, depends=()):
        self.source, self.fn, self.name = source, fn, None
        self.depends = tuple(depends)

    def __set_name__(self, owner, name):
        self.name = name
        if self.source is None and self.fn is None:
            self.source = name

    def raw(self, row):
        if self.fn is not None:
            return self.fn(row)
        if type(row) is dict and self.source in row:  # the reindex's rows: one lookup, no walk
            return row[self.source]
        return resolve(row, self.source)

    def value(self, row, doc):
        if self.many:
            return _values(self.raw(row), self.solr_type, doc.naive_tz)
        return solr_value(self.raw(row), self.solr_type, doc.naive_tz)

    def flat_expr(self):
        if self.many:
            return "_values(row[%r], %r, doc.naive_tz)" % (self.source, self.solr_type)
        if self.solr_type is None or self.solr_type in _TEXT_TYPES:  # text, the common case: one call
            return "(clean_text(v) if type(v := row[%r]) is str else solr_value(v, %r, doc.naive_tz))" % (
                self.source, self.solr_type)
        return "solr_value(row[%r], %r, doc.naive_tz)" % (self.source, self.solr_type)

    def reads(self):
        """The dotted paths this field reads from a row."""
        return self.depends + (() if self.fn is not None or self.source is None else (self.source,))


class Text(Field):
    def value(self, row, doc):
        return clean_text(self.raw(row))

    def flat_expr(self):
        return "clean_text(row[%r])" % self.source


class Date(Field):
    def value(self, row, doc):
        return solr_date(self.raw(row), naive_tz=doc.naive_tz)

    def flat_expr(self):
        return "solr_date(row[%r], doc.naive_tz)" % self.source


class Multi(Field):
    """A many-valued field: a list, or a related manager (``.all()``), optionally mapped by ``attr``."""

    def __init__(self, source=None, attr=None, fn=None, depends=()):
        super().__init__(source, fn, depends)
        self.attr = attr

    def __set_name__(self, owner, name):
        super().__set_name__(owner, name)
        # a dict row may carry the mapped values themselves under "source.attr" (DjangoSource does)
        self.values_key = "%s.%s" % (self.source, self.attr) if self.attr else self.source

    def value(self, row, doc):
        if type(row) is dict and self.fn is None and self.values_key in row:
            return _distinct(row[self.values_key], None, self.solr_type, doc.naive_tz)
        return _distinct(self.raw(row), self.attr, self.solr_type, doc.naive_tz)

    def flat_expr(self):
        return "_distinct(row[%r], None, %r, doc.naive_tz)" % (self.values_key, self.solr_type)

    def reads(self):
        return self.depends + (() if self.fn is not None else (self.values_key,))


def _distinct(items, attr, solr_type=None, naive_tz=UTC):
    """Values of a list or related manager in Solr's form (``solr_value``), each once, in order;
    none -> None."""
    if items is None:
        return None
    if hasattr(items, "all") and callable(items.all):
        items = items.all()
    out = []
    text = solr_type is None or solr_type in _TEXT_TYPES
    for item in items:
        v = resolve(item, attr) if attr else item
        v = clean_text(v) if text and type(v) is str else solr_value(v, solr_type, naive_tz)
        if v is not None and v not in out:
            out.append(v)
    return out or None


def _values(items, solr_type, naive_tz):
    """A list field's values (an ArrayField) in Solr's form, in order, repeats kept; none -> None."""
    if items is None:
        return None
    if not isinstance(items, (list, tuple)):
        items = [items]
    out = [solr_value(v, solr_type, naive_tz) for v in items]
    return [v for v in out if v is not None] or None


class BBox(Field):
    """An envelope from four row attributes (x0, x1, y0, y1), or from one: a geometry's extent
    (``BBox("bbox_polygon")``). The engine never reads a geometry itself: the integration hands
    the document an ``extent(value)`` -> (x0, x1, y0, y1) in WGS84 (``Document.typed``; Django's
    reprojects from the geometry's SRID), and the four numbers meet the same repairs and drops."""

    def __init__(self, x0, x1=None, y0=None, y1=None):
        super().__init__(source=x0)
        given = (x1, y0, y1)
        if all(p is None for p in given):
            self.paths = (x0,)
        elif any(p is None for p in given):
            raise TypeError("BBox takes four paths (x0, x1, y0, y1) or one (a geometry)")
        else:
            self.paths = (x0, x1, y0, y1)

    def value(self, row, doc):
        if len(self.paths) == 1:
            return envelope(*doc.extent(self.raw(row)))
        if type(row) is dict and self.paths[0] in row:
            x0, x1, y0, y1 = self.paths
            return envelope(row[x0], row[x1], row[y0], row[y1])
        return envelope(*(resolve(row, p) for p in self.paths))

    def flat_expr(self):
        if len(self.paths) == 1:
            return "envelope(*doc.extent(row[%r]))" % self.paths
        return "envelope(row[%r], row[%r], row[%r], row[%r])" % self.paths

    def reads(self):
        return self.depends + self.paths


def _flat(field):
    """Does ``field.flat_expr()`` say what its ``value()`` does?"""
    def owner(attr):
        return next(k for k in type(field).__mro__ if attr in k.__dict__)
    return field.fn is None and owner("value") is owner("flat_expr")


class Document:
    """Base for declarative documents; subclasses list Field attributes in Solr field order."""

    id = Field("pk")
    naive_tz = UTC  # how naive datetimes are read; fields get the document as ``doc`` to ask

    @staticmethod
    def extent(value):
        """What a one-path ``BBox`` reads -> (x0, x1, y0, y1): four numbers as they are; a geometry
        only through the integration's ``extent`` (see ``typed``), which knows its library."""
        if value is None:
            return None, None, None, None
        if isinstance(value, (tuple, list)) and len(value) == 4:
            return tuple(value)
        raise InvalidBBox("%s is not four numbers (a geometry needs its integration's extent)" % type(value).__name__)

    @classmethod
    def fields(cls):
        cached = cls.__dict__.get("_fields_cache")
        if cached is not None:
            return cached
        found = {}
        for klass in reversed(cls.__mro__):  # a subclass's field replaces its base's, in place
            for name, attr in vars(klass).items():
                if isinstance(attr, Field):
                    found[name] = attr
        cls._fields_cache = list(found.items())
        return cls._fields_cache

    @classmethod
    def reads(cls):
        """Every dotted path the document reads (``category.identifier``, ``keywords.name``): the
        integration follows these to the related rows whose changes must re-index it."""
        return tuple(dict.fromkeys(path for _, f in cls.fields() for path in f.reads()))

    @classmethod
    def typed(cls, solr_field, extent=None):
        """This class with each copied field (``Field``, ``Multi``; not computed ones) told the Solr
        type of what it reads, ``solr_field(path)`` -> (type, multiValued) or None, as the source
        knows its model (the generated configset maps the same way): its documents then hold each
        value in the form that type stores and gives back (a date in pdate form, a Decimal as a
        double, an integer beyond a pint's range dropped, not wrapped). ``extent(geometry)`` ->
        (x0, x1, y0, y1): how a one-path ``BBox`` reads a geometry. Cached per arguments."""
        cache = cls.__dict__.get("_typed")
        if cache is None:
            cache = cls._typed = {}
        key = (solr_field, extent)
        if key not in cache:
            attrs = {"extent": staticmethod(extent)} if extent is not None else {}
            for name, f in cls.fields():
                if name == "id" or f.fn is not None or type(f).value not in (Field.value, Multi.value):
                    continue
                found = solr_field(f.values_key if isinstance(f, Multi) else f.source)
                if not found:
                    continue
                attrs[name] = copy.copy(f)
                attrs[name].solr_type, many = found
                attrs[name].many = bool(many) and not isinstance(f, Multi)
            cache[key] = type(cls.__name__, (cls,), attrs) if attrs else cls
        return cache[key]

    @classmethod
    def doc_id(cls, row):
        """The id exactly as the row has it, never cleaned: a delete must name what was indexed
        (an id that cleaning would change is refused, see sync.build_documents)."""
        value = cls.id.raw(row)
        return None if value is None else str(value)

    @classmethod
    def build(cls, row):
        """-> (document dict, [warning, ...]); a field that fails is left out with a warning."""
        if type(row) is dict:
            build_flat = cls.__dict__.get("_build_flat") or cls._compile_flat()
            try:
                return build_flat(row)
            except KeyError:
                pass  # not a flat row after all: walk the paths
        return cls.build_general(row)

    @classmethod
    def build_general(cls, row):
        """``build`` for any row (model instance, nested dict), field by field through ``value``."""
        out, warnings = {}, []
        for name, f in cls.fields():
            try:
                value = f.raw(row) if name == "id" else f.value(row, cls)  # the id as it is: see doc_id
            except (InvalidBBox, ValueError) as exc:
                warnings.append("%s: %s" % (name, exc))
                continue
            if value is None or (not value and type(value) in (str, list)):  # 0 and False are values
                continue
            out[name] = value
        if "id" in out:
            out["id"] = str(out["id"])
        return out, warnings

    @classmethod
    def _compile_flat(cls):
        """``build`` for flat rows as one generated function, the loop above unrolled: a reindex
        builds hundreds of thousands of documents and the loop's dispatch was a third of the cost
        (dataclasses generate their methods the same way)."""
        lines = ["def build_flat(row):", "    out, warnings = {}, []"]
        scope = {"doc": cls, "InvalidBBox": InvalidBBox, "clean_text": clean_text, "_clean_any": _clean_any,
                 "solr_date": solr_date, "envelope": envelope, "_distinct": _distinct, "solr_value": solr_value,
                 "_values": _values}
        for i, (name, f) in enumerate(cls.fields()):
            scope["f%d" % i] = f
            lines += ["    try:",
                      "        value = %s" % ("f%d.raw(row)" % i if name == "id" else f.flat_expr() if _flat(f)
                                            else "f%d.value(row, doc)" % i),
                      "    except (InvalidBBox, ValueError) as exc:",
                      "        warnings.append(%r %% exc)" % (name + ": %s"),
                      "    else:",
                      "        if value is not None and (value or type(value) not in (str, list)):",
                      "            out[%r] = %s" % (name, "str(value)" if name == "id" else "value")]
        lines.append("    return out, warnings")
        exec("\n".join(lines), scope)
        cls._build_flat = scope["build_flat"]
        return cls._build_flat
