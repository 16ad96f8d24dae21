# The two set-up commands from README.md:  `make run`  and  `make test`.
# Both build .venv from pyproject.toml on first use (and again when it changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install postgres

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults: check the shipped configuration, then start the worker
# on SQLite (var/followup.db) with the sample clients, delivering into var/outbox/ (dry run).
run: $(STAMP)
	$(BIN)/followup check
	$(BIN)/followup run --sample-data

lint: $(STAMP)
	$(BIN)/ruff check followup tests
	$(BIN)/ruff format --check followup tests
	$(BIN)/mypy

# PostgreSQL for the integration tests: started if this machine has it installed but stopped.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { test -d /etc/postgresql && \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start && sleep 2; } || true

test: $(STAMP) lint postgres
	$(BIN)/pytest
