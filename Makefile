# The two commands of the quickstart:
#   make run    infrastructure up, topics applied, every service serving (Ctrl-C stops the services)
#   make test   the whole test suite against the real PostgreSQL and Kafka
# Both set up what they need on a fresh machine: the Python environment, PostgreSQL, Kafka's jars.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test unit integration e2e infra-up infra-down infra-status venv contracts contracts-check bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

infra-up: venv
	deploy/infra.sh up

infra-down:
	deploy/infra.sh down

infra-status:
	deploy/infra.sh status

run: infra-up
	deploy/run.sh

test: infra-up
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest tests/unit

integration: infra-up
	$(PY) -m pytest tests/integration

e2e: infra-up
	$(PY) -m pytest tests/e2e

contracts: venv
	$(PY) -m shared.contracts export

contracts-check: venv
	$(PY) -m shared.contracts check

bench: infra-up
	$(PY) -m benchmarks.event_store
	$(PY) -m benchmarks.eligibility
	$(PY) -m benchmarks.invoicing
	$(PY) -m benchmarks.payments
	$(PY) -m benchmarks.collections

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
