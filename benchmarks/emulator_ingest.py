"""How fast the Solr emulator ingests JSON batch adds of layer documents (issue: it must never be
the bottleneck of our own benchmarks; target >= 10,000 docs/s with batches of 1,000).

    .venv/bin/python benchmarks/emulator_ingest.py [--docs 50000] [--batch 1000] [--rounds 5]
    .venv/bin/python benchmarks/emulator_ingest.py --docs 100000 --searches 10

Prints the median docs/s over the rounds and each round's figure. With ``--searches N``, then N
rounds of: one document changed and committed (a new searcher), then two documents looked up by
their ids -- the new searcher's first scored query (its statistics) and the next one -- as a
visibility probe does; medians of each. Run from another revision's tree for its figures.
"""
import argparse
import json
import platform
import statistics
import sys
import time
import os

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from solrsync.testing.emulator import SolrEmulator  # noqa: E402


def layer_docs(n):
    out = []
    for i in range(n):
        x0 = -170 + (i * 7) % 330
        y0 = -80 + (i * 3) % 150
        out.append({"id": "layer-%08d" % i, "name": "layer_%d" % i, "title": "Roads of place %d" % i,
                    "abstract": "Street network survey number %d with some words to index" % i,
                    "bbox": "ENVELOPE(%s, %s, %s, %s)" % (x0, x0 + 5.5, y0 + 4.25, y0),
                    "category": "transportation", "modified_date": "2020-01-%02dT10:00:00Z" % (1 + i % 28),
                    "username": "user%d" % (i % 50), "keywords": ["roads", "osm", "k%d" % (i % 100)],
                    "regions": ["Region %d" % (i % 30)],
                    "solrsync_version": 1})  # the configset orders writes by it: every add carries one
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=50000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--searches", type=int, default=0, metavar="N", help="then N rounds of lookups by id")
    args = ap.parse_args()
    docs = layer_docs(args.docs)
    bodies = [json.dumps(docs[i:i + args.batch]) for i in range(0, len(docs), args.batch)]
    rates = []
    with SolrEmulator() as emu:
        session = requests.Session()
        url = emu.core_url("layers") + "/update?commitWithin=1500&wt=json"
        for _ in range(args.rounds):
            emu.reset()
            started = time.perf_counter()
            for body in bodies:
                r = session.post(url, data=body, headers={"Content-Type": "application/json"})
                assert r.status_code == 200, r.text
            rates.append(len(docs) / (time.perf_counter() - started))
        first, next_ = [], []
        select = emu.core_url("layers") + "/select"
        for i in range(args.searches):
            changed = dict(docs[i], title="Changed %d" % i, solrsync_version=2 + i)
            assert session.post(url.replace("commitWithin=1500", "commit=true"), json=[changed]).status_code == 200
            for times, doc in ((first, docs[-1 - i]), (next_, docs[-100 - i])):  # another key: not a cached answer
                started = time.perf_counter()
                found = session.get(select, params={"q": "{!term f=id}%s" % doc["id"], "wt": "json"}).json()
                times.append(time.perf_counter() - started)
                assert found["response"]["numFound"] == 1, found
    print("machine: %s, %s cores, Python %s" % (platform.machine(), os.cpu_count(), platform.python_version()))
    print("emulator ingest, %d docs in batches of %d: median %.0f docs/s (rounds: %s)"
          % (len(docs), args.batch, statistics.median(rates), ", ".join("%.0f" % r for r in rates)))
    if args.searches:
        print("a lookup by id on %d docs, median of %d: the new searcher's first %.1f ms, the next %.1f ms"
              % (len(docs), args.searches, statistics.median(first) * 1e3, statistics.median(next_) * 1e3))


if __name__ == "__main__":
    main()
