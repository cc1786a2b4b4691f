# Two entry points for a fresh machine (see README.md):
#   make run   - set up .venv, then run the main job: racekit check over the catalogue
#   make test  - set up .venv, then run the whole test suite on every core
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test deep lint setup

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/racekit check

test: $(VENV)/.installed
	$(VENV)/bin/pytest -n auto

deep: $(VENV)/.installed
	$(VENV)/bin/pytest -n auto --racekit-profile=deep

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check racekit
	$(VENV)/bin/mypy
