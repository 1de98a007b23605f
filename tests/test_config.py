import pytest

from solrsync.config import ConfigError, load_settings, mask
from solrsync.pipelines import load_pipelines


def test_defaults_and_environment_override():
    s = load_settings({"SOLR_URL": "http://solr:8983/solr"}, environ={"SOLRSYNC_BATCH_SIZE": "250"})
    assert s.BATCH_SIZE == 250 and s.COMMIT_WITHIN_MS == 1500
    assert s.solr_base == "http://solr:8983/solr" and s.solr_core is None


def test_an_empty_variable_counts_as_unset_and_off_disables_the_resync():
    s = load_settings({"RESYNC_CRONTAB": "0 4 * * *"}, environ={"SOLRSYNC_RESYNC_CRONTAB": ""})
    assert s.RESYNC_CRONTAB == "0 4 * * *"
    assert load_settings({}, environ={"SOLRSYNC_RESYNC_CRONTAB": "off"}).RESYNC_CRONTAB == ""
    assert load_settings({"RESYNC_CRONTAB": "OFF"}, environ={}).RESYNC_CRONTAB == ""


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


def test_pipelines_from_the_environment_as_json():
    s = load_settings({}, environ={"SOLRSYNC_PIPELINES": '{"books": {"class": "myapp.pipelines.BookPipeline"}}'})
    assert s.PIPELINES == {"books": {"class": "myapp.pipelines.BookPipeline"}}
    assert load_settings({}, environ={"SOLRSYNC_PIPELINES": "layers, maps"}).PIPELINES == {"layers": {}, "maps": {}}
    for bad in ('{"books": {"class": ', '{"books": "BookPipeline"}'):
        with pytest.raises(ConfigError) as err:
            load_settings({}, environ={"SOLRSYNC_PIPELINES": bad})
        assert str(err.value).startswith("setting PIPELINES:") and "\n" not in str(err.value)


def test_huey_for_stops_on_a_bad_setting_with_one_line(capsys):
    from solrsync.queue import huey_for
    with pytest.raises(SystemExit) as exit:
        huey_for({"SOLR_URL": "ftp://x"})
    assert exit.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "solrsync: setting SOLR_URL: 'ftp://x' is not an http(s) URL like http://127.0.0.1:8983/solr"]


def test_a_pipeline_asks_its_source_about_every_name_it_declares():
    from solrsync.documents import BBox, Document, Field, Multi
    from solrsync.pipeline import Pipeline

    class Doc(Document):
        title = Field("titel")
        tags = Multi("tags", attr="nmae")
        box = BBox("x0", "x1", "y0", "y1")
        computed = Field(fn=lambda row: row.whatever, depends=["owner.emial"])

    class Books(Pipeline):
        name = "books"
        document = Doc
        filter = {"publishd": True}
        select_related = ("owner",)
        watch_m2m = ("tags",)
        modified_field = "updated"

    asked = []

    class Source:
        def check(self, kind, name, value=None):
            asked.append((kind, name, value))
            return 'no field "%s"' % name if name in ("titel", "tags.nmae", "owner.emial", "publishd") else None

    problems = Books().problems(Source())
    assert problems == ['pipeline books: document field title reads "titel": no field "titel"',
                        'pipeline books: document field tags reads "tags.nmae": no field "tags.nmae"',
                        'pipeline books: document field computed depends on "owner.emial": no field "owner.emial"',
                        'pipeline books: filter "publishd": no field "publishd"']
    assert ("path", "whatever", None) not in asked  # a computed field is checked by its depends only
    assert {("path", "x0", None), ("path", "y1", None), ("filter", "publishd", True), ("select_related", "owner", None),
            ("watch_m2m", "tags", None), ("modified_field", "updated", None), ("path", "pk", None)} <= set(asked)


def test_tombstones_must_outlive_any_write_in_flight():
    """One rule: a write lands within LEASE_SECONDS + 2 x SOLR_TIMEOUT of its version (solrsync.lease),
    so a delete's tombstone must be kept longer."""
    assert load_settings({"LEASE_SECONDS": 120, "SOLR_TIMEOUT": 10, "TOMBSTONE_SECONDS": 141}, environ={})
    for values in ({"TOMBSTONE_SECONDS": 140}, {"LEASE_SECONDS": 3590}, {"SOLR_TIMEOUT": 1790}):
        with pytest.raises(ConfigError) as err:
            load_settings(values, environ={})
        assert str(err.value).startswith("setting TOMBSTONE_SECONDS:") and "\n" not in str(err.value)
        assert "must be longer than LEASE_SECONDS + 2 x SOLR_TIMEOUT" in str(err.value)
    from conftest import run_manage  # the consumer and the commands refuse to start, in one line, exit 2
    proc = run_manage("solrsync", "status", env={"SOLRSYNC_TOMBSTONE_SECONDS": "100",
                                                 "DJANGO_SETTINGS_MODULE": "demoproject.settings"})
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].endswith(
        "(120 + 2 x 10.0 = 140.0): a delete's tombstone must outlive any older write still in flight"), proc.stderr
