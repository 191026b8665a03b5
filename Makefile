# Two commands set everything up: `make run` (service + demo data on embedded defaults)
# and `make test` (the whole suite; PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
# `make run PORT=8080 SANDBOX_PORT=8180` when the defaults are taken.
PORT ?= 8000
SANDBOX_PORT ?= 8100

# Optional local configuration (see .env.example); the embedded defaults need none.
ifneq (,$(wildcard .env))
include .env
export
endif

.PHONY: run test lint format lock sandbox market bench mutate clean

$(BIN)/.installed: $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	@touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/python manage.py load_demo --once --no-credentials
	SANDBOX_URL=http://127.0.0.1:$(SANDBOX_PORT) $(BIN)/python manage.py run_all --demo --port $(PORT) --sandbox-port $(SANDBOX_PORT)

# The ad-platform sandbox alone, on port 8100 (`make run` starts it too).
sandbox: $(BIN)/.installed
	$(BIN)/python -m usher.sandbox --port $(SANDBOX_PORT) --state-file var/sandbox.json

# Three simulated days of the example ad market, driven against the running sandbox
# (`make run` in another terminal); see docs/simulator.md. Rotates the demo's ingest key.
market: $(BIN)/.installed
	$(BIN)/python manage.py simulate_market --scenario bench/markets/example.json --days 3

test: $(BIN)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Benchmarks (PostgreSQL + Redis, own database usher_bench); see bench/README.md.
bench: $(BIN)/.installed
	cd bench && ../$(BIN)/python collector_throughput.py
	cd bench && ../$(BIN)/python tracking_config.py
	cd bench && ../$(BIN)/python collector_vs_copy.py
	cd bench && ../$(BIN)/python delivery_throughput.py
	cd bench && ../$(BIN)/python simulator.py
	cd bench && ../$(BIN)/python ingest_throughput.py
	cd bench && ../$(BIN)/python optimizer.py --scenario markets/example.json --seeds 5
	cd bench && ../$(BIN)/python optimizer_cycle.py

# Mutation testing of the core (config in pyproject.toml, results in docs/mutation.md):
# CPU-heavy, so niced; one module at a time with MODULE=usher.lib.tenancy. Every mutant
# runs in a fresh pytest session that reuses one kept test database (--reuse-db), so one
# mutant at a time: two would share that database and the cache and flush each other's.
# The database is named after the checkout (a checksum of its path), so runs in two
# checkouts against one PostgreSQL server each keep their own.
MODULE ?=
CHECKOUT_ID := $(firstword $(shell printf '%s' '$(CURDIR)' | cksum))
MUTATE_TEST_DB ?= $(if $(DATABASE_URL),usher_mutmut_$(CHECKOUT_ID),$(CURDIR)/var/mutmut-test.sqlite3)
mutate: $(BIN)/.installed
	@mkdir -p var
	TEST_DATABASE_NAME=$(MUTATE_TEST_DB) nice -n 19 $(BIN)/mutmut run --max-children 1 $(if $(MODULE),"$(MODULE).*")
	$(BIN)/mutmut results

# Re-pin every dependency after editing pyproject.toml.
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --no-emit-index-url --python-version 3.11 -o requirements/dev.lock -q
	uv pip compile pyproject.toml --generate-hashes --no-emit-index-url --python-version 3.11 -o requirements/prod.lock -q

clean:
	rm -rf $(VENV) var mutants
