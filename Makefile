# Two commands matter: `make demo` (run the app) and `make test` (run every test against PostgreSQL and Redis).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gavel
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: install demo serve browser nginx pgbouncer lint test test-fast test-redis test-single services loadtest bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

# The demo runs as visitors see the site (DEBUG off: the site's own 404 and 500 pages); `DEBUG=true make demo` for
# tracebacks in the browser, on 127.0.0.1 only.
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C to stop); single-process mode closes lots inside the server."
	$(PY) -m daphne -b 127.0.0.1 -p 8000 config.asgi:application

# Production shape on one host without Docker: WORKERS Daphne workers + the closing worker (docs/operations.md),
# with production settings: SECRET_KEY and DATABASE_URL must be set.
serve: install
	scripts/serve.sh

services:
	scripts/ensure-services.sh

browser:
	scripts/ensure-browser.sh

nginx:
	scripts/ensure-nginx.sh

pgbouncer:
	scripts/ensure-pgbouncer.sh

# Lint and format (ruff.toml) and the import contracts (.importlinter), then the whole suite with Redis (channel
# layer + lock), then again in single-process mode (no REDIS_URL).
test: install services browser nginx pgbouncer lint test-redis test-single

# Pure rules only (no database, Redis or server): seconds.
test-fast: install
	DATABASE_URL=sqlite:// REDIS_URL= $(PY) -m pytest -m pure -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test-redis:
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) DB_CONN_MAX_AGE=0 LOG_LEVEL=WARNING \
		CLOSE_LOTS_IN_WEB_PROCESS=false $(PY) -m pytest $(PYTEST_ARGS)

# Its own test database, so nothing left over from the Redis-mode run can meet it.
test-single:
	DATABASE_URL=$(TEST_DATABASE_URL)_single REDIS_URL= DB_CONN_MAX_AGE=0 LOG_LEVEL=WARNING \
		CLOSE_LOTS_IN_WEB_PROCESS=false $(PY) -m pytest -m "not redis_only" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles

# A bounded Locust run against a local stack (127.0.0.1 only); see loadtests/run_loadtest.sh for the knobs.
loadtest: install services
	loadtests/run_loadtest.sh

# The capacity benchmark: prints one table (see docs/performance.md).
bench: install services
	$(PY) loadtests/bench.py $(BENCH_ARGS)
