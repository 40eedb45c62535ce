# Two commands set everything up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000

# Tests talk to the real services; point them elsewhere with DATABASE_URL / REDIS_URL.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/practika
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test bench clean

# Installs come from the lock files: every package, the transitive ones too, at one version with
# its hashes (--require-hashes refuses anything else). requirements*.txt name what we depend on;
# `make lock` makes the locks from them (docs/OPERATIONS.md, "Updating a dependency").
$(VENV)/.runtime: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	touch $@

$(VENV)/.test: $(VENV)/.runtime requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.lock
	touch $@

# Keeps every version already locked unless asked: LOCK_FLAGS="--upgrade-package NAME" or
# LOCK_FLAGS=--upgrade. The test lock takes the runtime lock's versions as constraints, so both
# agree on every package they share. Locks hold for Python 3.11 and newer, on any platform.
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: lock
lock: $(VENV)/.test
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-test.txt --constraints requirements.lock -o requirements-test.lock

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py setup_periodic_tasks
	PATH="$(BIN):$$PATH" SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}" $(BIN)/honcho start --port $(PORT) web worker beat

test: $(VENV)/.test
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	$(BIN)/python -m pytest

# The image built with podman and run as Heroku runs it (tests/ops/test_container.py), against a
# database and a Redis db of its own, which it empties. .ci/run calls it after `make test`.
CONTAINER_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/practika_container
CONTAINER_REDIS_URL ?= redis://127.0.0.1:6379/6

.PHONY: test-container
test-container: $(VENV)/.test
	CONTAINER_DATABASE_URL="$(CONTAINER_DATABASE_URL)" CONTAINER_REDIS_URL="$(CONTAINER_REDIS_URL)" \
	$(BIN)/python -m pytest -m container tests/ops/test_container.py

# The fault suite (docs/RELIABILITY.md): real web, worker and beat against outages it stages on a
# private PostgreSQL cluster and private redis-servers; its own test database and Redis db.
FAULTS_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/practika_faults
FAULTS_REDIS_URL ?= redis://127.0.0.1:6379/10

.PHONY: test-faults
test-faults: $(VENV)/.test
	DATABASE_URL="$(FAULTS_DATABASE_URL)" REDIS_URL="$(FAULTS_REDIS_URL)" \
	$(BIN)/python -m pytest tests/faults

# Benchmarks (docs/PERFORMANCE.md): their own database and Redis db, which they empty.
# `make bench B="B1 B7"` runs some of them.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/practika_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/7

bench: $(VENV)/.test
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install -y wrk"; exit 1; }
	BENCH_DATABASE_URL="$(BENCH_DATABASE_URL)" BENCH_REDIS_URL="$(BENCH_REDIS_URL)" \
	$(BIN)/python -m bench $(B)

clean:
	rm -rf $(VENV) .var staticfiles
