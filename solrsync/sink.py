"""The Solr sink: one pysolr client (one pooled HTTP session) per core, errors classified.

* ``SolrUnavailable``: connection refused, timeout, 5xx, a missing core -- retry later.
* a 400 caused by one document is found (Solr names it, ``[doc=ID]``; otherwise by halving the
  batch) and reported as rejected; the rest of the batch is indexed. So is a document that
  cannot be encoded as JSON at all. SolrCloud names neither the document nor the reason when
  another shard's leader refused it (only that leader's URL): the isolated document is sent to
  that leader, whose answer gives the reason the failure record keeps.

On SolrCloud each shard's documents go to that shard's leader (leaders.py says why: a node that
forwards them to a leader that refuses them answers 200 all the same).

Versioned writes: every add carries ``solrsync_version`` and every delete the same number as a
request parameter; the shipped configset's DocBasedVersionConstraintsProcessor keeps, per id,
only the highest version and leaves a tombstone for a delete, so a request that lands late (a
timeout Solr executed anyway, a reindex chunk, another worker's retry) can never put an older
state back. Its ``/select`` handler filters tombstones out (``solrsync_live:true``).
"""
import logging
import re
import threading
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
import pysolr
import requests

from .config import mask, netloc
from .leaders import ROUTE_TTL, NoLeader, leaders_from

log = logging.getLogger("solrsync.sink")
_STATUS = re.compile(r"\(HTTP (\d{3})\)")
_DOC = re.compile(r"\[doc=([^\]]*)\]")
_REASON = re.compile(r"\[Reason: (.*)\]\s*$", re.S)
_FORWARDED = re.compile(r"request: (https?://\S+?)/update\?update\.distrib=TOLEADER")


VERSION_FIELD = "solrsync_version"
LIVE_FIELD = "solrsync_live"
OWNER_FIELD = "solrsync_pipeline"  # which pipeline wrote the document: pipelines may share a core
_local_clock = {"last": 0, "lock": threading.Lock()}


def local_version(count=1):
    """A version from this process's clock, in microseconds, kept increasing: for writes with no
    version from the shared clock (a database other than PostgreSQL and SQLite, no change log,
    the sink used on its own) -- it orders the writes of one host only. ``count``: that many
    taken, the first returned."""
    with _local_clock["lock"]:
        _local_clock["last"] = max(_local_clock["last"] + count, time.time_ns() // 1000 + count - 1)
        return _local_clock["last"] - count + 1


def to_json(value):
    """The JSON Solr is sent: orjson, ~8x faster than the json module (a reindex encodes every
    document), as str (pysolr logs a repr of a bytes body, a copy of it all)."""
    return orjson.dumps(value).decode()


class SolrUnavailable(Exception):
    """Solr could not take the request now; nothing was lost, try again. ``status``: Solr's HTTP
    status, None when it did not answer."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status

    def __reduce__(self):
        return type(self), (str(self), self.status)


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
        return SolrUnavailable("Solr at %s answered %d: %s" % (where, status, _short(reason)), status)
    return SolrRequestError(status, reason)


UNVERSIONED = ("the core has no %s field (made from a configset older than solrsync 0.2): writes are not "
               "ordered by version, so a late request can put an older state back; update the configset and "
               "rebuild with `solrsync reindex --swap`" % VERSION_FIELD)


def about_versions(exc):
    """Did Solr refuse a write over versions -- "Doc does not have versionField", "Delete by ID must
    specify doc version param", "null versionField", an unknown field solrsync_version -- so that
    the core behind the name may not be the one we think?"""
    text = str(exc)
    return VERSION_FIELD in text or "versionField" in text or "version param" in text


def _encoding_error(doc):
    """Why ``doc`` has no JSON form, or None."""
    try:
        to_json(doc)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _short(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


class SolrSink:
    def __init__(self, core_url, timeout=10.0, commit_within_ms=1500, verify=True, session=None, auth=None,
                 metrics=None, pipeline=None):
        parts = urlsplit(core_url.rstrip("/"))
        if parts.username and auth is None:  # credentials travel as auth, never inside a logged URL
            auth = (parts.username, parts.password or "")
        self.url = urlunsplit((parts.scheme, netloc(parts), parts.path, parts.query, ""))
        self.commit_within_ms = commit_within_ms
        session = session or requests.Session()
        session.verify = verify
        session.auth = auth
        self.client = pysolr.Solr(self.url, timeout=timeout, session=session, always_commit=False)
        self._fields = None
        self._node_url = self.url.rpartition("/")[0]  # .../solr: where CLUSTERSTATUS is asked
        self._cloud = None    # None: not asked yet; False: not SolrCloud; True
        self._routes = None   # leaders.Leaders of the collection written to, while fresh
        self._route_alias = False  # the name is an alias: its collection is looked up before every write
        self._leader_clients = {}  # a leader's core URL -> its pysolr client (the same session)
        self.pipeline = pipeline  # stamped on every document in OWNER_FIELD, where the core has it
        self.metrics = metrics  # a metrics.SinkMetrics: every request is timed and counted there

    def _schema(self):
        """The core's field names, asked once (the Schema API) and again when a write says the
        core changed under us (``reread``)."""
        if self._fields is None:
            fields = orjson.loads(self._call(self.client._send_request, "get", "schema/fields?wt=json"))
            self._fields = {f.get("name") for f in fields.get("fields", ())}
            if VERSION_FIELD not in self._fields:
                log.warning("%s: %s", mask(self.url), UNVERSIONED)
        return self._fields

    @property
    def versioned(self):
        """Does this core order writes by ``solrsync_version``? A core made from an older configset
        says no, and is written to without versions (with a warning)."""
        return VERSION_FIELD in self._schema()

    @property
    def owned(self):
        """Does this core say which pipeline wrote each document (OWNER_FIELD)?"""
        return OWNER_FIELD in self._schema()

    def forget(self):
        """Forget what the core was: a swap may have put another one behind its name."""
        self._fields = None
        self._routes = None

    def _leaders(self):
        """The shard leaders to send documents to (leaders.py), or None when the name is not a
        SolrCloud collection or alias. An alias is looked up before every write (another process's
        swap may re-point it at any time), a collection's leaders are kept ROUTE_TTL seconds and
        forgotten after any failed write."""
        if self._cloud is False:
            return None
        routes = self._routes
        if routes is not None and not self._route_alias and time.monotonic() - routes.fetched < ROUTE_TTL:
            return routes
        # asked with requests itself: pysolr logs an ERROR for the 400 a standalone Solr answers
        resp = self._call(self.client.session.get, self._node_url + "/admin/collections",
                          params={"action": "CLUSTERSTATUS", "wt": "json"}, timeout=self.client.timeout)
        if resp.status_code in (400, 404):  # "not running in SolrCloud mode", or no Collections API at all
            self._cloud = False
            return None
        if resp.status_code != 200:
            raise SolrUnavailable("Solr at %s answered %d to CLUSTERSTATUS: %s" % (
                mask(self._node_url), resp.status_code, _short(resp.text)), resp.status_code)
        try:
            answer = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise SolrUnavailable("Solr at %s answered CLUSTERSTATUS with no JSON: %s" % (
                mask(self._node_url), _short(resp.text))) from None
        self._cloud = True
        self._routes, self._route_alias = leaders_from(answer.get("cluster") or {}, self.url.rpartition("/")[2],
                                                       urlsplit(self.url).scheme)
        return self._routes

    def _leader_client(self, url):
        client = self._leader_clients.get(url)
        if client is None:
            client = self._leader_clients[url] = pysolr.Solr(url, timeout=self.client.timeout,
                                                             session=self.client.session, always_commit=False)
        return client

    def _routed(self, items, key, send):
        """``send(items, client)`` once, or once per shard leader on SolrCloud, each with that shard's
        items; a shard without a leader, or a leader that fails, leaves the write undone
        (SolrUnavailable) and its leaders are looked up again next time."""
        try:
            leaders = self._leaders()
            if leaders is None:
                return send(items, self.client)
            for url, part in leaders.group(items, key).items():
                send(part, self._leader_client(url))
        except NoLeader as exc:
            self._routes = None
            raise SolrUnavailable("%s: %s; the change stays pending" % (mask(self.url), exc)) from None
        except (SolrUnavailable, SolrRequestError):
            self._routes = None
            raise

    def reread(self):
        self.forget()
        return self.versioned

    def __repr__(self):
        return "SolrSink(%s)" % mask(self.url)

    def _call(self, fn, *args, **kwargs):
        """Every request to Solr goes through here (and updates through ``_post``): the one place
        they are timed and their errors counted."""
        started, error = time.perf_counter(), None
        try:
            return fn(*args, **kwargs)
        except (pysolr.SolrError, requests.RequestException) as exc:
            error = classify(exc, self.url)
            raise error from None
        finally:
            if self.metrics is not None:
                self.metrics.request(time.perf_counter() - started, error)

    def _post(self, message, commit=False, adds=0, deletes=0, fence=None, version=None, client=None, **params):
        """POST a JSON update (pysolr's own _update takes no other request parameter); ``adds`` and
        ``deletes``: the documents it carries, counted once Solr took them. ``fence(version)``, the
        lease the write is made under (lease.Lease), is checked first: a holder whose lease is gone,
        or a request older than a lease, sends nothing (LeaseLost)."""
        if fence is not None:
            fence(version)
        params.update({"commit": "true"} if commit else {"commitWithin": int(self.commit_within_ms)})
        path = "update/?" + urlencode(params)
        out = self._call((client or self.client)._send_request, "post", path, message,
                         {"Content-type": "application/json; charset=utf-8"})
        if self.metrics is not None:
            self.metrics.wrote(adds, deletes)
        return out

    def _versions_checked(self, write):
        """Run ``write()``; when Solr refuses it over versions (a 400 naming the version field or
        parameter, a 5xx "null versionField") the core may have changed under us (a swap to a core
        of another configset): read the schema again and, if versioning changed, write again.
        Otherwise the write stays undone -- SolrUnavailable, so its changes stay pending -- and is
        never filed as a document Solr refused."""
        try:
            return write()
        except (SolrRequestError, SolrUnavailable) as exc:
            if not about_versions(exc):
                raise
            before = VERSION_FIELD in (self._fields or ())
            if self.reread() == before:
                raise SolrUnavailable("%s refused a write over its versions (%s); the change stays pending until "
                                      "the core takes it" % (mask(self.url), _short(exc)),
                                      getattr(exc, "status", None)) from None
            log.warning("%s: the core %s versioned writes now (a swap?); writing again", mask(self.url),
                        "has" if not before else "has no")
            return write()

    def add_batch(self, docs, commit=False, version=None, fence=None):
        """Index ``docs`` in one request, each stamped with ``version`` when the core is versioned
        (and with the pipeline when it says who wrote what); -> [Rejected] for the documents Solr
        refused or that cannot be encoded. ``fence``: see ``_post``."""
        docs = list(docs)
        if not docs:
            return []
        version = version or local_version()
        return self._versions_checked(lambda: self._add_batch(docs, commit, version, fence))

    def _add_batch(self, docs, commit, version, fence):
        versioned, owner = self.versioned, self.pipeline if self.owned else None
        for doc in docs:
            if versioned:
                doc[VERSION_FIELD] = version
            else:
                doc.pop(VERSION_FIELD, None)
            if owner:
                doc[OWNER_FIELD] = owner
            else:
                doc.pop(OWNER_FIELD, None)
        rejected = []
        pending = docs
        while pending:
            try:
                body = to_json(pending)
            except (TypeError, ValueError):  # a value JSON has no form for (bytes from a BLOB, ...)
                errors = [_encoding_error(d) for d in pending]
                rejected.extend(Rejected(d.get("id"), "cannot be encoded as JSON: %s" % e)
                                for d, e in zip(pending, errors) if e)
                pending = [d for d, e in zip(pending, errors) if not e]
                continue
            try:
                whole = pending

                def send(part, client):
                    self._post(body if len(part) == len(whole) else to_json(part), commit=commit, adds=len(part),
                               fence=fence, version=version, client=client)
                self._routed(pending, lambda d: d.get("id"), send)
                return rejected
            except SolrRequestError as exc:
                if exc.status != 400 or about_versions(exc):
                    raise
                bad_id = _DOC.search(str(exc))
                if bad_id and any(d.get("id") == bad_id.group(1) for d in pending):
                    rejected.append(Rejected(bad_id.group(1), str(exc)))
                    pending = [d for d in pending if d.get("id") != bad_id.group(1)]
                    continue
                if len(pending) == 1:
                    reason = self._leader_reason(pending[0], exc, commit, fence, version)
                    if reason is not None:
                        rejected.append(Rejected(pending[0].get("id"), reason))
                    return rejected
                half = len(pending) // 2
                rejected.extend(self._add_batch(pending[:half], commit, version, fence))
                pending = pending[half:]
        return rejected

    def _leader_reason(self, doc, exc, commit, fence=None, version=None):
        """Solr's reason for refusing ``doc``: the error, or on SolrCloud when it says only which shard
        leader refused, that leader's own answer to it (None if the leader takes it after all)."""
        leader = _FORWARDED.search(str(exc))
        if leader is None:
            return str(exc)
        leader_sink = SolrSink(leader.group(1), timeout=self.client.timeout, commit_within_ms=self.commit_within_ms,
                               session=self.client.session)
        leader_sink._fields = self._fields
        try:
            leader_sink._post(to_json([doc]), commit=commit, fence=fence, version=version)
        except SolrRequestError as again:
            return str(again)
        except SolrUnavailable:
            return str(exc)
        return None

    def delete_ids(self, ids, commit=False, version=None, fence=None):
        """Delete by id in one JSON request (pysolr's own delete is XML and drops falsy ids); on a
        versioned core the delete carries ``version`` and leaves a tombstone at it. ``fence``: see
        ``_post``."""
        ids = [str(i) for i in ids if i is not None and str(i) != ""]
        if ids:
            version = version or local_version()

            def write():
                params = {VERSION_FIELD: version} if self.versioned else {}
                self._routed(ids, str, lambda part, client: self._post(
                    to_json({"delete": part}), commit=commit, deletes=len(part), fence=fence, version=version,
                    client=client, **params))
            self._versions_checked(write)
        return len(ids)

    def purge_tombstones(self, before_version):
        """Remove the tombstones of deletes older than ``before_version`` (a delete by query passes
        the version processor unchecked): no write that old can still be in flight."""
        if self.versioned:
            self._post(to_json({"delete": {"query": "+%s:[* TO %d] -%s:true" % (
                VERSION_FIELD, before_version - 1, LIVE_FIELD)}}))

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

    def get_docs(self, ids, fl="*"):
        """{id: stored document} for those of ``ids`` Solr has (live ones: ``/select`` leaves
        tombstones out), a few hundred per request (maxBooleanClauses is 1024)."""
        ids = list(ids)
        out = {}
        for i in range(0, len(ids), 500):
            page = ids[i:i + 500]
            q = "id:(%s)" % " OR ".join('"%s"' % v.replace("\\", "\\\\").replace('"', '\\"') for v in page)
            for doc in self._call(self.client.search, q, fl=fl, rows=len(page)).docs:
                out[doc["id"]] = doc
        return out

    def iter_ids(self, q="*:*", rows=1000, fq=None):
        """Every id matching ``q`` (and the filter ``fq``), by cursorMark (stable while the index changes)."""
        cursor = "*"
        params = {"fq": fq} if fq else {}
        while True:
            res = self._call(self.client.search, q, fl="id", sort="id asc", rows=rows, cursorMark=cursor, **params)
            for doc in res.docs:
                yield doc["id"]
            if res.nextCursorMark in (None, cursor):
                return
            cursor = res.nextCursorMark
