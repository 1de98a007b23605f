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


def blocks():
    """[(language, text)] of the section's fenced code blocks, in order."""
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return re.findall(r"^```(\w+)\n(.*?)^```$", text[start:end if end > 0 else None], re.S | re.M)


def test_the_readme_blocks_are_what_the_test_runs():
    kinds = [(lang, body.splitlines()[0]) for lang, body in blocks() if lang == "python"]
    assert kinds[:4] == [("python", "# library/models.py"), ("python", "# library/search.py"),
                         ("python", "# mysite/settings.py: add at the end"), ("python", "# python manage.py shell")]


def test_index_your_own_model_as_the_readme_says(tmp_path):
    port = free_port()
    env = dict(os.environ, PYTHONPATH="", DJANGO_SETTINGS_MODULE="mysite.settings")
    for key in [k for k in env if k.startswith("SOLRSYNC_")]:
        del env[key]  # the project's own settings, nothing of the test suite's
    background = []

    def run(cmd, **kw):
        proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, **kw)
        assert proc.returncode == 0, "%s\n%s\n%s" % (cmd, proc.stdout, proc.stderr)
        return proc.stdout

    def command(line):
        args = shlex.split(line.replace("8983", str(port)))
        return [sys.executable if args[0] == "python" else args[0]] + args[1:]

    run([sys.executable, "-m", "django", "startproject", "mysite", "."])
    run([sys.executable, "manage.py", "startapp", "library"])
    outputs = []
    try:
        for lang, body in blocks():
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
