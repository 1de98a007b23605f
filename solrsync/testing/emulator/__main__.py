"""``python -m solrsync.testing.emulator``: serve a Solr emulator until interrupted."""
import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET

from . import SolrEmulator
from .schema import SolrHTTPError
from .versions import DEFAULT_MAJOR, SPEC


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m solrsync.testing.emulator",
                                     description="Serve a Solr emulator on 127.0.0.1 (or --host) until interrupted.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8983)
    parser.add_argument("--core", action="append", metavar="NAME[=CONFDIR]",
                        help="a core, served from CONFDIR (a configset's conf directory) or else --configset "
                             "(repeatable; default: layers)")
    parser.add_argument("--configset", help="conf directory of the cores named without one (default: solrsync's layers)")
    parser.add_argument("--configsets", metavar="DIR",
                        help="directory of configsets (DIR/NAME/conf) for CoreAdmin CREATE configSet=NAME "
                             "(default: the ones solrsync ships)")
    parser.add_argument("--record-updates", action="store_true",
                        help="keep each update request's arrival, end, client and ids for GET /solr/_emulator/updates")
    parser.add_argument("--cloud", action="store_true",
                        help="act as a SolrCloud node: each --core an alias of a 2-shard collection CORE_1")
    parser.add_argument("--solr-version", type=int, choices=sorted(SPEC), default=DEFAULT_MAJOR,
                        help="answer as this Solr major version where they differ: %s (default %d)" % (
                            ", ".join("%d (%s)" % kv for kv in sorted(SPEC.items())), DEFAULT_MAJOR))
    args = parser.parse_args(argv)
    cores = {}
    for spec in args.core or ["layers"]:
        name, _, conf = spec.partition("=")
        if not name or (conf and not os.path.isfile(os.path.join(conf, "solrconfig.xml"))):
            parser.error("--core %s: give NAME or NAME=CONFDIR, CONFDIR holding solrconfig.xml" % spec)
        cores[name] = conf or None
    for path, what in ((args.configset, "--configset"), (args.configsets, "--configsets")):
        if path and not os.path.isdir(path):
            parser.error("%s %s: no such directory" % (what, path))
    try:
        emu = SolrEmulator(host=args.host, port=args.port, cores=cores, configset=args.configset,
                           configsets=args.configsets, cloud=args.cloud, record_updates=args.record_updates,
                           solr_version=args.solr_version).start()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or not exc.strerror:
            print("solr emulator: %s" % exc, file=sys.stderr)
        else:
            print("solr emulator: cannot listen on %s:%d: %s" % (args.host, args.port, exc.strerror), file=sys.stderr)
        return 2
    except (SolrHTTPError, ET.ParseError) as exc:  # a configset Solr could not load either
        print("solr emulator: cannot load a core's configset: %s" % exc, file=sys.stderr)
        return 2
    print("Solr emulator listening: %s (cores: %s; answering as Solr %s)" % (
        emu.url, ", ".join(emu.cores), emu.solr_version.spec), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
