# The two commands: `make demo` (try it) and `make test` (test it). See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: demo test lint format bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Compiled message catalogs (family plans in the family's language) are build output.
CATALOGS := $(patsubst %.po,%.mo,$(wildcard baton/platform/translations/*/LC_MESSAGES/*.po))
%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@

demo: $(VENV)/.installed $(CATALOGS)
	$(BIN)/baton db upgrade
	$(BIN)/baton seed-demo
	$(BIN)/baton serve --host 127.0.0.1 --port $(PORT)

# The browser suite drives Debian's Chromium (never a downloaded browser: no `playwright
# install`) and injects axe-core from the npm registry into the pages it checks.
CHROMIUM := /usr/bin/chromium
AXE_VERSION := 4.10.3
AXE := build/axe/node_modules/axe-core/axe.min.js

$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(AXE):
	npm install --silent --no-audit --no-fund --prefix build/axe axe-core@$(AXE_VERSION)

test: $(VENV)/.installed $(CATALOGS) $(CHROMIUM) $(AXE)
	$(BIN)/ruff check baton tests
	$(BIN)/pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check baton tests
	$(BIN)/ruff format --check baton tests

format: $(VENV)/.installed
	$(BIN)/ruff format baton tests
	$(BIN)/ruff check --fix baton tests

bench: $(VENV)/.installed $(CATALOGS)
	$(BIN)/python -m pytest -p no:cacheprovider -o addopts="" tests/benchmarks -s

clean:
	rm -rf $(VENV) instance *.egg-info build test-artifacts
