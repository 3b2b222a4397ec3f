# Two commands do all the set-up on a machine with Python 3.11, node/npm and Debian's packages:
#   make demo   -- the platform with demo data and GraphiQL on http://127.0.0.1:8000/graphql
#   make test   -- lint, schema drift check and the whole test suite (browser tests included)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The dashboard's browser libraries (package-lock.json), served by Django from node_modules,
# and the dev tools the tests run (graphql-http's GraphQL-over-HTTP audit suite).
NODE_STAMP := node_modules/.installed-stamp
# The browser tests drive Debian's Chromium; TIPGRAPH_CHROMIUM names another binary.
CHROMIUM ?= $(or $(TIPGRAPH_CHROMIUM),/usr/bin/chromium)
PORT   ?= 8000

.PHONY: install node chromium demo serve serve-asgi worker static test lint format schema run clean-db help

help:
	@echo "make demo     run the platform with demo data (embedded PostgreSQL, GraphiQL on :$(PORT))"
	@echo "make serve    production server: migrate, collectstatic, gunicorn (TIPGRAPH_SECRET_KEY)"
	@echo "make serve-asgi  the same on uvicorn workers with a bounded connection pool"
	@echo "make worker   the background worker: imports, disposal runs, periodic tasks"
	@echo "make test     ruff, schema drift check and the test suite (installs Chromium if missing)"
	@echo "make schema   regenerate schema.graphql after an API change"
	@echo "make format   ruff format + autofix"
	@echo "make clean-db delete the embedded database under ./var"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --include=dev --no-audit --no-fund
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

# Only when the browser is missing; needs root (CI and these machines run as root).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM). Install Debian's package:" >&2; \
		echo "    sudo apt-get install -y chromium" >&2; \
		echo "(or set TIPGRAPH_CHROMIUM to a Chromium binary), then run make test again." >&2; \
		exit 1; \
	fi

chromium: $(CHROMIUM)

demo: $(STAMP) $(NODE_STAMP)
	TIPGRAPH_DEBUG=1 $(BIN)/python manage.py demo --serve --port $(PORT)

# Production serving (docs/deployment.md). Settings come from the environment: without
# TIPGRAPH_SECRET_KEY (and without TIPGRAPH_DEBUG=1) migrate stops with the reason. migrate
# runs as the owner (DATABASE_OWNER_URL), which the server's own environment then leaves out.
# One worker per core unless TIPGRAPH_WORKERS says otherwise; TIPGRAPH_BIND for 0.0.0.0.
GUNICORN := env -u DATABASE_OWNER_URL TIPGRAPH_BIND=$${TIPGRAPH_BIND:-127.0.0.1:$(PORT)} \
	$(BIN)/gunicorn -c python:backend.gunicorn_conf
# Connections per ASGI worker process (psycopg pool, backend.database.pool_options).
DB_POOL_MAX ?= $(or $(TIPGRAPH_DB_POOL_MAX),10)

static: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0

serve: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_documents
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	$(GUNICORN) backend.wsgi:application

serve-asgi: $(STAMP) $(NODE_STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_documents
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0
	TIPGRAPH_DB_POOL_MAX=$(DB_POOL_MAX) $(GUNICORN) -k backend.asgi_worker.AsgiWorker \
		backend.asgi:application

# The background worker (backend/tasks.py): import jobs, approved disposal runs and the
# periodic tasks. Run it beside the servers, without the owner's URL; only a worker that runs
# the disposal queue needs DATABASE_DISPOSAL_URL (docs/retention.md). make demo starts one.
worker: $(STAMP)
	env -u DATABASE_OWNER_URL $(BIN)/python manage.py run_worker

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	TIPGRAPH_DEBUG=1 $(BIN)/python manage.py schema_sdl

clean-db:
	rm -rf var/pgdata
