"""What the emulator answers differently as Solr 5, 8 or 9 (``--solr-version``, default 9): each
answer measured on the real 5.3.1, 8.11.2 and 9.4.0 (the differential scenarios assert the same
lines against them, keyed on the major version Solr reports)."""

SPEC = {5: "5.3.1", 8: "8.11.2", 9: "9.4.0"}
DEFAULT_MAJOR = 9


class SolrVersion:
    def __init__(self, major=DEFAULT_MAJOR):
        major = int(major)
        if major not in SPEC:
            raise ValueError("the emulator answers as Solr %s, not %s" % (
                ", ".join(str(m) for m in sorted(SPEC)), major))
        self.major, self.spec = major, SPEC[major]
        self.modern = major >= 8
        # an add without the version field: 5.3.1 answers 400, 8.x/9.x 500
        self.no_version_status = 500 if self.modern else 400
        # {"inc": "x"} on a field holding a number: 8.x/9.x 400, 5.3.1 500 (a NumberFormatException)
        self.bad_inc_status = 400 if self.modern else 500
        # docValues sort of a multi-valued field (by its min asc / max desc): 8.x/9.x only
        self.sorts_multivalued = self.modern
        # /select's numFoundExact: 8.6 on
        self.counts_exactly = self.modern
        # " ENVELOPE(...)": 8.x/9.x trim it, 5.3.1 refuses ("Can't parse point")
        self.trims_shapes = self.modern

    def __repr__(self):
        return "SolrVersion(%d)" % self.major

    def info(self, mode):
        """/admin/info/system's answer."""
        return {"mode": mode, "lucene": {"solr-spec-version": self.spec,
                                         "solr-impl-version": self.spec + " solrsync-emulator"}}

    def date(self, text):
        """A stored date as Solr prints it: 8.x/9.x milliseconds in three digits (``.500Z``),
        5.3.1 without the trailing zeros (``.5Z``)."""
        if self.modern or "." not in text:
            return text
        return text[:-1].rstrip("0").rstrip(".") + "Z"

    def shape_error(self, doc_id, field, value, reason):
        """A bbox spatial4j refuses; ``reason`` in 5.3.1's words ("Couldn't parse shape ...
        com.spatial4j.core.exception...")."""
        if self.modern:
            reason = reason.split("because: ", 1)[-1].replace("com.spatial4j.core", "org.locationtech.spatial4j")
            reason = 'Unable to parse shape given formats "lat,lon", "x y" or as WKT because %s' % reason
        return "ERROR: [doc=%s] Error adding field '%s'='%s' msg=%s" % (doc_id, field, value, reason)

    def forwarded_error(self, reason, leader_url, answering_url, msg):
        """SolrCloud: the answer to an update whose document another shard's leader refused.
        8.x/9.x pass the leader's message on; 5.3.1 only its URL and the status's reason phrase."""
        if self.modern:
            return ("Async exception during distributed update: Error from server at %s/: null\n\n\n\n"
                    "request: %s/\nRemote error message: %s" % (leader_url, leader_url, msg))
        return ("%s\n\n\n\nrequest: %s/update?update.distrib=TOLEADER&distrib.from=%s%%2F&wt=javabin&version=2" % (
            reason, leader_url, answering_url.replace(":", "%3A").replace("/", "%2F")))

    def cloud_core_create_refusal(self, name, params):
        """CoreAdmin CREATE on a SolrCloud node: refused on 8.x/9.x (7.0 ended legacyCloud), each in
        its own words; None on 5.x, which makes a one-shard collection of the core's name."""
        if self.major == 8:
            return "Error CREATEing SolrCore '%s': non legacy mode coreNodeName missing {shard=null}" % name
        if self.major >= 9:
            rest = ", ".join("%s=%s" % (k, v) for k, v in sorted(params.items()) if k not in ("action", "name",
                                                                                             "instanceDir", "wt"))
            return "Error CREATEing SolrCore '%s': coreNodeName missing {%s}" % (name, rest)
        return None
