# Bunnybook: the commands a newcomer needs. `make run` needs only Python;
# `make test` starts (and where needed installs) PostgreSQL, Redis, Neo4j and Chromium.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded default ignores any service variables left in the shell.
EMBEDDED := env -u DATABASE_URL -u REDIS_URL -u CACHE_URL -u NEO4J_URI

.PHONY: install run services services-stop test lint format bench chromium fuzz

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

# The embedded default: SQLite, in-memory channel layer, local-memory cache, SQL suggestions.
run: install
	$(EMBEDDED) $(PY) manage.py migrate --noinput
	$(EMBEDDED) $(PY) manage.py seed_demo
	$(EMBEDDED) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) bunnybook.asgi:application

# Starts (installing where needed) the services, then creates the Neo4j schema.
services: install
	services/up
	set -a && . services/env && set +a && $(PY) manage.py graph_setup

services-stop:
	services/down

chromium:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# Tests use their own Redis databases (1), flushed at the start of a run.
test: install services chromium
	set -a && . services/env && set +a && \
	REDIS_URL=$${REDIS_URL%/*}/1 CACHE_URL=$${CACHE_URL%/*}/1 $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The long hostile-input run: the API fuzzed from its OpenAPI schema (over 5,000 requests)
# and 20,000 hostile socket frames. `make test` runs the same tests, bounded.
fuzz: install services
	set -a && . services/env && set +a && \
	REDIS_URL=$${REDIS_URL%/*}/1 CACHE_URL=$${CACHE_URL%/*}/1 FUZZ_EXAMPLES=120 FUZZ_FRAMES=20000 \
	$(PY) -m pytest bunnybook/tests/test_fuzz_api.py bunnybook/tests/test_fuzz_sockets.py

# Every benchmark against the real services, each in its own database and Redis db, beside
# its floor; figures in var/bench/report.json. BENCH_SCALE=small for a quick run.
bench: install services
	set -a && . services/env && set +a && $(PY) bench/run.py
