"""Another revision's code (``main``: the code before a branch's changes) for a benchmark's "before"
side, run in its own process beside this one, in the same invocation, on the same database and
Solr: ``checkout(ref)`` extracts that revision (``git archive``) into a temporary directory;
``environ(directory)`` is the environment under which this virtualenv's Python imports
``solrsync`` (and its ``contrib`` and ``pipelines``) from there instead of this tree -- for a
child process of the benchmark or a ``huey_consumer``. The editable install maps those packages
to this tree by a finder on ``sys.meta_path``; a ``sitecustomize`` put first on PYTHONPATH
points that finder's mapping at the other directory before anything is imported.
"""
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The finder also goes first on sys.meta_path: a benchmark that puts this tree on sys.path (to
# import its helpers) would otherwise have ``solrsync`` found there by the path finder, and only
# ``solrsync.contrib`` and ``solrsync.pipelines`` from the other tree (seen: drain.py's "before"
# side ran this tree's engine with the other's Django app).
_SITECUSTOMIZE = '''\
import os, sys
_root = os.environ["SOLRSYNC_BENCH_CODE"]
for _finder in list(sys.meta_path):
    _mapping = getattr(sys.modules.get(getattr(_finder, "__module__", ""), None), "MAPPING", None)
    if isinstance(_mapping, dict) and "solrsync" in _mapping:
        _mapping.update({"solrsync": os.path.join(_root, "solrsync"),
                         "solrsync.contrib": os.path.join(_root, "contrib"),
                         "solrsync.pipelines": os.path.join(_root, "pipelines")})
        sys.meta_path.remove(_finder)
        sys.meta_path.insert(0, _finder)
'''


def checkout(ref):
    """The tree of ``ref`` extracted into a new temporary directory -> its path."""
    where = tempfile.mkdtemp(prefix="solrsync-%s-" % ref.replace("/", "-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    with open(os.path.join(where, "sitecustomize.py"), "w") as f:
        f.write(_SITECUSTOMIZE)
    return where


def environ(directory, base=None):
    """``base`` (default: os.environ) with PYTHONPATH and SOLRSYNC_BENCH_CODE set so that a Python
    started with it imports solrsync from ``directory`` (a ``checkout``)."""
    env = dict(os.environ if base is None else base)
    env["SOLRSYNC_BENCH_CODE"] = directory
    env["PYTHONPATH"] = os.pathsep.join([directory] + [p for p in [env.get("PYTHONPATH")] if p])
    return env
