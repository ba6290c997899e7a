# `make run` starts the portal on embedded defaults; `make test` runs every test.
# Both set up what they need first: a virtualenv, the packages, compiled translations
# (and, for the tests, Debian's Chromium for the browser tests).

VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test lint setup translations browser

run: setup
	$(PY) -m app.launcher

test: setup browser
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(VENV)/.installed translations

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d app/translations -D messages >/dev/null

browser:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
