"""The Solr sink: one pysolr client (one pooled HTTP session) per core, errors classified.

* ``SolrUnavailable``: connection refused, timeout, 5xx, a missing core -- retry later.
* a 400 caused by one document is found (Solr names it, ``[doc=ID]``; otherwise by halving the
  batch) and reported as rejected; the rest of the batch is indexed.
"""
import logging
import re
from urllib.parse import urlsplit, urlunsplit

import orjson
import pysolr
import requests

from .config import mask

log = logging.getLogger("solrsync.sink")
_STATUS = re.compile(r"\(HTTP (\d{3})\)")
_DOC = re.compile(r"\[doc=([^\]]*)\]")
_REASON = re.compile(r"\[Reason: (.*)\]\s*$", re.S)


def to_json(value):
    """The JSON Solr is sent: orjson, ~8x faster than the json module (a reindex encodes every
    document), as str (pysolr logs a repr of a bytes body, a copy of it all)."""
    return orjson.dumps(value).decode()


class SolrUnavailable(Exception):
    """Solr could not take the request now; nothing was lost, try again."""


class SolrRequestError(Exception):
    """Solr refused the request itself (4xx other than a single bad document)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status

    def __reduce__(self):  # raised in a reindex worker process, re-raised in its parent
        return type(self), (self.status, str(self))


class Rejected:
    """A document Solr refused, with Solr's own message."""
    __slots__ = ("doc_id", "message")

    def __init__(self, doc_id, message):
        self.doc_id, self.message = doc_id, message

    def __repr__(self):
        return "Rejected(%r, %r)" % (self.doc_id, self.message)

    def __reduce__(self):
        return Rejected, (self.doc_id, self.message)


def classify(exc, url):
    """pysolr/requests exception -> SolrUnavailable or SolrRequestError (message without secrets)."""
    text = str(exc)
    m = _STATUS.search(text)
    status = int(m.group(1)) if m else None
    reason = _REASON.search(text)
    reason = reason.group(1).strip() if reason else text
    where = mask(url)
    if status is None:
        return SolrUnavailable("Solr at %s unreachable: %s" % (where, _short(text.replace(url, where))))
    if status >= 500 or status in (404, 408, 429):
        return SolrUnavailable("Solr at %s answered %d: %s" % (where, status, _short(reason)))
    return SolrRequestError(status, reason)


def _short(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


class SolrSink:
    def __init__(self, core_url, timeout=10.0, commit_within_ms=1500, verify=True, session=None, auth=None):
        parts = urlsplit(core_url.rstrip("/"))
        if parts.username and auth is None:  # credentials travel as auth, never inside a logged URL
            auth = (parts.username, parts.password or "")
        netloc = parts.hostname + (":%d" % parts.port if parts.port else "")
        self.url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        self.commit_within_ms = commit_within_ms
        session = session or requests.Session()
        session.verify = verify
        session.auth = auth
        self.client = pysolr.Solr(self.url, timeout=timeout, session=session, always_commit=False)

    def __repr__(self):
        return "SolrSink(%s)" % mask(self.url)

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (pysolr.SolrError, requests.RequestException) as exc:
            raise classify(exc, self.url) from None

    def _post(self, message, commit=False):
        params = {"commit": True} if commit else {"commitWithin": self.commit_within_ms}
        return self._call(self.client._update, message, solrapi="JSON", clean_ctrl_chars=False, **params)

    def add_batch(self, docs, commit=False):
        """Index ``docs`` in one request; -> [Rejected] for the documents Solr refused."""
        docs = list(docs)
        if not docs:
            return []
        rejected = []
        pending = docs
        while pending:
            try:
                self._post(to_json(pending), commit=commit)
                return rejected
            except SolrRequestError as exc:
                if exc.status != 400:
                    raise
                bad_id = _DOC.search(str(exc))
                if bad_id and any(d.get("id") == bad_id.group(1) for d in pending):
                    rejected.append(Rejected(bad_id.group(1), str(exc)))
                    pending = [d for d in pending if d.get("id") != bad_id.group(1)]
                    continue
                if len(pending) == 1:
                    rejected.append(Rejected(pending[0].get("id"), str(exc)))
                    return rejected
                half = len(pending) // 2
                rejected.extend(self.add_batch(pending[:half], commit=commit))
                pending = pending[half:]
        return rejected

    def delete_ids(self, ids, commit=False):
        """Delete by id in one JSON request (pysolr's own delete is XML and drops falsy ids)."""
        ids = [str(i) for i in ids if i is not None and str(i) != ""]
        if ids:
            self._post(to_json({"delete": ids}), commit=commit)
        return len(ids)

    def delete_query(self, q, commit=False):
        self._post(to_json({"delete": {"query": q}}), commit=commit)

    def commit(self):
        self._post(to_json({"commit": {}}), commit=True)

    def ping(self):
        self._call(self.client.ping)
        return True

    def count(self, q="*:*", **params):
        return self._call(self.client.search, q, rows=0, **params).hits

    def search(self, q="*:*", **params):
        return self._call(self.client.search, q, **params)

    def iter_ids(self, q="*:*", rows=1000):
        """Every id matching ``q``, by cursorMark (stable while the index changes)."""
        cursor = "*"
        while True:
            res = self._call(self.client.search, q, fl="id", sort="id asc", rows=rows, cursorMark=cursor)
            for doc in res.docs:
                yield doc["id"]
            if res.nextCursorMark in (None, cursor):
                return
            cursor = res.nextCursorMark
