"""The HTTP side: a threading server, and the handler that applies faults, routes each request
(CoreAdmin, a core's handlers, SolrCloud's node APIs, the control endpoints) and writes the answer."""
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .coreadmin import core_admin
from .faults import control
from .errors import not_emulated
from .schema import SolrHTTPError, bad_request
from .schema_api import schema_api
from .search import realtime_get
from .updates import update
from .writers import WRITERS, write


# Solr's implicit request handlers the emulator does not answer (400 "not emulated", not a 404)
IMPLICIT_HANDLERS = {"admin/luke", "analysis/field", "analysis/document", "update/csv", "update/extract",
                     "admin/mbeans", "admin/plugins", "admin/file", "admin/segments", "admin/system",
                     "admin/properties", "admin/threads", "admin/logging", "config", "debug/dump", "export",
                     "stream", "sql", "graph", "terms", "tvrh", "spell", "mlt", "browse", "suggest", "elevate",
                     "replication", "update/xslt"}


# search components: the default ones, and those that do nothing unless a parameter asks (search.py
# answers "not emulated" to that parameter)
DEFAULT_COMPONENTS = {"query", "facet", "facet_module", "mlt", "highlight", "stats", "debug", "expand", "terms"}
PARAM_COMPONENTS = {"SpellCheckComponent", "TermsComponent", "TermVectorComponent", "ClusteringComponent",
                    "SuggestComponent", "HighlightComponent", "FacetComponent", "QueryComponent", "StatsComponent",
                    "MoreLikeThisComponent", "DebugComponent", "ExpandComponent"}


def free_port():
    """A TCP port free on 127.0.0.1 right now (for the emulator, a consumer, a test server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, emulator, node=0, faults=None):
        """``node``: which SolrCloud node of the emulator this server is (0 when not in cloud mode),
        with its own ``faults``."""
        if ":" in addr[0]:  # an IPv6 address (::1)
            self.address_family = socket.AF_INET6
        self.emulator, self.node = emulator, node
        self.faults = faults if faults is not None else emulator.faults
        self.open_sockets = set()
        super().__init__(addr, Handler)

    def process_request(self, request, client_address):
        self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_all(self):
        for sock in list(self.open_sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server_version = "SolrEmulator"

    def log_message(self, *args):
        pass

    def do_GET(self):
        length = int(self.headers.get("Content-Length") or 0)  # pysolr's SolrCoreAdmin sends its params here
        self._serve(self.rfile.read(length) if length else b"")

    def do_POST(self):
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length else b"", arrived)

    def _serve(self, body, arrived=None):
        emu = self.server.emulator
        self.echo = self.effective = None  # a keep-alive connection serves several requests
        # what an update request did, when emu.record_updates (filled by updates.update)
        self.record = {"added": [], "deleted": []} if emu.record_updates else None
        arrived = arrived or time.time()
        emu.count("requests")
        parts = urlsplit(self.path)
        # the emulator's own endpoints are not Solr's: faults and pauses leave them alone (an
        # injected 503 refused the request clearing it, and a count=1 fault went to a control request)
        faults = None if parts.path.startswith("/solr/_emulator") else self.server.faults
        fault = None
        if faults is not None:
            hung = faults.hung
            if hung is not None:  # a paused node: no answer until released
                hung.wait()
            fault = faults.take()
            if faults.latency:
                time.sleep(faults.latency)
        params = parse_qs(parts.query, keep_blank_values=True)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype == "application/x-www-form-urlencoded" and body and not parts.path.startswith("/solr/_emulator"):
            for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items():
                params.setdefault(k, []).extend(v)
            body = b""
        wt = params.get("wt", [None])[0] or self._default_wt(emu, parts.path, ctype)
        if wt not in WRITERS:
            emu.count("errors")
            return self._reply(400, {"responseHeader": {"status": 400, "QTime": 0}, "error": {
                "msg": "solrsync emulator: the wt=%s response writer is not emulated" % wt, "code": 400}}, "json")
        self.params = params
        if fault:
            emu.count("faults")
            if fault[0] == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            return self._reply(fault[1], {"error": {"msg": "Service Unavailable (injected fault)",
                                                    "code": fault[1]}}, wt)
        started = time.monotonic()
        try:
            status, payload = 200, self._route(emu, parts.path.rstrip("/"), params, body, ctype)
        except SolrHTTPError as exc:
            emu.count("errors")
            status, payload = exc.code, {"error": {"msg": exc.msg, "code": exc.code}}
            if exc.details:
                payload["error"]["details"] = exc.details
        except Exception as exc:  # a bug in the emulator: say so as Solr would, with a 500
            emu.count("errors")
            status, payload = 500, {"error": {"msg": "%s: %s" % (type(exc).__name__, exc), "code": 500}}
        payload = dict(payload)
        if self.record is not None and self.record.get("core"):
            self.record.update(arrived=arrived, ended=time.time(), status=status, client=self.client_address[0],
                               port=self.client_address[1])
            with emu.lock:
                emu.updates.append(self.record)
        header = {"status": 0 if status == 200 else status, "QTime": int((time.monotonic() - started) * 1000)}
        echo = self.params.get("echoParams", [None])[0] or getattr(self, "echo", None)
        if echo in ("explicit", "all"):
            header["params"] = {k: v[0] if len(v) == 1 else v for k, v in
                                (getattr(self, "effective", None) if echo == "all" and getattr(
                                    self, "effective", None) else self.params).items()}
        self._reply(status, dict({"responseHeader": header}, **payload), wt)

    def _default_wt(self, emu, path, ctype):
        """The handler's default wt (its solrconfig defaults), else the version's: 5.x xml, 7 on json
        (the emulator answers an XML update in XML on every version, as it always did)."""
        rest = path[len("/solr/"):].strip("/").split("/") if path.startswith("/solr/") else []
        if rest[:1] == ["_emulator"]:  # the emulator's own endpoints answer JSON
            return "json"
        core = emu.cores.get(rest[0]) if rest else None
        if core is not None and len(rest) > 1:
            for key, value in core.config.handlers.get("/" + "/".join(rest[1:]), {}).get("defaults", ()):
                if key == "wt":
                    return str(value)
        if emu.solr_version.major < 7 or ctype.endswith("xml"):
            return "xml"
        return "json"

    def _reply(self, status, payload, wt):
        data, ctype = write(payload, status, wt, self.server.emulator.solr_version.major,
                            getattr(self, "params", None))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, emu, path, params, body, ctype):
        if not path.startswith("/solr"):
            raise SolrHTTPError(404, "Not Found: %s" % path)
        rest = path[len("/solr"):].strip("/").split("/")
        shard = None
        if emu.cloud is not None:
            answer = emu.cloud.route(rest, params, body)
            if answer is not None:
                return answer
            rest[0], shard = emu.cloud.resolve(rest[0])
        elif rest[:2] in (["admin", "collections"], ["admin", "configs"]):
            raise bad_request("Solr instance is not running in SolrCloud mode.")
        if rest[:2] == ["admin", "cores"]:
            return core_admin(emu, params)
        if rest[:3] == ["admin", "info", "system"]:
            return emu.solr_version.info("std")
        if rest[0] == "_emulator":
            return control(emu, rest[1:], body)
        with emu.lock:
            core = emu.cores.get(rest[0])
        if core is None:
            raise SolrHTTPError(404, "Error processing the request. CoreContainer is either not initialized or "
                                     "shutting down, or core '%s' does not exist." % rest[0])
        handler = "/".join(rest[1:])
        if handler in ("select", "query") and emu.cloud is not None \
                and params.get("distrib", ["true"])[0] != "false":
            emu.cloud.wait_for_nodes(core, self.server.node)  # a distributed query asks every shard
        with core.lock:
            core.tick()
            if handler in ("update", "update/json", "update/json/docs"):
                emu.count("update_requests")
                forward = emu.cloud.forwarding(core, shard, self.server.node) \
                    if emu.cloud and core.name in emu.cloud.collections else None
                return update(emu, core, params, body, ctype, handler == "update/json/docs", forward, self.record)
            declared = core.config.handlers.get("/" + handler, {})
            if handler in ("select", "query") or declared.get("class", "").endswith(".SearchHandler"):
                for name in declared.get("components", ()):
                    cls = core.config.components.get(name, name)
                    if name not in DEFAULT_COMPONENTS and cls not in PARAM_COMPONENTS:
                        raise not_emulated("the search component %s of /%s" % (name, handler))
                emu.count("select_requests")
                searcher = core.searcher() if shard is None or params.get("distrib", ["true"])[0] != "false" \
                    else emu.cloud.shard_searcher(core, shard)
                effective = core.config.handler_params("/" + handler, params)
                self.echo, self.effective = effective.get("echoParams", [None])[0], effective
            elif handler == "get":
                return realtime_get(core, params)
            elif handler == "admin/ping":
                return {"status": "OK"}
            elif handler.startswith("schema"):
                return schema_api(emu, core, handler, body, params)
            else:
                searcher = None
        if searcher is not None:  # on its snapshot, the core's lock released: updates go on meanwhile
            response, extra = searcher.search(effective)
            return dict({"response": response}, **extra) if response is not None else extra
        if handler in IMPLICIT_HANDLERS or "/" + handler in core.config.handlers:
            raise not_emulated("the /%s request handler" % handler)
        raise SolrHTTPError(404, "Not Found: /solr/%s/%s" % (core.name, handler))
