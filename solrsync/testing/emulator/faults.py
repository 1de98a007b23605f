"""Fault injection (error statuses, latency, dropped connections) and the /solr/_emulator control
endpoints that set faults and read the counters."""
import json
import threading
import time
from urllib.parse import parse_qs

from .schema import SolrHTTPError, bad_request


class Faults:
    """Fault injection: error statuses, latency, dropped connections; each for N requests or S seconds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self._fail = None    # (status, until, remaining)
        self._drop = None    # (until, remaining)
        self.latency = 0.0
        released = getattr(self, "hung", None)
        self.hung = None     # an Event requests wait on: a node that does not answer (a paused process)
        if released is not None:
            released.set()

    def hang(self):
        """Requests arriving from now on get no answer until ``release()`` (or ``clear()``), as from a
        paused process: the connection is accepted, nothing comes back."""
        self.hung = threading.Event()

    def release(self):
        hung, self.hung = self.hung, None
        if hung is not None:
            hung.set()

    def fail(self, status=503, seconds=None, count=None):
        self._fail = (status, _until(seconds), count)

    def drop(self, seconds=None, count=None):
        self._drop = (_until(seconds), count)

    def delay(self, seconds):
        self.latency = float(seconds)

    def take(self):
        """-> ("drop", None) | ("fail", status) | None for the request now arriving."""
        with self.lock:
            if self._drop and _active(self._drop[0], self._drop[1]):
                until, count = self._drop
                self._drop = (until, None if count is None else count - 1)
                return ("drop", None)
            if self._fail and _active(self._fail[1], self._fail[2]):
                status, until, count = self._fail
                self._fail = (status, until, None if count is None else count - 1)
                return ("fail", status)
        return None


def _until(seconds):
    return None if seconds is None else time.monotonic() + seconds


def _active(until, count):
    if count is not None and count <= 0:
        return False
    return until is None or time.monotonic() < until


def control(emu, rest, body):
    """POST /solr/_emulator/faults {"fail": {"status": 503, "seconds": 5}} (or the form
    status=503&seconds=5); GET /solr/_emulator/stats; GET /solr/_emulator/updates (with
    record_updates)"""
    if rest == ["stats"]:
        return {"stats": dict(emu.stats)}
    if rest == ["updates"]:
        if not emu.record_updates:
            raise bad_request("updates: the emulator was started without --record-updates")
        with emu.lock:
            return {"updates": list(emu.updates)}
    if rest == ["faults"]:
        # JSON whatever the Content-Type says (curl -d sends JSON as a form), or a form; anything
        # else is refused rather than silently doing nothing.
        spec = _fault_spec(body)
        try:
            if spec.get("clear"):
                emu.faults.clear()
            if "fail" in spec:
                emu.faults.fail(**spec["fail"])
            if "drop" in spec:
                emu.faults.drop(**spec["drop"])
            if "delay" in spec:
                emu.faults.delay(spec["delay"])
        except (TypeError, ValueError) as exc:
            raise bad_request("faults: %s" % exc)
        return {}
    raise SolrHTTPError(404, "Not Found")


_FAULT_FORM = {"status": int, "seconds": float, "count": int, "delay": float, "drop": bool, "clear": bool}


def _fault_spec(body):
    """The body of POST /_emulator/faults -> {"clear"|"fail"|"drop"|"delay": ...}; 400 naming the
    accepted forms for anything else. The form (``status=503&seconds=5``) fails requests with
    ``status``, or with ``drop=true`` drops them, for ``seconds`` and/or ``count``; ``delay=S``
    adds latency, ``clear=true`` ends every fault."""
    text = body.decode("utf-8", "replace").strip()
    wanted = ('faults: the body must be a JSON object with any of "clear", "fail", "drop", "delay", e.g. '
              '{"fail": {"status": 503, "seconds": 2}}, or a form of %s, e.g. status=503&seconds=2; got %r'
              % (", ".join(_FAULT_FORM), text[:200]))
    if text[:1] in ("{", "[", '"') or not text:
        try:
            spec = json.loads(text or "{}")
        except ValueError:
            spec = None
        if not isinstance(spec, dict) or not spec or set(spec) - {"clear", "fail", "drop", "delay"}:
            raise bad_request(wanted)
        return spec
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise bad_request(wanted)
    if set(form) - set(_FAULT_FORM) or any(len(v) > 1 for v in form.values()):
        raise bad_request(wanted)
    values = {}
    for key, (raw,) in form.items():
        if _FAULT_FORM[key] is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise bad_request("faults: %s=%s is not true or false" % (key, raw))
            values[key] = raw.lower() in ("true", "1")
            continue
        try:
            values[key] = _FAULT_FORM[key](raw)
        except ValueError:
            raise bad_request("faults: %s=%s is not a number" % (key, raw))
    spec = {}
    if values.pop("clear", False):
        spec["clear"] = True
    if "delay" in values:
        spec["delay"] = values.pop("delay")
    window = {k: values.pop(k) for k in ("seconds", "count") if k in values}
    if values.pop("drop", False):
        if "status" in values:
            raise bad_request("faults: drop and status exclude each other (a dropped request has no status)")
        spec["drop"] = window
    elif "status" in values or window:
        spec["fail"] = dict(window, status=values.pop("status", 503))
    if not spec:
        raise bad_request(wanted)
    return spec
