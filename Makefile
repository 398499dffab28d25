# Cartdesk: the two set-up commands are `make run` and `make test`.
#   make run  [HOST=127.0.0.1] [PORT=8000]   venv, install, migrate, seed the demo once, serve
#   make test                                 lint, then the whole test suite (browser tests included)

PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
# Installs are redone only when pyproject.toml changes (or the venv is new).
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: run test lint bench clean

# The demo's email, SMS and social conversations have no real provider behind them: replies
# sent from the demo go to var/outbox/<channel>.jsonl instead (docs/configuration.md). Chat
# is real (the widget on /demo/shop); a chat reply to a shopper who left goes by email.
run: export CARTDESK_DEV_OUTBOX_CHANNELS ?= email,sms,social
run: $(INSTALLED)
	$(BIN)/cartdesk migrate
	$(BIN)/cartdesk demo
	$(BIN)/cartdesk serve --host $(HOST) --port $(PORT)

test: $(INSTALLED_DEV)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(INSTALLED_DEV)
	$(BIN)/ruff check .

# Seeds a large store once (BENCH_N conversations) and measures the API over HTTP with wrk
# (see docs/performance.md). BENCH_DB may be a PostgreSQL URL.
BENCH_DB ?= sqlite:///var/bench/bench.db
BENCH_N ?= 1000000
BENCH_LABEL ?= local
bench: $(INSTALLED_DEV)
	CARTDESK_DATABASE_URL=$(BENCH_DB) $(BIN)/cartdesk migrate
	CARTDESK_DATABASE_URL=$(BENCH_DB) $(BIN)/cartdesk demo --conversations $(BENCH_N)
	$(BIN)/python bench/http_bench.py --database-url $(BENCH_DB) --label $(BENCH_LABEL)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "Kept var/ (your database and attachments); delete it yourself to start over."

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Cartdesk needs Python 3.11 or newer as '$(PYTHON)' (try: make $(MAKECMDGOALS) PYTHON=python3.12)."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create $(VENV); on Debian/Ubuntu install python3-venv first."; exit 1; }

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(INSTALLED_DEV): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(INSTALLED)
