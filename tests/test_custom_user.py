"""A swapped user model (issue 19: "a custom user model with a profile"), GeoNode's way: the
profile IS the user (``AUTH_USER_MODEL = "people.Profile"``, an AbstractUser with columns of its
own), and a multi-table-inheritance ``Dataset`` reads its owner's and its contact's columns.

Django wants the user model from a database's first ``migrate``, and the suite's demo database
runs auth.User: so each run here is a project of its own (SOLRSYNC_DEMO_USERS=1) on a fresh
SQLite file or PostgreSQL database, driven in subprocesses, with a real consumer. Each write is
made in a transaction whose change-log rows are read before it commits (what it recorded,
whatever the consumer does meanwhile); then Solr must equal what the database builds now, field
by field. With CAPTURE = "signals", ``update()`` and raw SQL record nothing (README's capture
table): ``reindex --verify`` reports exactly the affected documents stale and ``--fix`` mends them."""
import json
import os
import subprocess
import sys

import pytest

from conftest import DEMO, normalized, require_service, stop, wait_until

pytestmark = pytest.mark.django

# run by ``manage.py shell -c`` with STEP set: one write, in a transaction; prints what it recorded
# (read before the commit, so no consumer has taken it yet) and the documents the database builds now
SCRIPT = r'''
import json, os
from django.db import connection, transaction
from solrsync.contrib.django.models import Change
from solrsync.contrib.django.runtime import get_syncer
from people.models import Dataset, Profile, ResourceBase

step = os.environ["STEP"]
with transaction.atomic():
    before = max(Change.objects.values_list("seq", flat=True), default=0)
    if step == "setup":
        ana = Profile.objects.create(username="ana", first_name="Ana", organization="OSGeo")
        bea = Profile.objects.create(username="bea", position="editor")
        Dataset.objects.create(title="Roads", store="osm", owner=ana, poc=bea)
        Dataset.objects.create(title="Rivers", owner=ana, poc=ana)
        Dataset.objects.create(title="Rails", owner=bea)
        ResourceBase.objects.create(title="Not a dataset", owner=ana)
    elif step == "save":
        ana = Profile.objects.get(username="ana")
        ana.username, ana.first_name, ana.organization = "ana.s", "Ana S.", "OSGeo Foundation"
        ana.save()
    elif step == "update":
        Profile.objects.filter(username="ana.s").update(username="ana.u", organization="Eclipse")
    elif step == "raw":
        with connection.cursor() as cur:
            cur.execute("UPDATE people_profile SET username = username || '.raw', position = 'raw'")
    elif step == "delete":
        Profile.objects.get(username__startswith="bea").delete()  # SET_NULL on owner and poc
    recorded = sorted(Change.objects.filter(pipeline="datasets", seq__gt=before).values_list("object_pk", "op"))
source = get_syncer().sources["datasets"]
docs = [source.pipeline.document.build(row)[0] for rows in source.iter_chunks(1000) for row in rows]
print(json.dumps({"recorded": recorded, "docs": docs, "pks": {
    d.title: [str(d.pk), d.owner_id and str(d.owner_id), d.poc_id and str(d.poc_id)] for d in Dataset.objects.all()}},
    default=str))
'''

# which datasets each write changes (by title), and what it must leave in their documents
AFFECTED = {"setup": {"Roads", "Rivers", "Rails"}, "save": {"Roads", "Rivers"}, "update": {"Roads", "Rivers"},
            "raw": {"Roads", "Rivers", "Rails"}, "delete": {"Roads", "Rails"}}
UNSEEN_BY_SIGNALS = {"update", "raw"}


def postgres_database(suffix, drop=False):
    """A fresh PostgreSQL database named after the suite's (never the suite's own) -> its name;
    ``drop``: drop it instead."""
    import psycopg
    base = os.environ.get("SOLRSYNC_DEMO_DBNAME", "solrsync").split("/")[-1]
    name = "%s_%s" % (base[len("test_"):] if base.startswith("test_") else base, suffix)
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        if not drop:
            conn.execute('CREATE DATABASE "%s"' % name)
    return name


@pytest.fixture
def database(kind, tmp_path):
    """-> environment for a fresh database of ``kind`` (a PostgreSQL one dropped after)."""
    if kind == "sqlite":
        yield {"SOLRSYNC_DEMO_DBNAME": str(tmp_path / "people.sqlite3")}
        return
    require_service("PostgreSQL", 5432)
    yield {"SOLRSYNC_DEMO_DB": "postgres", "SOLRSYNC_DEMO_DBNAME": postgres_database("people")}
    postgres_database("people", drop=True)


@pytest.mark.parametrize("capture", ["triggers", "signals"])
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_swapped_user_model_renamed_reaches_every_owned_resource(solr, kind, capture, database, tmp_path):
    env = dict(os.environ, SOLRSYNC_DEMO_USERS="1", SOLRSYNC_DEMO_VAR=str(tmp_path), SOLRSYNC_SOLR_URL=solr.url,
               SOLRSYNC_QUEUE_URL="sqlite:///%s" % (tmp_path / "queue.sqlite3"), SOLRSYNC_CAPTURE=capture,
               SOLRSYNC_COALESCE_MS="0", PYTHONPATH=str(DEMO),
               SOLRSYNC_PIPELINES=json.dumps({"datasets": {"class": "people.pipelines.DatasetPipeline"}}))
    for name in ("SOLRSYNC_DEMO_DB", "SOLRSYNC_DEMO_ZOO", "SOLRSYNC_DEMO_GIS"):
        env.pop(name, None)
    env["DJANGO_SETTINGS_MODULE"] = "demoproject.settings"
    env.update(database)

    def manage(*args, **extra):
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=str(DEMO), env=dict(env, **extra),
                              capture_output=True, text=True, timeout=300)
        return proc

    migrate = manage("migrate", "-v1")
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    if capture == "triggers":  # the user model's table is on the paths: no fallback to signals
        assert "datasets" not in migrate.stdout + migrate.stderr, migrate.stdout + migrate.stderr
    log = open(tmp_path / "consumer.log", "w")
    consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "solrsync.contrib.django.queue.huey",
                                 "-w", "2", "-d", "0.05", "-m", "0.2"], cwd=str(DEMO), env=env,
                                stdout=log, stderr=subprocess.STDOUT)

    def in_solr():
        solr.post("update", {"commit": {}})
        return {d["id"]: normalized(d) for d in solr.select("*:*", fl="*", rows=100)["docs"]}

    try:
        for step in ("setup", "save", "update", "raw", "delete"):
            run = manage("shell", "-c", SCRIPT, STEP=step)
            assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout + run.stderr
            out = json.loads(run.stdout.strip().splitlines()[-1])
            expected = {d["id"]: normalized(d) for d in out["docs"]}
            pks = out["pks"]
            if capture == "signals" and step in UNSEEN_BY_SIGNALS:
                assert out["recorded"] == [], step                 # README: not recorded -- run reindex
                verify = manage("solrsync", "reindex", "datasets", "--verify", "--quiet")
                assert verify.returncode == 1 and "0 missing, %d stale, 0 orphaned" % len(AFFECTED[step]) in \
                    verify.stdout, (step, verify.stdout + verify.stderr)
                fix = manage("solrsync", "reindex", "datasets", "--verify", "--fix", "--quiet")
                assert fix.returncode in (0, 1), fix.stdout + fix.stderr
            elif capture == "signals":
                # the datasets written, or those reading the user (a dataset it owns and is the
                # contact of is recorded once per relation: the hooks run one statement each)
                assert {tuple(r) for r in out["recorded"]} == {(pks[t][0], "save") for t in AFFECTED[step]}, (
                    step, out["recorded"])
            elif step in ("setup", "delete"):
                # the datasets written, or those whose owner or contact went (SET_NULL), once each
                assert sorted(out["recorded"]) == sorted([pks[t][0], "save"] for t in AFFECTED[step]), (
                    step, out["recorded"])
            else:
                # a user row renamed: one change per relation to it, naming the set (owner, poc)
                assert sorted(out["recorded"]) == sorted([["owner__id", "related"], ["poc__id", "related"]] * (
                    2 if step == "raw" else 1)), (step, out["recorded"])  # raw: both users renamed
            wait_until(lambda: in_solr() == expected, timeout=30)
            assert in_solr() == expected, (step, open(log.name).read()[-3000:])
            docs = {d["title"]: d for d in expected.values()}
            assert set(docs) == {"Roads", "Rivers", "Rails"}
        assert docs["Roads"]["owner_s"] == "ana.u.raw" and docs["Roads"]["organization_s"] == "Eclipse"
        assert docs["Rivers"]["owner_name_s"] == "Ana S." and docs["Rivers"]["poc_position_s"] == "raw"
        assert "poc_s" not in docs["Roads"] and "owner_s" not in docs["Rails"]
        verify = manage("solrsync", "reindex", "datasets", "--verify", "--quiet")
        assert verify.returncode == 0 and "0 missing, 0 stale, 0 orphaned" in verify.stdout, verify.stdout + verify.stderr
    finally:
        stop(consumer)
        log.close()
