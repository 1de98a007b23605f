"""README's "Index your own model", run as written: a fresh Django project, the README's own code
blocks as its files and commands, the emulator as its Solr (on a port of the test's own)."""
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solrsync.testing import free_port

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Index your own model"


GIS = "### With GeoDjango"


def blocks(gis=False):
    """[(language, text)] of the section's fenced code blocks, in order: those of the walk-through,
    or (``gis``) those of its GeoDjango variant."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end > 0 else None]
    split = section.index(GIS)
    section = section[split:] if gis else section[:split]
    return re.findall(r"^```(\w+)\n(.*?)^```$", section, re.S | re.M)


def test_the_readme_blocks_are_what_the_test_runs():
    kinds = [(lang, body.splitlines()[0]) for lang, body in blocks() if lang == "python"]
    assert kinds[:4] == [("python", "# library/models.py"), ("python", "# library/search.py"),
                         ("python", "# mysite/settings.py: add at the end"), ("python", "# python manage.py shell")]
    assert [body.splitlines()[0] for _, body in blocks(gis=True)] == [
        "# library/models.py: replace Book with", "# library/search.py: replace BookDocument with",
        "# mysite/settings.py: add at the end", "# python manage.py shell: in place of the one above"]


def with_gis(main, database):
    """The walk-through's blocks with the GeoDjango variant's in place: a class replaced, the
    settings added to (``database``: settings pointing at PostGIS when SpatiaLite cannot load),
    the shell block swapped."""
    variant = {body.splitlines()[0]: body.split("\n", 1)[1] for _, body in blocks(gis=True)}
    out = []
    for lang, body in main:
        first = body.splitlines()[0]
        for header, new in variant.items():
            path, _, what = header[2:].partition(": ")
            if lang != "python":
                continue
            if what.startswith("replace ") and first == "# " + path:
                name = what.split()[1]
                at = re.search(r"^class ", new, re.M).start()
                imports, cls = new[:at], new[at + len("class "):]
                body = re.sub(r"^class %s\(.*?(?=^\S|\Z)" % name, lambda m: "class " + cls + "\n\n",
                              body, count=1, flags=re.S | re.M)
                if imports.strip():  # after the block's header line
                    body = body.replace("\n", "\n" + imports.strip() + "\n", 1)
            elif what == "add at the end" and first == header:
                body = body + new + database
            elif what.startswith("in place of") and first == "# " + path:
                body = first + "\n" + new
        out.append((lang, body))
    return out


def test_index_your_own_model_as_the_readme_says(tmp_path):
    walk(tmp_path, blocks())


def gis_database():
    """-> settings to add for the GeoDjango run: none on SpatiaLite, else a fresh PostGIS database;
    pytest.skip saying why neither can be had."""
    import ctypes.util
    import sqlite3
    missing = [name for name, lib in (("GDAL", "gdal"), ("GEOS", "geos_c")) if not ctypes.util.find_library(lib)]
    if missing:
        pytest.skip("GeoDjango needs %s (Debian: gdal-bin, libgeos-c1v5)" % " and ".join(missing))
    if hasattr(sqlite3.connect(":memory:"), "enable_load_extension") and ctypes.util.find_library("spatialite"):
        return ""
    from conftest import require_service
    require_service("PostgreSQL", 5432)
    import psycopg
    from test_custom_user import postgres_database
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone():
            pytest.skip("this Python's sqlite3 cannot load SpatiaLite, and PostGIS is not installed")
    name = postgres_database("readme")
    return ("# the test's: this Python's sqlite3 cannot load SpatiaLite\nDATABASES['default'] = {'ENGINE': "
            "'django.contrib.gis.db.backends.postgis', 'NAME': %r, 'HOST': '127.0.0.1', 'USER': 'postgres'}\n" % name)


def test_index_your_own_model_with_a_geodjango_extent_as_the_readme_says(tmp_path):
    database = gis_database()
    try:
        walk(tmp_path, with_gis(blocks(), database))
    finally:
        if database:
            from test_custom_user import postgres_database
            postgres_database("readme", drop=True)


def walk(tmp_path, blocks):
    port = free_port()
    env = dict(os.environ, PYTHONPATH="", DJANGO_SETTINGS_MODULE="mysite.settings")
    for key in [k for k in env if k.startswith("SOLRSYNC_")]:
        del env[key]  # the project's own settings, nothing of the test suite's
    background = []

    def run(cmd, **kw):
        proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, **kw)
        assert proc.returncode == 0, "%s\n%s\n%s" % (cmd, proc.stdout, proc.stderr)
        return proc.stdout

    def command(line):  # a line of a block whose 8983 is already the test's port (again, 38983 became 338983)
        args = shlex.split(line)
        return [sys.executable if args[0] == "python" else args[0]] + args[1:]

    run([sys.executable, "-m", "django", "startproject", "mysite", "."])
    run([sys.executable, "manage.py", "startapp", "library"])
    outputs = []
    try:
        for lang, body in blocks:
            body = body.replace("8983", str(port))
            first = body.splitlines()[0]
            if lang == "python" and first == "# python manage.py shell":
                run([sys.executable, "manage.py", "shell"], input=body)
            elif lang == "python" and first.endswith(": add at the end"):
                with open(tmp_path / first[2:].split(":")[0], "a") as f:
                    f.write("\n" + body)
            elif lang == "python":
                (tmp_path / first[2:]).write_text(body)
            else:
                for line in body.splitlines():
                    line = line.split("  #")[0].strip()
                    if not line or line.startswith("#"):
                        continue
                    if line.endswith("&"):
                        log = open(tmp_path / ("background-%d.log" % len(background)), "w")
                        background.append(subprocess.Popen(command(line[:-1]), cwd=str(tmp_path), env=env,
                                                           stdout=log, stderr=subprocess.STDOUT))
                        _wait_for_port(port) if "emulator" in line else time.sleep(1)
                    elif line.startswith("python search_books.py"):
                        outputs.append(_until(lambda: run(command(line)), "The Dispossessed"))
                    else:
                        outputs.append(run(command(line)))
        assert outputs[-3].strip() == "The Dispossessed by Ursula K. Le Guin ['anarchism', 'utopia']"
        assert "books: verified 1 documents" in outputs[-2] and "0 missing, 0 stale" in outputs[-2]
        # a rename of a related row reaches Solr too, and --verify agrees
        run([sys.executable, "manage.py", "shell", "-c",
             "from library.models import Author; Author.objects.update(name='U. K. Le Guin')"])
        assert "by U. K. Le Guin" in _until(lambda: run(command("python search_books.py")), "U. K.")
        assert "0 stale" in run(command("python manage.py solrsync reindex books --verify"))
        # the parent's table (Work) and taggit's, written with update(): captured by their triggers
        run([sys.executable, "manage.py", "shell", "-c",
             "from library.models import Work; from taggit.models import Tag; "
             "Work.objects.update(title='The Dispossessed, revised'); Tag.objects.filter(name='utopia').update("
             "name='utopias')"])
        assert "revised by U. K. Le Guin ['anarchism', 'utopias']" in _until(
            lambda: run(command("python search_books.py")), "utopias")
        assert "0 stale" in run(command("python manage.py solrsync reindex books --verify"))
    finally:
        for proc in background:
            proc.send_signal(signal.SIGINT)
        for proc in background:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def _wait_for_port(port, timeout=20):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("the emulator did not start on port %d" % port)


def _until(fn, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    out = fn()
    while wanted not in out and time.monotonic() < deadline:
        time.sleep(0.3)
        out = fn()
    return out
