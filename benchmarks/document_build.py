"""CPU to build the demo's layer documents from flat rows (what a reindex does per row), before and
after values were put in their Solr type's form (issue 19, item 5).

    .venv/bin/python benchmarks/document_build.py --rows 20000 --rounds 9 --against 0ef2961

Times ``LayerDocument.build`` over the same flat rows: (a) solrsync/documents.py as it was at
``--against`` (loaded from git into a module of its own), (b) the class as declared now, (c) the
class typed as DjangoSource types it (``Document.typed``: Solr types of each path). Prints the
median per round and the ratios to (a).
"""
import argparse
import datetime as dt
import importlib.util
import inspect
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from pipelines.layers import LayerDocument  # noqa: E402 (after the path is set)

# the shipped declaration, compiled again against each version of solrsync/documents.py
FIELDS = inspect.getsource(LayerDocument)
# what DjangoSource.solr_field answers for the demo's Layer
TYPES = {"name": ("string", False), "category.identifier": ("string", False), "owner.username": ("string", False),
         "keywords.name": ("string", False), "regions.name": ("string", False)}


def document_class(module):
    scope = {k: getattr(module, k) for k in ("BBox", "Date", "Document", "Field", "Multi", "Text")}
    exec(FIELDS, scope)
    return scope["LayerDocument"]


def rows(n):
    when = dt.datetime(2024, 1, 1, 12, 30, tzinfo=dt.timezone.utc)
    return [{"pk": i, "uuid": "uuid-%d" % i, "name": "layer_%d" % i, "title": "Roads of town %d" % i,
             "abstract": "Street network of town %d" % i, "bbox_x0": 13.08, "bbox_x1": 13.76, "bbox_y0": 52.33,
             "bbox_y1": 52.68, "category.identifier": "transportation", "date": when, "owner.username": "admin",
             "keywords.name": ["roads", "town %d" % (i % 50)], "regions.name": ["Europe"]} for i in range(n)]


def old_module(rev):
    text = subprocess.run(["git", "show", "%s:solrsync/documents.py" % rev], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    path = os.path.join(tempfile.mkdtemp(), "documents_%s.py" % rev)
    with open(path, "w") as f:
        f.write(text)
    spec = importlib.util.spec_from_file_location("documents_%s" % rev, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--against", default="0ef2961", help="the revision to compare with")
    args = parser.parse_args()
    from solrsync import documents
    data = rows(args.rows)
    sides = {"(a) %s" % args.against: document_class(old_module(args.against)),
             "(b) declared": document_class(documents)}
    sides["(c) typed"] = sides["(b) declared"].typed(TYPES.get)
    times = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, cls in sides.items():  # interleaved: the machine's load falls on every side alike
            began = time.perf_counter()
            for row in data:
                cls.build(row)
            times[name].append(time.perf_counter() - began)
    base = statistics.median(times["(a) %s" % args.against])
    print("%s, Python %s, %d rows x %d rounds (medians)" % (platform.processor() or platform.machine(),
                                                            platform.python_version(), args.rows, args.rounds))
    for name, values in times.items():
        median = statistics.median(values)
        print("  %-16s %7.1f ms  %5.2f us/document  x%.2f" % (name, median * 1000, median / args.rows * 1e6,
                                                              median / base))


if __name__ == "__main__":
    main()
