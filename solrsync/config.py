"""Settings: read once, from a dict (Django's ``SOLRSYNC = {...}``) and the environment
(``SOLRSYNC_<NAME>``, which wins, so an operator can point a deployed app elsewhere), checked at
start-up. Every problem is one line that names the setting.
"""
import json
import os
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit, urlunsplit

from huey import crontab


class ConfigError(Exception):
    """A setting is missing or malformed; str() is the one line shown to the user."""

    def __init__(self, setting, problem):
        super().__init__("setting %s: %s" % (setting, problem))
        self.setting = setting


QUEUE_SCHEMES = ("sqlite", "redis", "rediss", "memory", "immediate")


@dataclass
class Settings:
    SOLR_URL: str = "http://127.0.0.1:8983/solr"
    SOLR_TIMEOUT: float = 10.0
    SOLR_VERIFY_TLS: bool = True
    SOLR_CONFIGSET: str = "layers"
    SOLR_USER: str = ""
    SOLR_PASSWORD: str = ""
    SOLR_NUM_SHARDS: int = 0          # SolrCloud rebuilds: 0 = as many as the live collection has
    SOLR_REPLICATION_FACTOR: int = 0  # SolrCloud rebuilds: 0 = as the live collection
    SOLR_KEEP_COLLECTIONS: int = 0    # SolrCloud rebuilds: old collections kept for rollback
    COMMIT_WITHIN_MS: int = 1500
    BATCH_SIZE: int = 500
    QUEUE_URL: str = "sqlite:///solrsync-queue.sqlite3"
    QUEUE_NAME: str = "solrsync"
    ENQUEUE: str = "background"
    CAPTURE: str = "triggers"
    QUEUE_SECRET: str = ""
    QUEUE_ALLOW_UNSIGNED: bool = False
    RETRY_DELAY: float = 1.0
    RETRY_MAX_DELAY: float = 30.0
    COALESCE_MS: int = 100
    LEASE_SECONDS: int = 120
    SWEEP_AFTER_SECONDS: int = 60
    TOMBSTONE_SECONDS: int = 3600
    RESYNC_CRONTAB: str = "0 3 * * *"
    RESYNC_VIA_QUEUE: bool = False    # the periodic resync's ranges run on every consumer (reindex --via-queue)
    METRICS_PORT: int = 0             # each consumer serves Prometheus metrics here (0: off)
    METRICS_ADDR: str = "0.0.0.0"     # ... on this address (Prometheus scrapes from another host)
    PIPELINES: dict = field(default_factory=lambda: {"layers": {}})

    # -- derived
    @property
    def solr_base(self):
        """The Solr root (``.../solr``) whatever form SOLR_URL had."""
        return self._split_solr()[0]

    @property
    def solr_auth(self):
        """(user, password) for HTTP basic auth: SOLR_USER/SOLR_PASSWORD, else the URL's userinfo.
        URLs handed to clients carry no credentials, so no library can log them."""
        if self.SOLR_USER:
            return (self.SOLR_USER, self.SOLR_PASSWORD)
        parts = urlsplit(self.SOLR_URL)
        return (parts.username, parts.password or "") if parts.username else None

    @property
    def solr_core(self):
        """The core named in SOLR_URL (``.../solr/layers``), or None."""
        return self._split_solr()[1]

    def _split_solr(self):
        parts = urlsplit(self.SOLR_URL.rstrip("/"))
        segs = parts.path.split("/")
        if "solr" in segs:
            i = segs.index("solr")
            core = segs[i + 1] if len(segs) > i + 1 and segs[i + 1] else None
            path = "/".join(segs[:i + 1])
        else:
            path, core = parts.path, None
        return urlunsplit((parts.scheme, netloc(parts), path, "", "")), core

    @property
    def write_horizon(self):
        """Seconds within which any write solrsync sends lands or never will: a request older than
        a lease (its version, by the database's clock) is not sent (solrsync.lease), and one sent is
        answered or abandoned within SOLR_TIMEOUT -- twice, counting the one more request the sink
        may make for a document (on SolrCloud, asking the leader that refused it why)."""
        return self.LEASE_SECONDS + 2 * self.SOLR_TIMEOUT

    def core_for(self, pipeline_name, default_core):
        override = (self.PIPELINES.get(pipeline_name) or {}).get("core")
        return override or self.solr_core or default_core

    def core_url(self, core):
        return "%s/%s" % (self.solr_base, core)


_INTS = ("SOLR_NUM_SHARDS", "SOLR_REPLICATION_FACTOR", "SOLR_KEEP_COLLECTIONS", "COMMIT_WITHIN_MS", "BATCH_SIZE",
         "COALESCE_MS", "LEASE_SECONDS", "SWEEP_AFTER_SECONDS", "TOMBSTONE_SECONDS", "METRICS_PORT")
_FLOATS = ("SOLR_TIMEOUT", "RETRY_DELAY", "RETRY_MAX_DELAY")


def load_settings(values=None, environ=None):
    """Merge defaults < ``values`` < ``SOLRSYNC_*`` environment, then validate."""
    values = dict(values or {})
    environ = os.environ if environ is None else environ
    known = {f.name for f in fields(Settings)}
    for key in values:
        if key not in known:
            raise ConfigError(key, "unknown setting (known: %s)" % ", ".join(sorted(known)))
    for name in known:
        env = environ.get("SOLRSYNC_" + name)
        if env not in (None, ""):
            values[name] = env
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s):
    for name in _INTS + _FLOATS:
        raw = getattr(s, name)
        try:
            value = int(raw) if name in _INTS else float(raw)
        except (TypeError, ValueError):
            raise ConfigError(name, "%r is not a number" % (raw,))
        if value < 0 or (value == 0 and name in ("BATCH_SIZE", "SOLR_TIMEOUT", "LEASE_SECONDS")):
            raise ConfigError(name, "%r must be positive" % (raw,))
        setattr(s, name, value)
    if s.TOMBSTONE_SECONDS <= s.write_horizon:
        raise ConfigError("TOMBSTONE_SECONDS", "%s must be longer than LEASE_SECONDS + 2 x SOLR_TIMEOUT (%s + 2 x %s = "
                          "%s): a delete's tombstone must outlive any older write still in flight" % (
                              s.TOMBSTONE_SECONDS, s.LEASE_SECONDS, s.SOLR_TIMEOUT, s.write_horizon))
    if s.METRICS_PORT > 65535:
        raise ConfigError("METRICS_PORT", "%r is not a TCP port (1-65535; 0 turns the consumers' metrics off)"
                          % (s.METRICS_PORT,))
    for name in ("SOLR_VERIFY_TLS", "QUEUE_ALLOW_UNSIGNED", "RESYNC_VIA_QUEUE"):
        if isinstance(getattr(s, name), str):
            setattr(s, name, getattr(s, name).strip().lower() not in ("", "0", "false", "no", "off"))
    url = urlsplit(str(s.SOLR_URL))
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError("SOLR_URL", "%r is not an http(s) URL like http://127.0.0.1:8983/solr" % mask(s.SOLR_URL))
    try:
        url.port
    except ValueError:
        raise ConfigError("SOLR_URL", "%r has a bad port" % mask(s.SOLR_URL))
    scheme = str(s.QUEUE_URL).split(":", 1)[0]
    if scheme not in QUEUE_SCHEMES:
        raise ConfigError("QUEUE_URL", "%r: use sqlite:///PATH, redis://HOST:PORT/DB, memory:// or immediate"
                          % mask(s.QUEUE_URL))
    if scheme == "sqlite" and not str(s.QUEUE_URL).startswith("sqlite:///"):
        raise ConfigError("QUEUE_URL", "%r: a SQLite queue is sqlite:///relative/path or sqlite:////abs/path"
                          % s.QUEUE_URL)
    if s.ENQUEUE not in ("background", "inline"):
        raise ConfigError("ENQUEUE", "%r: use background (the save does not wait for the broker) or inline"
                          % (s.ENQUEUE,))
    if s.CAPTURE not in ("triggers", "signals"):
        raise ConfigError("CAPTURE", "%r: use triggers (the database records each change) or signals"
                          % (s.CAPTURE,))
    if str(s.RESYNC_CRONTAB).strip().lower() == "off":  # the environment's way: an empty variable counts as unset
        s.RESYNC_CRONTAB = ""
    if s.RESYNC_CRONTAB:
        parse_crontab(s.RESYNC_CRONTAB)
    if isinstance(s.PIPELINES, (list, tuple)):
        s.PIPELINES = {name: {} for name in s.PIPELINES}
    elif isinstance(s.PIPELINES, str) and s.PIPELINES.strip().startswith("{"):
        try:
            s.PIPELINES = json.loads(s.PIPELINES)
        except ValueError as exc:
            raise ConfigError("PIPELINES", "not valid JSON (%s): give names (layers,maps) or JSON like "
                              "{\"books\": {\"class\": \"myapp.pipelines.BookPipeline\"}}" % exc)
    elif isinstance(s.PIPELINES, str):
        s.PIPELINES = {name.strip(): {} for name in s.PIPELINES.split(",") if name.strip()}
    if not isinstance(s.PIPELINES, dict) or not s.PIPELINES:
        raise ConfigError("PIPELINES", "name at least one pipeline, e.g. {'layers': {}}")
    for name, options in s.PIPELINES.items():
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_PIPELINE_NAME:
            raise ConfigError("PIPELINES", "pipeline name %r: give 1 to %d characters (the change log keeps the name "
                              "in a column of that size)" % (name, MAX_PIPELINE_NAME))
        if options is not None and not isinstance(options, dict):
            raise ConfigError("PIPELINES", "pipeline %r: options must be a dict like {'class': 'dotted.Path'}, "
                              "not %r" % (name, options))


MAX_PIPELINE_NAME = 64  # the change log's pipeline column; a reindex run's name uses a digest of a long one


def parse_crontab(spec):
    """``"m h dom mon dow"`` -> huey's validate_datetime; ConfigError on nonsense."""
    parts = str(spec).split()
    if len(parts) != 5:
        raise ConfigError("RESYNC_CRONTAB", "%r needs 5 fields: minute hour day month day_of_week" % spec)
    try:
        return crontab(minute=parts[0], hour=parts[1], day=parts[2], month=parts[3], day_of_week=parts[4])
    except (ValueError, TypeError) as exc:
        raise ConfigError("RESYNC_CRONTAB", "%r: %s" % (spec, exc))


def mask(url):
    """A URL fit for logs: any password replaced by ``**``."""
    url = str(url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit((parts.scheme, "%s:**@%s" % (parts.username or "", netloc(parts)), parts.path, parts.query,
                       parts.fragment))


def netloc(parts):
    """host[:port] of a urlsplit() result, an IPv6 host in its brackets (``[::1]:8983``): every URL
    solrsync builds from SOLR_URL goes through here."""
    host = parts.hostname or ""
    if ":" in host:
        host = "[%s]" % host
    return host + (":%d" % parts.port if parts.port else "")
