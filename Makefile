# cybercrisis: `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export CYBERCRISIS_DATA_DIR ?= $(CURDIR)/var

.PHONY: help run test browser-deps bench-deps lint bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(VENV): $(BIN)/cybercrisis ## Create .venv with the cybercrisis command and dev tools

$(BIN)/cybercrisis: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

run: $(VENV) ## Set up and start the platform on SQLite with demo data (prints the login)
	$(BIN)/cybercrisis serve --demo --host $(HOST) --port $(PORT)

browser-deps: ## Install Debian's Chromium, poppler-utils (pdftotext) and axe-core (npm) for the browser, PDF and accessibility tests
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v pdftotext >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; }
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@test -f tools/axe/node_modules/axe-core/axe.min.js || npm ci --prefix tools/axe --silent --no-audit --no-fund

# Bytecode is cached for the suite even where the environment sets PYTHONDONTWRITEBYTECODE: without the cache each
# pytest worker compiles and assertion-rewrites every test module again (collection 18.7 s against 5.3 s), and each
# server or CLI process the tests start compiles what it imports.
test: $(VENV) browser-deps ## Run the whole suite (SQLite; PostgreSQL too when CYBERCRISIS_TEST_DATABASE_URL is set)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 3 --dist loadgroup

lint: $(VENV) ## ruff, mypy, the layer contract (lint-imports) and the dead-code check (vulture)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/vulture src/cybercrisis tools/vulture_whitelist.py

bench-deps: ## Install Debian's wrk, the load generator of make bench (needs root)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: $(VENV) bench-deps ## Benchmarks against a real server; prints figures and ratios to a baseline (BENCH_ARGS=...)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
