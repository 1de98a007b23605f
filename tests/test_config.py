import pytest

from solrsync.config import ConfigError, load_settings, mask
from solrsync.pipeline import load_pipelines


def test_defaults_and_environment_override():
    s = load_settings({"SOLR_URL": "http://solr:8983/solr"}, environ={"SOLRSYNC_BATCH_SIZE": "250"})
    assert s.BATCH_SIZE == 250 and s.COMMIT_WITHIN_MS == 1500
    assert s.solr_base == "http://solr:8983/solr" and s.solr_core is None


def test_a_core_url_names_the_core():
    s = load_settings({"SOLR_URL": "http://solr:8983/solr/layers_v2"}, environ={})
    assert s.solr_base == "http://solr:8983/solr"
    assert load_pipelines(s)["layers"].core == "layers_v2"


@pytest.mark.parametrize("values,setting", [
    ({"SOLR_URL": "ftp://x"}, "SOLR_URL"),
    ({"SOLR_URL": "http://host:99999999/solr"}, "SOLR_URL"),
    ({"QUEUE_URL": "amqp://x"}, "QUEUE_URL"),
    ({"QUEUE_URL": "sqlite://relative.db"}, "QUEUE_URL"),
    ({"BATCH_SIZE": "lots"}, "BATCH_SIZE"),
    ({"BATCH_SIZE": 0}, "BATCH_SIZE"),
    ({"RESYNC_CRONTAB": "every night"}, "RESYNC_CRONTAB"),
    ({"RESYNC_CRONTAB": "0 25 * * *"}, "RESYNC_CRONTAB"),
    ({"SOLR_ULR": "http://x/solr"}, "SOLR_ULR"),
])
def test_bad_settings_name_the_setting(values, setting):
    with pytest.raises(ConfigError) as err:
        load_settings(values, environ={})
    assert str(err.value).startswith("setting %s:" % setting)
    assert "\n" not in str(err.value)


def test_unknown_pipeline():
    s = load_settings({"PIPELINES": {"maps": {}}}, environ={})
    with pytest.raises(ConfigError) as err:
        load_pipelines(s)
    assert "unknown pipeline 'maps'" in str(err.value) and "layers" in str(err.value)


def test_passwords_are_masked():
    assert mask("http://admin:s3cret@solr:8983/solr") == "http://admin:**@solr:8983/solr"
    with pytest.raises(ConfigError) as err:
        load_settings({"SOLR_URL": "ftp://admin:s3cret@solr/solr"}, environ={})
    assert "s3cret" not in str(err.value)
