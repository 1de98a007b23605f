"""CoreAdmin (/solr/admin/cores) and the configsets directory CREATE reads from."""
import os
import pathlib
import shutil
import tempfile

from .core import Core
from .schema import SolrHTTPError, bad_request


def read_configsets(directory):
    """{name: conf dir} of the configsets in ``directory`` (each ``NAME/conf`` holding solrconfig.xml)."""
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError("configsets directory %s does not exist" % directory)
    return {path.parent.name: path for path in sorted(directory.glob("*/conf"))
            if (path / "solrconfig.xml").is_file()}


def core_admin(emu, params):
    """CoreAdmin: STATUS, CREATE (from a configset or an instance dir), UNLOAD, RELOAD, SWAP."""
    action = params.get("action", ["STATUS"])[0].upper()
    name = params.get("core", params.get("name", [None]))[0]
    with emu.lock:
        if action == "STATUS" and emu.cloud is not None:
            return {"initFailures": {}, "status": emu.cloud.core_status([name] if name else [])}
        if action == "STATUS":
            names = [name] if name else sorted(emu.cores)
            return {"initFailures": {}, "status": {n: (emu.cores[n].status() if n in emu.cores else {})
                                                   for n in names}}
        if action == "CREATE":
            if not name:
                raise bad_request("Missing parameter [name]")
            if name in emu.cores:
                raise SolrHTTPError(500, "Core with name '%s' already exists." % name)
            conf = _find_conf(emu, params, name)
            if emu.home is None:
                emu.home = tempfile.mkdtemp(prefix="solr-emulator-home-")
            instance = os.path.join(emu.home, os.path.basename(params.get("instanceDir", [name])[0]) or name)
            os.makedirs(instance, exist_ok=True)
            with open(os.path.join(instance, "core.properties"), "w") as f:
                f.write("name=%s\n" % name)
            with emu.lock:
                emu.cores[name] = Core(name, conf, instance_dir=instance, solr_version=emu.solr_version)
            return {"core": name}
        if name not in emu.cores:
            raise bad_request("No such core: %s" % name if action != "UNLOAD"
                              else "Cannot unload non-existent core [%s]" % name)
        if action == "UNLOAD":
            # as Solr: the instance dir (index and transaction logs in it) goes with deleteInstanceDir
            gone = emu.cores.pop(name)
            if params.get("deleteInstanceDir", ["false"])[0] == "true" and gone.instance_dir:
                shutil.rmtree(gone.instance_dir, ignore_errors=True)
        elif action == "RELOAD":
            core = emu.cores[name]
            core.load_config()
            core.drop_caches()
        elif action == "SWAP":
            other = params.get("other", [None])[0]
            if other not in emu.cores:
                raise bad_request("No such core: %s" % other)
            a, b = emu.cores[name], emu.cores[other]
            a.name, b.name = other, name
            emu.cores[name], emu.cores[other] = b, a
        else:
            raise bad_request("Unsupported operation: %s" % action)
        return {}


def _find_conf(emu, params, name):
    configset = params.get("configSet", [None])[0]
    if configset:
        if configset not in emu.configsets:
            raise bad_request("Error CREATEing SolrCore '%s': Unable to create core [%s] Caused by: Could not "
                              "load configuration from directory configsets/%s" % (name, name, configset))
        return emu.configsets[configset]
    instance = params.get("instanceDir", [name])[0]
    conf = os.path.join(instance, "conf")
    if os.path.isdir(conf):
        return conf
    raise bad_request("Error CREATEing SolrCore '%s': Unable to create core [%s] Caused by: Can't find resource "
                      "'solrconfig.xml' in classpath or '%s'" % (name, name, conf))
