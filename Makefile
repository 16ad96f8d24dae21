# The two set-up commands from README.md:  `make run`  and  `make test`.
# Both build .venv from pyproject.toml on first use (and again when it changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PRISM  := tools/prism/node_modules/.bin/prism

.PHONY: run test lint install postgres chromium

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

# Prism (npm) for the Twilio contract tests; Node.js from Debian if the machine lacks it.
$(PRISM): tools/prism/package.json tools/prism/package-lock.json
	command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
	cd tools/prism && npm ci --no-audit --no-fund --loglevel=error
	touch $(PRISM)

# Debian's Chromium for the owner dashboard's browser test (Playwright from PyPI drives it;
# `playwright install` would download a browser build of its own, which we never do).
chromium:
	command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

test: $(STAMP) lint postgres $(PRISM) chromium
	$(BIN)/pytest
