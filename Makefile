# make demo  -- the demo on embedded defaults (SQLite, SQLite queue, the Solr emulator
#               unless SOLRSYNC_SOLR_URL names a real Solr core)
# make test  -- the whole suite (PostgreSQL/Redis tests skip when those are not running,
#               unless SOLRSYNC_REQUIRE_SERVICES=1) on the emulator answering as Solr 9, then the
#               differential scenarios with it answering as Solr 5 and 8
# make test-solr SOLR=9 [CLOUD=1] [SOLR_PORT=N] [SOLR_TESTS="tests"]
#            -- the Solr-facing tests against a real Solr 5 (5.3.1), 8 (8.11.2) or 9 (9.4.0), standalone
#               or SolrCloud (2 shards behind an alias), started on a free port by the launch scripts in
#               REALSOLR (default ../shared/realsolr; they are not part of solrsync) and stopped after
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)
DEMO   := contrib/django/demo

.PHONY: install demo test test-postgres test-solr bench clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -c 'import sqlite3; sqlite3.Connection.enable_load_extension' 2>/dev/null || \
	  $(BIN)/python -m pip install -q --no-binary pysqlite3 -e ".[gis]" || \
	  echo "make install: pysqlite3 did not build (it needs libsqlite3-dev): the SpatiaLite tests will skip" >&2
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	cd $(DEMO) && ../../../$(BIN)/python manage.py shell -v0 -c "from django.db import connection; \
	connection.vendor == 'sqlite' and connection.cursor().execute('PRAGMA journal_mode=WAL')"
	cd $(DEMO) && ../../../$(BIN)/python manage.py migrate -v0
	cd $(DEMO) && ../../../$(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/python -m pytest tests
	for v in 5 8; do $(BIN)/python -m pytest tests/test_solr_scenarios.py tests/test_solr_search_scenarios.py --solrsync-solr-version $$v || exit 1; done
	SOLRSYNC_DEMO_DB=postgres $(BIN)/python -m pytest tests -m django

# The tests that talk to Solr: with SOLRSYNC_TEST_SOLR(CLOUD)_URL set, these run against the real one.
SOLR_TESTS ?= tests/test_solr_scenarios.py tests/test_sink.py tests/test_versions.py tests/test_reindex.py \
              tests/test_configset.py tests/test_cloud.py tests/test_envelope_solr.py tests/test_field_types.py
REALSOLR   ?= ../shared/realsolr
SOLR       ?= 9
CLOUD      ?=
SOLR_LAUNCH = $(REALSOLR)/$(if $(filter 5,$(SOLR)),realsolr.sh,solr$(SOLR).sh)
# 8 and 9: the shipped configset; 5: the demo's layers pipeline's, written by `solrsync configset --solr-version 5`
SOLR5_CONF  = $(CURDIR)/test-artifacts/solr5-configset
SOLR_CONF   = $(if $(filter 5,$(SOLR)),$(SOLR5_CONF)/conf,$(CURDIR)/solrsync/configsets/layers/conf)

test-solr: $(STAMP)
	@case "$(SOLR)" in 5|8|9) ;; *) echo "make test-solr: SOLR=$(SOLR): say SOLR=5, 8 or 9" >&2; exit 2;; esac
	@test -x "$(SOLR_LAUNCH)" || { echo "make test-solr: no $(SOLR_LAUNCH) (the real-Solr launch scripts are not \
	part of solrsync; point REALSOLR=DIR at them)" >&2; exit 2; }
	@if [ "$(SOLR)" = 5 ]; then cd $(DEMO) && ../../../$(BIN)/python manage.py solrsync configset layers \
	"$(SOLR5_CONF)" --force --solr-version 5 >/dev/null || exit 1; fi
	@if [ -n "$(CLOUD)" ]; then how=cloud; var=SOLRSYNC_TEST_SOLRCLOUD_URL; else how=start; var=SOLRSYNC_TEST_SOLR_URL; fi; \
	for try in 1 2 3; do \
	  port=$${SOLR_PORT:-$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}; \
	  "$(SOLR_LAUNCH)" $$how $$port "$(SOLR_CONF)" layers && break; \
	  if [ -n "$$SOLR_PORT" ] || [ $$try = 3 ]; then exit 1; fi; \
	  echo "make test-solr: once more on another free port (another program may have taken $$port)" >&2; \
	done; \
	trap '"$(SOLR_LAUNCH)" stop '$$port EXIT INT TERM; \
	env $$var=http://127.0.0.1:$$port/solr/layers $(BIN)/python -m pytest $(SOLR_TESTS)

bench: $(STAMP)
	$(BIN)/python benchmarks/emulator_ingest.py

clean:
	rm -rf $(VENV) $(DEMO)/var test-artifacts .pytest_cache
