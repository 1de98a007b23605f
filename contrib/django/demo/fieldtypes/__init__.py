"""A model with a field of every type Django offers, indexed field by field as it is (tests of
issue 19: each value reaches Solr in the form its generated Solr type accepts)."""
