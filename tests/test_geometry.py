"""A ``BBox`` reads a GeoDjango geometry -- its extent, reprojected to WGS84 when its SRID is not
4326 -- with the same repairs and drops as the four-number form (issue 19, item 3).

The conversion runs in the Django integration (``DjangoSource.extent``); the engine only gets
four numbers. End to end on PostGIS and SpatiaLite in a subprocess of the demo project with
SOLRSYNC_DEMO_GIS=1: saves captured by the triggers, an ``update()``, a reindex, and ``--verify``.
Without GDAL/GEOS (or PostGIS, or an SQLite that loads extensions) these skip, saying why; the rest
of solrsync does not need them."""
import ctypes.util
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import DEMO, require_service

sys.path.insert(0, str(DEMO))
from demoproject.spatialite import loadable_sqlite3  # noqa: E402

GIS_LIBS = {"GDAL": ctypes.util.find_library("gdal"), "GEOS": ctypes.util.find_library("geos_c")}
MISSING = [name for name, lib in GIS_LIBS.items() if not lib]
needs_gis = pytest.mark.skipif(bool(MISSING), reason="GeoDjango needs %s (Debian: gdal-bin, libgeos-c1v5)"
                               % " and ".join(MISSING))
BERLIN = (13.08, 13.76, 52.33, 52.68)  # x0, x1, y0, y1


def envelope_numbers(wkt):
    """ENVELOPE(minX, maxX, maxY, minY) -> (x0, x1, y0, y1)."""
    min_x, max_x, max_y, min_y = (float(v) for v in re.match(r"ENVELOPE\((.*)\)$", wkt).group(1).split(","))
    return min_x, max_x, min_y, max_y


def close(a, b, tol=1e-6):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


@needs_gis
@pytest.mark.django
def test_extent_of_each_geometry_kind_reprojected_to_wgs84(django_project):
    from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
    from solrsync.contrib.django.source import DjangoSource
    from solrsync.documents import BBox, Document, Field, InvalidBBox
    box = Polygon.from_bbox((BERLIN[0], BERLIN[2], BERLIN[1], BERLIN[3]))
    box.srid = 4326
    assert DjangoSource.extent(box) == BERLIN
    native = box.transform(3857, clone=True)  # as GeoNode keeps bbox_polygon: the layer's own SRID
    assert native.srid == 3857 and close(DjangoSource.extent(native), BERLIN)
    multi = MultiPolygon(Polygon.from_bbox((0, 0, 1, 1)), Polygon.from_bbox((170, -10, 179, 10)), srid=4326)
    assert DjangoSource.extent(multi) == (0, 179, -10, 10)
    assert DjangoSource.extent(Point(7.5, 50.25, srid=4326)) == (7.5, 7.5, 50.25, 50.25)
    assert DjangoSource.extent(GEOSGeometry("SRID=4326;POLYGON EMPTY")) == (None, None, None, None)
    assert DjangoSource.extent(None) == (None, None, None, None)
    with pytest.raises(InvalidBBox, match="cannot reproject the geometry from SRID 999999"):
        DjangoSource.extent(Point(1, 2, srid=999999))

    class Doc(Document):
        id = Field("pk")
        bbox = BBox("geom")

    typed = Doc.typed(lambda path: None, DjangoSource.extent)
    # the same repair and drop rules as four numbers: float noise clamped, a latitude of 95 dropped
    noisy = Polygon.from_bbox((-180.0000000001, -90, 180, 90))
    noisy.srid = 4326
    bad = Polygon.from_bbox((0, 0, 1, 95))
    bad.srid = 4326
    assert typed.build({"pk": 1, "geom": noisy}) == ({"id": "1", "bbox": "ENVELOPE(-180.0, 180.0, 90.0, -90.0)"}, [])
    assert typed.build({"pk": 2, "geom": bad}) == ({"id": "2"}, ["bbox: latitude 95.0 is beyond +-90"])
    # untyped (the engine alone), a geometry is not read: dropped with a warning, never a crash
    assert Doc.build({"pk": 3, "geom": box})[1] == ["bbox: Polygon is not four numbers (a geometry needs its "
                                                    "integration's extent)"]


SCRIPT = r"""
import json, os
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from geo.models import Area
from solrsync.contrib.django.runtime import get_syncer

def box(x0, x1, y0, y1, srid=4326):
    p = Polygon.from_bbox((x0, y0, x1, y1)); p.srid = 4326
    return p.transform(srid, clone=True) if srid != 4326 else p

berlin = Area.objects.create(title="Berlin", bbox_polygon=box(13.08, 13.76, 52.33, 52.68, 3857),
                             ll_bbox_polygon=box(13.08, 13.76, 52.33, 52.68),
                             footprint=MultiPolygon(box(0, 1, 0, 1), box(170, 179, -10, 10)),
                             centre=Point(13.4, 52.5, srid=4326))
bad = Area.objects.create(title="Bad latitude", ll_bbox_polygon=box(0, 1, 0, 95))
empty = Area.objects.create(title="Nowhere")
gone = Area.objects.create(title="Gone", centre=Point(1, 2, srid=4326))
get_syncer().drain("areas", coalesce=False)
moved = box(-10, 10, -5, 5)
if os.environ["SOLRSYNC_CAPTURE"] == "triggers":
    Area.objects.filter(pk=empty.pk).update(ll_bbox_polygon=moved)  # what only the triggers see
else:
    empty.ll_bbox_polygon = moved
    empty.save()
berlin.centre = Point(13.5, 52.4, srid=4326)  # a save() moving a point
berlin.save()
pks = {"berlin": berlin.pk, "bad": bad.pk, "empty": empty.pk, "gone": gone.pk}
gone.delete()
get_syncer().drain("areas", coalesce=False)
print(json.dumps(pks))
"""


def gis_database(kind, tmp_path, request):
    """-> environment for the demo project on ``kind`` with GeoDjango, or pytest.skip saying why."""
    if kind == "spatialite":
        module, why = loadable_sqlite3()  # what the demo's settings swap in for sqlite3
        if module is None:
            pytest.skip("SpatiaLite: " + why)
        if not ctypes.util.find_library("spatialite") and not os.path.exists(
                "/usr/lib/x86_64-linux-gnu/mod_spatialite.so"):
            pytest.skip("SpatiaLite is not installed (Debian: libsqlite3-mod-spatialite)")
        return {"SOLRSYNC_DEMO_DBNAME": str(tmp_path / "geo.sqlite3")}
    require_service("PostgreSQL", 5432)
    import psycopg
    # named after the suite's PostgreSQL database (runs side by side keep apart), else this process
    name = "test_%s_gis" % (os.environ.get("SOLRSYNC_DEMO_DBNAME", "solrsync")
                            if os.environ.get("SOLRSYNC_DEMO_DB") == "postgres" else "solrsync_%d" % os.getpid())
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
            pytest.skip("PostGIS is not installed (Debian: postgresql-15-postgis-3)")
        conn.execute('DROP DATABASE IF EXISTS "%s"' % name)
        conn.execute('CREATE DATABASE "%s"' % name)
    request.addfinalizer(lambda: drop_database(name))
    return {"SOLRSYNC_DEMO_DB": "postgres", "SOLRSYNC_DEMO_DBNAME": name}


def drop_database(name):
    import psycopg
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute('DROP DATABASE IF EXISTS "%s"' % name)


@needs_gis
@pytest.mark.parametrize("capture", ["triggers", "signals"])
@pytest.mark.parametrize("kind", ["postgis", "spatialite"])
def test_geometries_reach_solr_as_bboxes_on_each_spatial_database(solr, kind, capture, tmp_path, request):
    """Creates, an update() (triggers) or a save() (signals) setting a polygon, a save() moving a
    point, a delete: Solr ends equal to what the database builds now, field by field (--verify)."""
    solr.need_emulator("a core the test adds fields to")
    env = dict(os.environ, SOLRSYNC_DEMO_GIS="1", SOLRSYNC_DEMO_VAR=str(tmp_path), SOLRSYNC_SOLR_URL=solr.url,
               SOLRSYNC_QUEUE_URL="immediate", SOLRSYNC_COALESCE_MS="0", SOLRSYNC_CAPTURE=capture,
               SOLRSYNC_PIPELINES=json.dumps({"areas": {"class": "geo.pipelines.AreaPipeline"}}))
    env.pop("SOLRSYNC_DEMO_DB", None)
    env.update(gis_database(kind, tmp_path, request))

    def manage(*args):
        proc = subprocess.run([sys.executable, "manage.py", *args], cwd=str(DEMO), env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    manage("migrate", "-v0")
    manage("solrsync", "configset", "areas", "--apply")
    run = manage("shell", "-c", SCRIPT)
    pks = json.loads(run.stdout.strip().splitlines()[-1])
    assert "Traceback" not in run.stderr, run.stderr
    assert re.search(r"areas %d \(pk %d\): ll_bbox: latitude 95\.0 is beyond \+-90 -- indexed without it"
                     % (pks["bad"], pks["bad"]), run.stderr), run.stderr
    solr.post("update", {"commit": {}})
    docs = {d["id"]: d for d in solr.select("*:*", fl="*", rows=10)["docs"]}
    berlin = docs[str(pks["berlin"])]
    assert close(envelope_numbers(berlin["bbox"]), BERLIN)  # from EPSG:3857
    assert envelope_numbers(berlin["ll_bbox"]) == BERLIN
    assert envelope_numbers(berlin["footprint"]) == (0, 179, -10, 10)
    assert envelope_numbers(berlin["centre"]) == (13.5, 13.5, 52.4, 52.4)  # the save()
    bad = docs[str(pks["bad"])]
    assert bad["title"] == "Bad latitude" and "ll_bbox" not in bad  # the layer indexed without it
    assert envelope_numbers(docs[str(pks["empty"])]["ll_bbox"]) == (-10, 10, -5, 5)  # the update() or save()
    assert str(pks["gone"]) not in docs and len(docs) == 3  # the delete
    verify = subprocess.run([sys.executable, "manage.py", "solrsync", "reindex", "areas", "--verify", "--quiet"],
                            cwd=str(DEMO), env=env, capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0 and "0 missing, 0 stale, 0 orphaned, 0 filtered out" in verify.stdout, (
        verify.stdout + verify.stderr)


def test_an_sqlite3_that_loads_extensions_is_found_or_the_reason_said(monkeypatch):
    """The standard sqlite3 when it loads extensions; else pysqlite3; else one line saying why (the
    SpatiaLite runs skip with it)."""
    import types
    from demoproject import spatialite

    class Loads:
        def enable_load_extension(self, on):
            pass

    stdlib = types.ModuleType("sqlite3")
    stdlib.Connection = type("Connection", (), {})  # as pyenv's build: no enable_load_extension
    import sqlite3.dbapi2  # noqa: F401 (the real one, put back after the swap below)
    monkeypatch.setitem(sys.modules, "sqlite3.dbapi2", sys.modules["sqlite3.dbapi2"])
    monkeypatch.setitem(sys.modules, "sqlite3", stdlib)
    monkeypatch.setitem(sys.modules, "pysqlite3", None)  # not installed
    module, why = spatialite.loadable_sqlite3()
    assert module is None and "pysqlite3 is not installed" in why and "libsqlite3-dev" in why
    other = types.ModuleType("pysqlite3")
    other.dbapi2 = types.ModuleType("pysqlite3.dbapi2")
    other.dbapi2.Connection = Loads
    other.__path__ = []
    monkeypatch.setitem(sys.modules, "pysqlite3", other)
    monkeypatch.setitem(sys.modules, "pysqlite3.dbapi2", other.dbapi2)
    assert spatialite.loadable_sqlite3() == (other, None)
    spatialite.use_loadable_sqlite3()
    assert sys.modules["sqlite3"] is other and sys.modules["sqlite3.dbapi2"] is other.dbapi2
    stdlib.Connection = Loads  # a Python built with --enable-loadable-sqlite-extensions: kept
    monkeypatch.setitem(sys.modules, "sqlite3", stdlib)
    assert spatialite.loadable_sqlite3() == (stdlib, None)
