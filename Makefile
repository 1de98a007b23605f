# make demo  -- the demo on embedded defaults (SQLite, SQLite queue, the Solr emulator
#               unless SOLRSYNC_SOLR_URL names a real Solr core)
# make test  -- the whole suite (PostgreSQL/Redis tests skip when those are not running,
#               unless SOLRSYNC_REQUIRE_SERVICES=1)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.py | cksum | cut -d' ' -f1)
DEMO   := contrib/django/demo

.PHONY: install demo test test-postgres bench clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e ".[dev]"
	rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	cd $(DEMO) && ../../../$(BIN)/python manage.py migrate -v0
	cd $(DEMO) && ../../../$(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/python -m pytest tests
	SOLRSYNC_DEMO_DB=postgres $(BIN)/python -m pytest tests -m django

bench: $(STAMP)
	$(BIN)/python benchmarks/emulator_ingest.py

clean:
	rm -rf $(VENV) $(DEMO)/var test-artifacts .pytest_cache
