# Set-up is part of every target: on a fresh machine `make serve` and `make test` install what they need
# (a virtual environment in .venv, KaTeX from npm, and for the browser test Debian's chromium).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup serve test build bench audit page lint format screenshot clean

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

/usr/bin/chromium:
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium

setup: $(VENV)/.installed node_modules/.package-lock.json

## serve: build the site and serve it on http://127.0.0.1:8000/dlref/ (reloads on edits)
serve: setup
	$(BIN)/mkdocs serve

## test: the whole suite: dlref against PyTorch, every page's code, snippets, the site build, a browser check
## (spread over one process per CPU; the pages' run times and the total are reported at the end)
## PYTEST_ARGS adds pytest options, e.g. PYTEST_ARGS='-m "not site" --shard 2/3' for one CI shard
test: setup /usr/bin/chromium
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

## build: the static site for hosting, in site/
build: setup
	$(BIN)/mkdocs build --strict

## bench: time dlref against PyTorch's built-ins (forward and backward, optimizer steps, epochs), eager and
## compiled; prints the table and writes it to benchmarks/<device>.md, which the page "How fast is dlref?" shows
bench: setup
	$(BIN)/python -m dlref.benchmark --output benchmarks/$$($(BIN)/python -c 'import dlref; print(dlref.get_device().type)').md

## audit: build the site, then measure it as a static host serves it (gzip): Lighthouse on each kind of
## page (mobile >= 95, desktop >= 98), axe-core on every page in light and dark mode; prints a table
audit: build /usr/bin/chromium
	$(BIN)/python -m tests.site.audit site

## page: start a new topic page from templates/page.md and add it to nav: make page NAME=section/topic
page: setup
	$(BIN)/python -m hooks.scaffold $(NAME)

lint: setup
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

format: setup
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

## screenshot: regenerate docs/assets/screenshot.png for the README (from a fresh build)
screenshot: build /usr/bin/chromium
	$(BIN)/python tests/site/screenshot.py site docs/assets/screenshot.png

clean:
	rm -rf site .cache
