"""The solrsync demo: a GeoNode-like Layer model indexed into Solr through huey.

Embedded defaults: SQLite for the data, SQLite for the queue, Solr at SOLRSYNC_SOLR_URL (the
demo starts the emulator there unless you point it at a real Solr core). For the test suite,
SOLRSYNC_DEMO_DB=postgres switches the database to PostgreSQL on 127.0.0.1.
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("SOLRSYNC_DEMO_VAR", BASE_DIR / "var"))
VAR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# the tests run a process with USE_TZ=False and another TIME_ZONE (one clock for ages, whatever these say)
USE_TZ = os.environ.get("SOLRSYNC_DEMO_USE_TZ", "1") == "1"
TIME_ZONE = os.environ.get("SOLRSYNC_DEMO_TIME_ZONE", "UTC")
if os.environ.get("SOLRSYNC_DEMO_LAYERS_MIGRATIONS"):  # a test's migration history for the layers app
    MIGRATION_MODULES = {"layers": os.environ["SOLRSYNC_DEMO_LAYERS_MIGRATIONS"]}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "solrsync.contrib.django",
    "layers",
    "fieldtypes",  # tests: a field of every type (SOLRSYNC_PIPELINES names its pipeline when wanted)
]
if os.environ.get("SOLRSYNC_DEMO_ZOO") == "1":  # the test suite's model zoo (tests/zoo), taggit, polymorphic
    import sys
    sys.path.insert(0, str(BASE_DIR.parent.parent.parent / "tests"))
    INSTALLED_APPS += ["taggit", "polymorphic", "zoo"]

if os.environ.get("SOLRSYNC_DEMO_USERS") == "1":  # a swapped user model (GeoNode's people.Profile): a fresh database only
    INSTALLED_APPS += ["people"]
    AUTH_USER_MODEL = "people.Profile"

if os.environ.get("SOLRSYNC_DEMO_DB") == "postgres":
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("SOLRSYNC_DEMO_DBNAME", "test"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PORT": os.environ.get("PGPORT", "5432"),
    }}
else:
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SOLRSYNC_DEMO_DBNAME", str(VAR / "demo.sqlite3")),
        "TEST": {"NAME": str(VAR / "test.sqlite3")},
        # writers take the lock up front: a worker's claim never dead-ends against a save
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }}

# SOLRSYNC_DEMO_GIS=1: GeoDjango's backends (PostGIS, SpatiaLite) and the geo app (tests of BBox on
# geometries; needs GDAL and GEOS, and PostGIS or SpatiaLite installed)
if os.environ.get("SOLRSYNC_DEMO_GIS") == "1":
    DATABASES["default"]["ENGINE"] = {"django.db.backends.postgresql": "django.contrib.gis.db.backends.postgis",
                                      "django.db.backends.sqlite3": "django.contrib.gis.db.backends.spatialite"}[
        DATABASES["default"]["ENGINE"]]
    INSTALLED_APPS += ["django.contrib.gis", "geo"]
    if DATABASES["default"]["ENGINE"].endswith("spatialite"):
        from demoproject.spatialite import use_loadable_sqlite3
        use_loadable_sqlite3()  # SpatiaLite is an SQLite extension: an sqlite3 that loads them

SOLRSYNC = {
    "SOLR_URL": "http://127.0.0.1:8983/solr/layers",
    "QUEUE_URL": "sqlite:///%s" % (VAR / "queue.sqlite3"),
    # two pipelines in one core: each document says which wrote it (README: Pipelines sharing a core)
    "PIPELINES": {"layers": {}, "maps": {"class": "layers.pipelines.MapPipeline"}},
    # queue messages are signed (HMAC); consumers refuse unsigned ones
    "QUEUE_SECRET": os.environ.get("SOLRSYNC_QUEUE_SECRET", SECRET_KEY),
}
# the djhuey way: `manage.py run_huey` and `huey_consumer solrsync.contrib.django.queue.huey` run this queue
from solrsync.queue import huey_for  # noqa: E402

HUEY = huey_for(SOLRSYNC)

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "demoproject.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"solrsync": {"handlers": ["console"], "level": os.environ.get("SOLRSYNC_LOGLEVEL", "WARNING")},
                "huey": {"handlers": ["console"], "level": "WARNING"}},
}
