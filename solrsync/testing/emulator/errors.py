"""The errors the emulator answers with: Solr's status and message, and the 400 it gives for what
it does not emulate (never a silent 200 that a test would take for Solr's answer)."""


class SolrHTTPError(Exception):
    """An error the emulator answers with Solr's status code and message."""

    def __init__(self, code, msg, details=None):
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details  # the Schema API's per-command errors


def bad_request(msg):
    return SolrHTTPError(400, msg)


def not_emulated(feature):
    """A request for something real Solr does that the emulator does not."""
    return SolrHTTPError(400, "solrsync emulator: %s is not emulated" % feature)
