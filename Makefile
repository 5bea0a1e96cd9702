# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB ?= db/judge.duckdb
PORT ?= 8501

.PHONY: run test lint typecheck unit venv test-venv chromium postgresql nginx clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/activate
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
test-venv: $(VENV)/.installed-test

## run: install, load the demo into $(DB) when empty, serve on http://127.0.0.1:$(PORT)
run: venv
	$(BIN)/judge-app demo --db $(DB) --if-empty
	$(BIN)/judge-app serve --db $(DB) --port $(PORT) --print-admin-link

## chromium: Debian's chromium for the browser tests (never a downloaded browser)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## postgresql: Debian's PostgreSQL server binaries for the tests of the PostgreSQL backend
## (tests/pg_server.py starts a throwaway cluster under /usr/lib/postgresql/*/bin), and an
## unprivileged user to run it as when the tests run as root (the server refuses root)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
	@if [ "$$(id -u)" = 0 ] && ! id judge-app-pg >/dev/null 2>&1; then \
		useradd --system --no-create-home --shell /usr/sbin/nologin judge-app-pg; fi

## nginx: Debian's nginx, for tests/test_deploy.py (the deployment's proxy config, deploy/nginx.conf,
## in front of two real servers); installing it starts no service (the test runs its own)
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

lint: test-venv
	$(BIN)/ruff check judge_app tests benchmarks scripts
	$(BIN)/mypy judge_app

## test: install everything the tests need, lint, typecheck and run the whole suite
test: test-venv chromium postgresql nginx lint
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
