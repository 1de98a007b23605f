"""Solr administration: cores (CoreAdmin) -- what a rebuild needs to create, swap and remove them.

Over plain requests: pysolr's SolrCoreAdmin sends its parameters in a GET body, so every action
acts as STATUS (../shared/notes/huey-pysolr-facts.md).
"""
import requests

from .sink import SolrRequestError, SolrUnavailable


def core_admin(settings, **params):
    """One CoreAdmin action; SolrUnavailable when Solr does not answer, SolrRequestError with
    Solr's own message when it refuses."""
    params.setdefault("wt", "json")
    url = settings.solr_base + "/admin/cores"
    try:
        resp = requests.get(url, params=params, timeout=max(60, settings.SOLR_TIMEOUT), verify=settings.SOLR_VERIFY_TLS,
                            auth=settings.solr_auth)
    except requests.RequestException as exc:
        raise SolrUnavailable("CoreAdmin %s: %s" % (params.get("action"), exc))
    if resp.status_code != 200:
        try:
            msg = resp.json()["error"]["msg"]
        except (ValueError, KeyError):
            msg = resp.text[:300]
        raise SolrRequestError(resp.status_code, "CoreAdmin %s failed: %s" % (params.get("action"), msg))
    return resp.json()


def create_core(settings, name, configset):
    return core_admin(settings, action="CREATE", name=name, instanceDir=name, configSet=configset)


def swap_cores(settings, core, other):
    return core_admin(settings, action="SWAP", core=core, other=other)


def unload_core(settings, name):
    """Unload a core and remove all it had on disk (index, transaction logs, instance dir)."""
    return core_admin(settings, action="UNLOAD", core=name, deleteIndex="true", deleteDataDir="true",
                      deleteInstanceDir="true")
