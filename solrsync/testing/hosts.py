"""Several hosts on one machine, for the tests and benchmarks of several consumer hosts (issue 14).

Linux network namespaces ``sshost-NAME`` hang on a bridge ``ssbr0`` (10.231.0.1/24) by veth links;
a PostgreSQL, a Redis and a Solr emulator of their own listen on the bridge address. A process runs
on a host with ``ip netns exec``; ``cut(host)`` sets that host's link down, as a pulled cable would.
Root only (``missing()`` says why it cannot run). The demo project (contrib/django/demo) runs on it:

    with Hosts(["a", "b", "w"]) as hosts:
        hosts.manage(None, "migrate", "-v0")              # None: the machine itself, on the bridge
        writer = hosts.python("w", "from solrsync.testing.hosts import write_layers; write_layers(1000)")
        consumer = hosts.consumer("a", workers=2)
        hosts.cut("a")

Nothing leaves the subnet: the namespaces get no route but the bridge's, every server binds the
bridge address, and nothing is forwarded. Every process is stopped by its pid, and the
namespaces, links, bridge and directories are removed, by ``close()``, and at the next start,
whatever a crashed run left (its pids are kept in a ledger, with their start times, so a reused
pid is never killed).
"""
import contextlib
import fcntl
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

SUBNET = "10.231.0"
ADDRESS = SUBNET + ".1"
BRIDGE = "ssbr0"
PREFIX = "sshost-"
PG_PORT, REDIS_PORT, SOLR_PORT = 29601, 29602, 29603
DBNAME = "hosts"
STATE = "/tmp/solrsync-hosts"
LOCK_WAIT_SECONDS = 900
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "contrib", "django", "demo")

# Installed into a skewed host's PYTHONPATH: its clock runs SOLRSYNC_TEST_CLOCK_OFFSET seconds off,
# for time.time() and datetime.now() (which django.utils.timezone.now() calls) alike. Datetimes
# made elsewhere (the database driver's) still pass isinstance checks against the patched class.
SKEW_SITECUSTOMIZE = '''
import datetime as _dt, os as _os, time as _time
_offset = float(_os.environ.get("SOLRSYNC_TEST_CLOCK_OFFSET", "0"))
if _offset:
    _real_time, _real_time_ns, _real = _time.time, _time.time_ns, _dt.datetime
    _time.time = lambda: _real_time() + _offset
    _time.time_ns = lambda: _real_time_ns() + int(_offset * 1e9)

    class _Meta(type):
        def __instancecheck__(cls, obj):
            return isinstance(obj, _real)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, _real)

    class datetime(_real, metaclass=_Meta):
        @classmethod
        def now(cls, tz=None):
            return _real.now(tz) + _dt.timedelta(seconds=_offset)

        @classmethod
        def utcnow(cls):
            return _real.utcnow() + _dt.timedelta(seconds=_offset)

        @classmethod
        def today(cls):
            return cls.now()

    _dt.datetime = datetime
'''


def pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return os.environ.get("SOLRSYNC_PG_BIN") or (os.path.dirname(found[-1]) if found else None)


def missing():
    """Why several hosts cannot be made here, or None."""
    if os.geteuid() != 0:
        return "needs root (ip netns, veth links, a bridge)"
    for tool in ("ip", "redis-server"):
        if shutil.which(tool) is None:
            return "no %s on PATH" % tool
    if pg_bin() is None or not os.path.exists(os.path.join(pg_bin(), "initdb")):
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin, or SOLRSYNC_PG_BIN)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user to run PostgreSQL as"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode:
        return "ip netns does not work here: %s" % probe.stderr.strip()
    return None


def _ip(*args, check=True):
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError("ip %s: %s" % (" ".join(args), done.stderr.strip()))
    return done


def _start_time(pid):
    """The kernel's start time of a process (field 22 of /proc/PID/stat), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def cpu_seconds(pid):
    """User + system CPU seconds of a process and its waited-for children, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _veths():
    out = _ip("-o", "link", "show", check=False).stdout.splitlines()
    return [line.split(":")[1].strip().split("@")[0] for line in out if ": sshv-" in line]


def clean_leftovers():
    """Undo what a run that crashed left: its processes (from the ledger, and whatever still runs in
    an ``sshost-`` namespace), namespaces, links, bridge and directories."""
    ledger = os.path.join(STATE, "ledger")
    if os.path.exists(ledger):
        with open(ledger) as f:
            for line in f:
                pid, started = (int(x) for x in line.split()[:2])
                if _start_time(pid) == started:
                    _kill(pid)
        os.unlink(ledger)
    for link in _veths():
        _ip("link", "delete", link, check=False)  # both ends go; a namespace's own go asynchronously
    for ns in _ip("netns", "list", check=False).stdout.split("\n"):
        ns = ns.split(" ")[0]
        if ns.startswith(PREFIX):
            for pid in _ip("netns", "pids", ns, check=False).stdout.split():
                _kill(int(pid))
            _ip("netns", "delete", ns, check=False)
    if _ip("link", "show", BRIDGE, check=False).returncode == 0:
        _ip("link", "delete", BRIDGE, check=False)
    deadline = time.monotonic() + 10
    while _veths() and time.monotonic() < deadline:
        time.sleep(0.1)
    for run in glob.glob(os.path.join(STATE, "run-*")):
        shutil.rmtree(run, ignore_errors=True)


class Hosts:
    """The bridge, a namespace per host name, and the shared services; see the module docstring."""

    def __init__(self, names, services=True, postgres=None, redis=None):
        """``postgres``: server settings over the defaults below ({"tcp_keepalives_idle": 0});
        ``redis``: redis-server options over them ({"tcp-keepalive": 300})."""
        self.names = list(names)
        self.services = services
        self.postgres_settings, self.redis_options = postgres or {}, redis or {}
        self.procs = []       # everything started, in order (stopped in reverse)
        self.servers = {}     # "postgres" | "redis" | "solr" -> Popen
        self.dir = None
        self._lock = None

    # ------------------------------------------------------------ set-up and tear-down
    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def start(self):
        os.makedirs(STATE, exist_ok=True)
        self._lock = open(os.path.join(STATE, "lock"), "w")
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:  # the names, subnet and ports are the machine's: one run at a time, the others wait
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock.close()
                    self._lock = None
                    raise RuntimeError("another run of the several-hosts harness has held %s/lock for %ds"
                                       % (STATE, LOCK_WAIT_SECONDS))
                time.sleep(0.5)
        clean_leftovers()
        self.dir = os.path.join(STATE, "run-%d" % os.getpid())
        for sub in ("logs", "var", "site"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "site", "sitecustomize.py"), "w") as f:
            f.write(SKEW_SITECUSTOMIZE)
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", ADDRESS + "/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for i, name in enumerate(self.names):
            ns, outer = PREFIX + name, "sshv-" + name
            _ip("netns", "add", ns)
            _ip("link", "add", outer, "type", "veth", "peer", "name", "sshp-" + name)
            _ip("link", "set", "sshp-" + name, "netns", ns)
            _ip("link", "set", outer, "master", BRIDGE, "up")
            _ip("-n", ns, "link", "set", "sshp-" + name, "name", "eth0")
            _ip("-n", ns, "addr", "add", "%s/24" % self.address(name), "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        if self.services:
            self.start_postgres()
            self.start_redis()
            self.start_solr()
        return self

    def close(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                _kill(proc.pid, signal.SIGINT if proc in self.servers.values() else signal.SIGKILL)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.procs = []
        if self._lock is not None:
            clean_leftovers()
            self._lock.close()
            self._lock = None

    def _ledger(self, proc):
        with open(os.path.join(STATE, "ledger"), "a") as f:
            f.write("%d %s\n" % (proc.pid, _start_time(proc.pid)))

    def address(self, name):
        """The host's address: 10.231.0.11 for the first name, .12 for the next..."""
        return ADDRESS if name is None else "%s.%d" % (SUBNET, 11 + self.names.index(name))

    def cut(self, name):
        """Cut a host off: its link goes down (connections hang, as with a pulled cable)."""
        _ip("-n", PREFIX + name, "link", "set", "eth0", "down")

    def reconnect(self, name):
        _ip("-n", PREFIX + name, "link", "set", "eth0", "up")

    # ------------------------------------------------------------ processes
    def spawn(self, host, args, env=None, log=None, cwd=None, **popen):
        """Start ``args`` on ``host`` (None: the machine itself); its output goes to a log file
        (``proc.log_path``)."""
        log_path = os.path.join(self.dir, "logs", "%s-%s-%d.log" % (log or os.path.basename(args[0]), host or "root",
                                                                    len(self.procs)))
        out = open(log_path, "w")
        cmd = list(args) if host is None else ["ip", "netns", "exec", PREFIX + host, *args]
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, **popen)
        out.close()
        proc.log_path, proc.host = log_path, host
        self.procs.append(proc)
        self._ledger(proc)
        return proc

    def log(self, proc, tail=3000):
        with open(proc.log_path, errors="replace") as f:
            return f.read()[-tail:]

    def env(self, skew=None, **extra):
        """The environment of a demo-project process on these services; ``skew``: seconds this
        host's clock is off."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SOLRSYNC_", "PG", "DJANGO_"))}
        path = [DEMO] + ([os.path.join(self.dir, "site")] if skew else [])
        base.update(
            PYTHONPATH=os.pathsep.join(path), DJANGO_SETTINGS_MODULE="demoproject.settings",
            SOLRSYNC_DEMO_DB="postgres", PGHOST=ADDRESS, PGPORT=str(PG_PORT), PGUSER="postgres",
            SOLRSYNC_DEMO_DBNAME=DBNAME, SOLRSYNC_DEMO_VAR=os.path.join(self.dir, "var"),
            SOLRSYNC_QUEUE_URL="redis://%s:%d/0" % (ADDRESS, REDIS_PORT),
            SOLRSYNC_SOLR_URL=self.solr_url, SOLRSYNC_QUEUE_SECRET="several-hosts-test",
            SOLRSYNC_SOLR_TIMEOUT="60")
        if skew:
            base["SOLRSYNC_TEST_CLOCK_OFFSET"] = str(skew)
        base.update({k: str(v) for k, v in extra.items()})
        return base

    def python(self, host, code, env=None, log="python"):
        """Python code on ``host``, with Django set up for the demo project."""
        code = "import django; django.setup()\n" + code
        return self.spawn(host, [sys.executable, "-c", code], env=env or self.env(), cwd=DEMO, log=log)

    def manage(self, host, *args, env=None, timeout=600):
        """``manage.py ARGS`` on ``host``, waited for: (exit status, output)."""
        proc = self.spawn(host, [sys.executable, "manage.py", *args], env=env or self.env(), cwd=DEMO,
                          log="manage-" + args[0])
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return proc.returncode, self.log(proc, 20000)

    def consumer(self, host, workers=2, env=None, *extra):
        """``manage.py run_huey -w N`` on ``host``."""
        return self.spawn(host, [sys.executable, "manage.py", "run_huey", "-w", str(workers), *extra],
                          env=env or self.env(), cwd=DEMO, log="consumer")

    def stop(self, proc, sig=signal.SIGINT, timeout=30):
        """Stop a process by its pid (SIGINT: huey finishes the running task) and wait for it."""
        if proc.poll() is None:
            _kill(proc.pid, sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill(proc.pid)
                proc.wait(10)
        return proc.returncode

    # ------------------------------------------------------------ the shared services
    def start_postgres(self):
        data = os.path.join(self.dir, "pg")
        os.makedirs(data)
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
        as_postgres = dict(user="postgres", group="postgres", extra_groups=[])
        subprocess.run([os.path.join(pg_bin(), "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True, cwd="/", **as_postgres)
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write("host all all %s.0/24 trust\n" % SUBNET)
        # a host cut off mid-transaction (its claim's lock held) is noticed in seconds rather than the
        # kernel's two hours: keepalives while the server waits for it, tcp_user_timeout while the
        # server's own answer goes unacknowledged (keepalives are not sent then)
        settings = dict(listen_addresses=ADDRESS, port=PG_PORT, unix_socket_directories=data, fsync="off",
                        synchronous_commit="off", full_page_writes="off", max_connections=200,
                        tcp_keepalives_idle=5, tcp_keepalives_interval=2, tcp_keepalives_count=2,
                        tcp_user_timeout=5000)
        settings.update(self.postgres_settings)
        args = [os.path.join(pg_bin(), "postgres"), "-D", data]
        for k, v in settings.items():
            args += ["-c", "%s=%s" % (k, v)]
        self.servers["postgres"] = self.spawn(None, args, log="postgres", cwd="/", **as_postgres)
        self._wait_for("PostgreSQL", PG_PORT, self.servers["postgres"])
        import psycopg  # an optional dependency (extra 'postgres'), only where the harness runs
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(host=ADDRESS, port=PG_PORT, user="postgres", dbname="postgres",
                                     autocommit=True) as conn:
                    conn.execute("CREATE DATABASE %s" % DBNAME)
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def start_redis(self):
        data = os.path.join(self.dir, "redis")
        os.makedirs(data)
        options = {"bind": ADDRESS, "port": REDIS_PORT, "save": "", "appendonly": "no", "dir": data,
                   "protected-mode": "no"}
        options.update(self.redis_options)
        args = ["redis-server"]
        for k, v in options.items():
            args += ["--" + k, str(v)]
        self.servers["redis"] = self.spawn(None, args, log="redis")
        self._wait_for("Redis", REDIS_PORT, self.servers["redis"])

    def start_solr(self):
        self.servers["solr"] = self.spawn(None, [
            sys.executable, "-m", "solrsync.testing.emulator", "--host", ADDRESS, "--port", str(SOLR_PORT),
            "--record-updates"], log="solr")
        self._wait_for("the Solr emulator", SOLR_PORT, self.servers["solr"])

    def _wait_for(self, what, port, proc, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (what, proc.returncode, self.log(proc)))
            try:
                socket.create_connection((ADDRESS, port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("%s is not listening on %s:%d after %ds" % (what, ADDRESS, port, timeout))

    @property
    def solr_url(self):
        return "http://%s:%d/solr/layers" % (ADDRESS, SOLR_PORT)

    def solr(self, path, data=None):
        """GET (or POST JSON ``data`` to) the emulator: ``solr("_emulator/updates")``."""
        url = "http://%s:%d/solr/%s" % (ADDRESS, SOLR_PORT, path)
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    def sql(self, query, params=()):
        """One query on the test's database: its rows."""
        import psycopg  # an optional dependency (extra 'postgres'), only where the harness runs
        with psycopg.connect(host=ADDRESS, port=PG_PORT, user="postgres", dbname=DBNAME, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


def write_layers(count, batch=1000, seed=42, capture=True):
    """Insert ``count`` demo layers (with keywords and regions) in transactions of ``batch``; with
    ``capture`` the triggers record a change for each, as a web host's bulk import would. Lookup
    rows are made race-free, so several writers can run at once."""
    # Django app loading: this runs in a host's process after django.setup() (the demo project's models)
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from layers.generator import generate
    from layers.models import Category, Keyword, Layer, Region
    from solrsync.contrib.django.signals import hooks_disabled

    rows = generate(count, seed=seed)

    def lookup(model, key, values, **defaults):
        model.objects.bulk_create([model(**{key: v}, **defaults.get(v, {})) for v in sorted(values)],
                                  ignore_conflicts=True)
        return dict(model.objects.filter(**{key + "__in": list(values)}).values_list(key, "pk"))

    User = get_user_model()
    users = lookup(User, "username", {r["owner"] for r in rows})
    cats = lookup(Category, "identifier", {r["category"] for r in rows})
    regions = lookup(Region, "code", {r["region"][0] for r in rows},
                     **{code: {"name": name} for code, name in {r["region"] for r in rows}})
    words = lookup(Keyword, "name", {w for r in rows for w in r["keywords"]})
    KW, RG = Layer.keywords.through, Layer.regions.through
    for start in range(0, count, batch):
        part = rows[start:start + batch]
        with transaction.atomic(), (contextlib.nullcontext() if capture else hooks_disabled()):
            layers = Layer.objects.bulk_create([Layer(
                name=r["name"], title=r["title"], abstract=r["abstract"], bbox_x0=r["bbox_x0"],
                bbox_x1=r["bbox_x1"], bbox_y0=r["bbox_y0"], bbox_y1=r["bbox_y1"], category_id=cats[r["category"]],
                owner_id=users[r["owner"]], date=r["date"], is_published=r["is_published"]) for r in part])
            KW.objects.bulk_create([KW(layer_id=l.pk, keyword_id=words[w]) for l, r in zip(layers, part)
                                    for w in r["keywords"]])
            RG.objects.bulk_create([RG(layer_id=l.pk, region_id=regions[r["region"][0]]) for l, r in zip(layers, part)])


def expected_documents():
    """{id: document} as the database would build them now (Django set up): what Solr must hold."""
    from solrsync.contrib.django.runtime import get_syncer  # Django app loading: after django.setup()
    source = get_syncer().sources["layers"]
    return {doc["id"]: doc for rows in source.iter_chunks(1000) for row in rows
            for doc in [source.pipeline.document.build(row)[0]]}
