# The two commands of the README, and what they need. Works from a fresh clone:
# the first call creates .venv and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The PostgreSQL pass of `make test` (trust auth on loopback, as on the CI machines).
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/osapp_test

.PHONY: run test test-fuzz test-sqlite test-postgres lint install browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

## Debian's chromium for the Playwright tests (Playwright never downloads a browser here).
browser:
	@[ -x /usr/bin/chromium ] || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

## make run: the development issuer + osapp under gunicorn on http://127.0.0.1:8000/
run: install
	$(BIN)/python -m osapp.devserver

## make test: the whole suite on SQLite, again on PostgreSQL (all that touches osapp's
## database: not the soak, the fuzzing nor the tests marked no_osapp_db), then lint
test: test-sqlite test-postgres lint

## make test-fuzz: the hypothesis properties with 10 000 examples each (CI runs it after make test)
test-fuzz: install
	OSAPP_FUZZ_EXAMPLES=10000 $(BIN)/python -m pytest -m fuzz

test-sqlite: install browser
	$(BIN)/python -m pytest

test-postgres: install browser
	@if $(BIN)/python -m tests.support.pgsetup "$(TEST_POSTGRES_URL)"; then \
		DATABASE_URL="$(TEST_POSTGRES_URL)" $(BIN)/python -m pytest -m "not soak and not fuzz and not no_osapp_db"; \
	elif [ "$$CI" = "true" ]; then echo "PostgreSQL is required in CI"; exit 1; \
	else echo "*** PostgreSQL not reachable: the PostgreSQL pass did NOT run ***"; fi

lint: install
	$(BIN)/ruff check osapp tests bench
	$(BIN)/mypy
