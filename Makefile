# Sanji — the two commands of the README, and their helpers.
#   make run    set up .venv, migrate/seed the SQLite database, serve http://127.0.0.1:5000
#   make test   set up .venv and run the whole test suite
#   make bench  set up .venv and run the benchmark suite (bench/run.py; BENCH_ARGS="--only completion --quick")
#   make lint   ruff (lint + format check) and mypy over engine/ and api/ (CI runs it first)
#   make lock   re-resolve requirements.lock from pyproject.toml (then commit both)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The exact versions CI tested: requirements.lock (pip-compile, with hashes) from pyproject.toml.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)

# Front-end bundles (bpmn-js modeler/viewer, ECharts) into api/static/vendor/, from package-lock.json.
# Rebuilt when the lock file, build.mjs or a source in api/static/js/ changes; skipped with a
# message when npm is missing (the API works without them).
VENDOR_STAMP := api/static/vendor/build.json
ASSET_SOURCES := package.json package-lock.json build.mjs $(wildcard api/static/js/*)

.PHONY: setup assets run test bench lint lock clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP) assets

assets:
	@if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory -s $(VENDOR_STAMP); \
	else \
		echo "npm/node not found: skipping the front-end bundles (api/static/vendor/). The API works;"; \
		echo "the modeler, viewer and chart pages need them: install Node.js 18+ with npm and run make setup again."; \
	fi

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

$(VENDOR_STAMP): node_modules/.package-lock.json $(ASSET_SOURCES)
	node build.mjs

run: setup
	$(BIN)/flask --app app init-db --demo
	$(BIN)/flask --app app run --host 127.0.0.1 --port 5000

# Tests run on up to TEST_WORKERS processes (pytest-xdist); the `exclusive` ones (a PostgreSQL
# restart) then run alone. TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= auto
test: setup
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)
	@if [ "$(TEST_WORKERS)" != "0" ]; then \
		$(BIN)/python -m pytest --exclusive-only $(PYTEST_ARGS); rc=$$?; \
		[ $$rc -eq 0 ] || [ $$rc -eq 5 ]; fi  # 5: no exclusive test among those selected

lint: setup
	$(BIN)/ruff check engine api app.py
	$(BIN)/ruff format --check engine api app.py
	$(BIN)/mypy

lock:
	test -x $(BIN)/pip-compile || $(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra test --strip-extras --generate-hashes --allow-unsafe --no-emit-index-url \
		--no-emit-find-links --output-file requirements.lock pyproject.toml

bench: setup
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance test-artifacts .pytest_cache node_modules api/static/vendor
