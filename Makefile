# The two set-up commands from README.md:  `make run`  and  `make test`.
# Both build .venv from pyproject.toml on first use (and again when it changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded defaults.  Until the worker exists (issue 3) it validates the
# shipped configuration and previews the post-session campaign in both channels.
run: $(STAMP)
	$(BIN)/followup check
	$(BIN)/followup preview post_session_care --channel sms
	$(BIN)/followup preview post_session_care --channel email --html var/preview.html

lint: $(STAMP)
	$(BIN)/ruff check followup tests
	$(BIN)/ruff format --check followup tests
	$(BIN)/mypy

test: $(STAMP) lint
	$(BIN)/pytest
