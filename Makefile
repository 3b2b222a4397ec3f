# Two commands do all the set-up on a machine with Python 3.11, node/npm and Debian's packages:
#   make demo   -- the platform with demo data and GraphiQL on http://127.0.0.1:8000/graphql
#   make test   -- lint, schema drift check and the whole test suite (browser tests included)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The dashboard's browser libraries (package-lock.json), served by Django from node_modules.
NODE_STAMP := node_modules/.installed-stamp
# The browser tests drive Debian's Chromium; TIPGRAPH_CHROMIUM names another binary.
CHROMIUM ?= $(or $(TIPGRAPH_CHROMIUM),/usr/bin/chromium)
PORT   ?= 8000

.PHONY: install node chromium demo test lint format schema run clean-db help

help:
	@echo "make demo     run the platform with demo data (embedded PostgreSQL, GraphiQL on :$(PORT))"
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
	npm ci --no-audit --no-fund
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

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/python manage.py schema_sdl

clean-db:
	rm -rf var/pgdata
