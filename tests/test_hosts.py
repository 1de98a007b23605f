"""Consumers on several hosts (issue 14): Linux network namespaces on a bridge of the test's own,
with a PostgreSQL, a Redis and a Solr emulator of its own (solrsync.testing.hosts). Root only:
skipped elsewhere, unless SOLRSYNC_REQUIRE_SERVICES=1. ``pytest -m hosts`` runs just these.

Two witnesses of "no object pushed by two workers at once", each where it matters:
* the database: a trigger of the test's own audits every claim, release and delete of the change
  log's rows, with the claiming connection's address and the database's clock -- two claims of one
  object whose holds overlap are a double claim, whatever any host's clock said;
* Solr: the emulator records each update request's arrival, end, client and ids -- no id may be in
  two requests that overlap (a client has one request in flight at a time, so two overlapping
  requests are two workers).
The witnesses themselves are tested first, on made-up records, everywhere."""
import collections
import json
import os
import signal
import sys
import time

import pytest

from conftest import normalized, wait_until
from solrsync.testing import hosts as hostlib

AUDIT_SQL = """
CREATE TABLE hosts_audit (id bigserial PRIMARY KEY, op text, seq bigint, object_pk text, old_lease timestamptz,
                          new_lease timestamptz, at timestamptz, client inet, backend int);
CREATE FUNCTION hosts_audit() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO hosts_audit (op, seq, object_pk, old_lease, at, client, backend)
    VALUES ('done', OLD.seq, OLD.object_pk, OLD.leased_until, clock_timestamp(), inet_client_addr(), pg_backend_pid());
    RETURN OLD;
  END IF;
  IF NEW.leased_until IS DISTINCT FROM OLD.leased_until THEN
    INSERT INTO hosts_audit (op, seq, object_pk, old_lease, new_lease, at, client, backend)
    VALUES (CASE WHEN NEW.leased_until IS NULL THEN 'release' ELSE 'claim' END, NEW.seq, NEW.object_pk,
            OLD.leased_until, NEW.leased_until, clock_timestamp(), inet_client_addr(), pg_backend_pid());
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER hosts_audit AFTER UPDATE OR DELETE ON solrsync_change FOR EACH ROW EXECUTE FUNCTION hosts_audit();
"""


@pytest.fixture
def hosts():
    """Hosts a and b (consumers) and w (writers), migrated, with the claims audit installed."""
    reason = hostlib.missing()
    if reason:
        if os.environ.get("SOLRSYNC_REQUIRE_SERVICES") == "1":
            pytest.fail("several hosts: %s (SOLRSYNC_REQUIRE_SERVICES=1)" % reason)
        pytest.skip("several hosts: %s" % reason)
    with hostlib.Hosts(["a", "b", "w"]) as h:
        code, out = h.manage(None, "migrate", "-v0")
        assert code == 0, out
        h.sql(AUDIT_SQL)
        yield h


# ------------------------------------------------------------ what the hosts do
def write_backlog(h, layers, writers=2):
    """``layers`` new layers written by ``writers`` processes on host w at once (no consumer runs)."""
    each = layers // writers
    procs = [h.python("w", "from solrsync.testing.hosts import write_layers; write_layers(%d, seed=%d)" % (each, 7 + i),
                      log="writer") for i in range(writers)]
    for p in procs:
        assert p.wait(300) == 0, h.log(p)
    assert h.sql("SELECT count(*) FROM layers_layer")[0][0] == each * writers
    return h.sql("SELECT count(DISTINCT object_pk) FROM solrsync_change")[0][0]


def pending(h):
    return h.sql("SELECT count(*) FROM solrsync_change")[0][0]


def drained(h, procs, timeout=180):
    done = wait_until(lambda: pending(h) == 0, timeout=timeout, interval=0.5)
    assert done, "%d changes still pending; logs:\n%s" % (pending(h), "\n".join(h.log(p, 1500) for p in procs))


def clients(h, request_log):
    return {r["client"] for r in request_log}


# ------------------------------------------------------------ the checks
def assert_in_step(h):
    """Solr holds exactly the documents the database builds now, field by field."""
    dump = os.path.join(h.dir, "expected.json")
    proc = h.python(None, "import json; from solrsync.testing.hosts import expected_documents\n"
                          "json.dump(expected_documents(), open(%r, 'w'))" % dump, log="expected")
    assert proc.wait(300) == 0, h.log(proc)
    with open(dump) as f:
        expected = {k: normalized(v) for k, v in json.load(f).items()}
    h.solr("layers/update?commit=true", {})
    docs = h.solr("layers/select?q=*:*&rows=1000000&fl=*&wt=json")["response"]["docs"]
    solr = {d["id"]: normalized(d) for d in docs}
    missing = sorted(set(expected) - set(solr))
    extra = sorted(set(solr) - set(expected))
    stale = sorted(i for i in set(expected) & set(solr) if expected[i] != solr[i])
    assert not (missing or extra or stale), "missing %d %s, extra %d %s, stale %d %s" % (
        len(missing), missing[:3], len(extra), extra[:3], len(stale), [(expected[i], solr[i]) for i in stale[:2]])
    assert expected, "nothing to compare"
    return len(expected)


def claims(h):
    """The audit as holds: (object_pk, start, end, who) -- a claim's hold of a row ends when its
    holder deletes or releases it, else when its lease runs out (by the database's clock)."""
    rows = h.sql("SELECT op, seq, object_pk, old_lease, new_lease, at, host(client), backend FROM hosts_audit ORDER BY id")
    held, holds = {}, []
    for op, seq, pk, old, new, at, client, backend in rows:
        if seq in held:
            who, begun, lease = held.pop(seq)
            ended = at if op != "claim" or at >= lease else lease  # a steal does not end the stolen hold
            holds.append((pk, begun, min(ended, lease), who, op != "claim" and who[:2] == (client, backend)))
        if op == "claim":
            held[seq] = ((client, backend, new), at, new)
    pks = {seq: pk for _, seq, pk, *_ in rows}
    holds += [(pks[seq], begun, lease, who, False) for seq, (who, begun, lease) in held.items()]
    return rows, holds


def double_claims(holds):
    """Holds of one object by two claims that overlap in time."""
    by_object = collections.defaultdict(list)
    for pk, start, end, who, _ in holds:
        if pk is not None:
            by_object[pk].append((start, end, who))
    found = set()
    for pk, spans in by_object.items():
        spans.sort(key=lambda s: s[0])
        for i, (start, end, who) in enumerate(spans):
            found.update((pk, other, who) for s2, e2, other in spans[:i] if e2 > start and other != who)
    return sorted(found)


def overlapping_pushes(request_log):
    """Document ids in two update requests that were in Solr's hands at the same time."""
    spans = collections.defaultdict(list)
    for n, r in enumerate(request_log):
        for doc_id in [a[0] for a in r["added"]] + r["deleted"]:
            spans[doc_id].append((r["arrived"], r["ended"], n))
    found = []
    for doc_id, s in spans.items():
        s.sort()
        latest = None
        for start, end, n in s:
            if latest is not None and start < latest[0]:
                found.append((doc_id, request_log[latest[1]]["client"], request_log[n]["client"]))
            if latest is None or end > latest[0]:
                latest = (end, n)
    return found


def pushes_per_id(request_log):
    return collections.Counter(i for r in request_log for i in [a[0] for a in r["added"]] + r["deleted"])


def updates(h):
    """The update requests that carried documents or deletes (not the test's own commits)."""
    log = [r for r in h.solr("_emulator/updates")["updates"] if r["added"] or r["deleted"]]
    assert all(r["status"] == 200 for r in log), [r for r in log if r["status"] != 200][:3]
    return log


# ------------------------------------------------------------ the witnesses can fail
def test_the_witnesses_see_a_stolen_lease_and_overlapping_pushes():
    from datetime import datetime, timedelta
    t = lambda s: datetime(2026, 1, 1) + timedelta(seconds=s)  # noqa: E731
    # worker A claims object 7 until t=120 and deletes it at t=2; B claims it at t=1 (a steal), then
    # C claims a fresh row of object 8 after B's lease on it ran out (no steal)
    rows = [("claim", 1, "7", None, t(120), t(0), "10.0.0.1", 11), ("claim", 1, "7", t(120), t(420), t(1), "10.0.0.2", 22),
            ("done", 1, "7", t(420), None, t(2), "10.0.0.2", 22),
            ("claim", 2, "8", None, t(5), t(0), "10.0.0.2", 22), ("claim", 2, "8", t(5), t(125), t(6), "10.0.0.1", 11),
            ("done", 2, "8", t(125), None, t(7), "10.0.0.1", 11)]

    class Audit:
        dir = None

        def sql(self, query):
            return rows
    found = double_claims(claims(Audit())[1])
    assert [(pk, a[0], b[0]) for pk, a, b in found] == [("7", "10.0.0.1", "10.0.0.2")]
    log = [{"added": [["x", 1], ["y", 1]], "deleted": [], "arrived": 0.0, "ended": 1.0, "client": "a"},
           {"added": [["y", 2]], "deleted": [], "arrived": 0.5, "ended": 1.5, "client": "b"},
           {"added": [], "deleted": ["x"], "arrived": 1.0, "ended": 2.0, "client": "b"}]
    assert overlapping_pushes(log) == [("y", "a", "b")]
    assert pushes_per_id(log) == {"x": 2, "y": 2}


def test_the_emulator_records_each_update_request():
    import requests
    from solrsync.testing import SolrEmulator
    with SolrEmulator(record_updates=True) as solr:
        requests.post(solr.core_url() + "/update", json=[{"id": "a", "title": "A", "solrsync_version": 5}])
        requests.post(solr.core_url() + "/update", params={"solrsync_version": 9}, data="<delete><id>a</id></delete>",
                      headers={"Content-Type": "text/xml"})
        got = requests.get(solr.url + "/_emulator/updates").json()["updates"]
    assert [(r["added"], r["deleted"], r["client"], r["status"]) for r in got] == [
        ([["a", 5]], [], "127.0.0.1", 200), ([], ["a"], "127.0.0.1", 200)]
    assert all(r["arrived"] <= r["ended"] for r in got) and got[0]["ended"] <= got[1]["arrived"]
    with SolrEmulator() as solr:
        answer = requests.get(solr.url + "/_emulator/updates")
    assert answer.status_code == 400 and "--record-updates" in answer.text


def test_a_second_run_waits_for_the_first_and_never_cleans_up_after_it(tmp_path, monkeypatch):
    """The names, subnet and ports are the machine's: a run that cannot get the lock in time must
    leave the running one's namespaces and processes alone (it used to clean them up)."""
    import fcntl
    monkeypatch.setattr(hostlib, "STATE", str(tmp_path))
    monkeypatch.setattr(hostlib, "LOCK_WAIT_SECONDS", 0.5)
    cleaned = []
    monkeypatch.setattr(hostlib, "clean_leftovers", lambda: cleaned.append(True))
    with open(tmp_path / "lock", "w") as first:
        fcntl.flock(first, fcntl.LOCK_EX)
        with pytest.raises(RuntimeError, match="another run"):
            with hostlib.Hosts(["a"]):
                pass
    assert cleaned == []


# ------------------------------------------------------------ the scenarios
@pytest.mark.hosts
def test_two_hosts_drain_a_backlog_written_on_a_third(hosts):
    h = hosts
    objects = write_backlog(h, 20000)
    assert pending(h) >= 20000
    env = h.env(SOLRSYNC_BATCH_SIZE=200)
    procs = [h.consumer("a", 2, env), h.consumer("b", 2, env)]
    drained(h, procs)
    for p in procs:
        assert h.stop(p) is not None
    assert assert_in_step(h) > 19000
    request_log = updates(h)
    assert clients(h, request_log) == {h.address("a"), h.address("b")}, "both hosts took part"
    rows, holds = claims(h)
    assert {r[6] for r in rows if r[0] == "claim"} == {h.address("a"), h.address("b")}
    assert not double_claims(holds), double_claims(holds)[:5]
    assert not overlapping_pushes(request_log), overlapping_pushes(request_log)[:5]
    twice = {i: n for i, n in pushes_per_id(request_log).items() if n > 1}
    assert not twice, "pushed more than once although written once: %s" % list(twice.items())[:5]
    assert len(pushes_per_id(request_log)) == objects


@pytest.mark.hosts
def test_a_host_cut_off_mid_drain_loses_nothing(hosts):
    h = hosts
    write_backlog(h, 10000)
    lease = 5
    env = h.env(SOLRSYNC_BATCH_SIZE=100, SOLRSYNC_LEASE_SECONDS=lease, SOLRSYNC_TOMBSTONE_SECONDS=4 * lease,
                SOLRSYNC_SOLR_TIMEOUT=5, SOLRSYNC_SWEEP_AFTER_SECONDS=15)
    h.solr("_emulator/faults", {"delay": 0.1})  # a slow Solr: the drain lasts, and a host holds claims
    a = h.consumer("a", 2, env)
    b = h.consumer("b", 2, env)
    # cut while a holds a claim (its rows still leased under the lease it took)
    a_holds = lambda: h.sql(  # noqa: E731
        "SELECT count(*) FROM hosts_audit a JOIN solrsync_change c ON c.seq = a.seq AND c.leased_until = a.new_lease "
        "WHERE a.op = 'claim' AND host(a.client) = %s AND a.id > 300", [h.address("a")])[0][0]
    assert wait_until(lambda: a_holds() > 0, timeout=60, interval=0.02), h.log(a)
    h.cut("a")
    cut_at = h.sql("SELECT clock_timestamp()")[0][0]
    time.sleep(1.0)
    h.stop(a, signal.SIGKILL)
    assert pending(h) > 0, "drained before the cut; the test proves less"
    h.solr("_emulator/faults", {"clear": True})
    drained(h, [a, b], timeout=120)
    h.stop(b)
    assert_in_step(h)
    rows, holds = claims(h)
    assert not double_claims(holds), double_claims(holds)[:5]
    # what a held when it was cut off, b did, after a's lease ran out
    left = {(pk, who[2]) for pk, start, end, who, by_holder in holds
            if who[0] == h.address("a") and not by_holder and start <= cut_at}
    assert left, "host a held nothing when it was cut off"
    done_by = {}
    for op, seq, pk, old, new, at, client, backend in rows:
        if op == "done":
            done_by[pk] = (client, at)
    for pk, lease_end in left:
        client, at = done_by[pk]
        assert client == h.address("b") and at >= lease_end, (pk, client, at, lease_end)
    assert not overlapping_pushes(updates(h)), overlapping_pushes(updates(h))[:5]


@pytest.mark.hosts
def test_a_host_whose_clock_is_minutes_ahead_neither_steals_nor_writes_stale(hosts):
    h = hosts
    write_backlog(h, 10000)
    env = dict(SOLRSYNC_BATCH_SIZE=100)
    h.solr("_emulator/faults", {"delay": 0.05})
    a = h.consumer("a", 2, h.env(skew=300, **env))  # five minutes ahead: past every lease of b's
    b = h.consumer("b", 2, h.env(**env))
    # meanwhile the data moves on, from host w: the same layers edited again and again
    editor = h.python("w", (
        "from layers.models import Layer\n"
        "pks = list(Layer.objects.order_by('pk').values_list('pk', flat=True)[:200])\n"
        "for round in range(5):\n"
        "    for pk in pks:\n"
        "        layer = Layer.objects.get(pk=pk); layer.title = 'edit %d of %d' % (round, pk); layer.save()\n"),
        log="editor")
    assert editor.wait(300) == 0, h.log(editor)
    h.solr("_emulator/faults", {"clear": True})
    drained(h, [a, b])
    for p in (a, b):
        h.stop(p)
    assert_in_step(h)
    assert h.sql("SELECT count(*) FROM layers_layer WHERE title LIKE 'edit 4 of %%'")[0][0] == 200
    request_log = updates(h)
    assert clients(h, request_log) == {h.address("a"), h.address("b")}
    rows, holds = claims(h)
    doubles, overlaps = double_claims(holds), overlapping_pushes(request_log)
    assert not doubles and not overlaps, "%d double claims (of %d objects), e.g. %s; %d ids in overlapping pushes" % (
        len(doubles), len({d[0] for d in doubles}), doubles[:2], len(overlaps))


@pytest.mark.hosts
def test_a_rebuild_through_the_queue_survives_a_host_cut_off_halfway(hosts):
    h = hosts
    loader = h.python("w", "from solrsync.testing.hosts import write_layers; write_layers(50000, capture=False)",
                      log="loader")
    assert loader.wait(600) == 0, h.log(loader)
    assert pending(h) == 0
    env = h.env(SOLRSYNC_LEASE_SECONDS=5, SOLRSYNC_TOMBSTONE_SECONDS=20, SOLRSYNC_SOLR_TIMEOUT=5)
    a, b = h.consumer("a", 2, env), h.consumer("b", 2, env)
    h.solr("_emulator/faults", {"delay": 0.2})  # the rebuild lasts long enough to be cut halfway
    rebuild = h.spawn("w", [sys.executable, "manage.py", "solrsync", "reindex", "layers", "--via-queue",
                            "--batch-size", "500", "--prune"], env=env, cwd=hostlib.DEMO, log="rebuild")
    docs_added = lambda: h.solr("_emulator/stats")["stats"]["docs_added"]  # noqa: E731
    assert wait_until(lambda: docs_added() >= 25000 or rebuild.poll() is not None, timeout=300, interval=0.2)
    assert rebuild.poll() is None, "finished before the cut; the test proves less: " + h.log(rebuild)
    by_a = {r["client"] for r in updates(h)}
    h.cut("a")
    time.sleep(1.0)
    h.stop(a, signal.SIGKILL)
    h.solr("_emulator/faults", {"clear": True})
    assert rebuild.wait(600) == 0, h.log(rebuild)
    h.stop(b)
    assert h.address("a") in by_a, "host a ran no range before it was cut off"
    assert h.address("b") in clients(h, updates(h))
    assert assert_in_step(h) > 48000
    print(h.log(rebuild, 1500))
