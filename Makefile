# Two commands do all the set-up on a machine with only Python 3.11:
#   make demo   -- the platform with demo data and GraphiQL on http://127.0.0.1:8000/graphql
#   make test   -- lint, schema drift check and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8000

.PHONY: install demo test lint format schema run clean-db help

help:
	@echo "make demo     run the platform with demo data (embedded PostgreSQL, GraphiQL on :$(PORT))"
	@echo "make test     ruff, schema drift check and the test suite"
	@echo "make schema   regenerate schema.graphql after an API change"
	@echo "make format   ruff format + autofix"
	@echo "make clean-db delete the embedded database under ./var"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	TIPGRAPH_DEBUG=1 $(BIN)/python manage.py demo --serve --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(STAMP)
	$(BIN)/python manage.py schema_sdl

clean-db:
	rm -rf var/pgdata
