# `make demo` runs the platform on its embedded defaults and plays a year through it; `make test` runs every test.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: up demo test setup jars unit integration faults asyncapi docs bench cluster-up cluster-down clean

up: setup ## start PostgreSQL, Kafka and all five services; Ctrl-C stops everything
	$(UV) run qaf-devstack up

demo: setup ## the council's year 2013-14 simulated on the platform; leaves the dashboard running (Ctrl-C stops)
	$(UV) run qaf-simulator demo

test: setup ## the whole suite on real Kafka and PostgreSQL (started by the tests themselves)
	$(UV) run pytest

setup: ## Python packages (uv, locked) and the Kafka jars from Maven Central
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	$(UV) run qaf-devstack jars >/dev/null

jars:
	$(UV) run qaf-devstack jars

unit: setup
	$(UV) run pytest tests/unit

integration: setup
	$(UV) run pytest -m integration

faults: setup ## fault, fuzzing and security tests at the issue's full sizes; figures in docs/reliability.md
	QAF_FAULTS_FULL=1 $(UV) run pytest tests/faults tests/security tests/integration/test_poison_messages.py

asyncapi: ## regenerate docs/asyncapi.json from the contracts
	$(UV) run python -m qaf_shared.asyncapi > docs/asyncapi.json

docs: asyncapi ## regenerate the generated parts of docs/ (AsyncAPI, the configuration reference)
	$(UV) run python -m qaf_devstack.settings_doc --write

cluster-up: setup ## a three-node KRaft cluster on 127.0.0.1:9192,9194,9196
	$(UV) run qaf-devstack kafka start --cluster

cluster-down:
	$(UV) run qaf-devstack kafka stop --cluster

clean: ## stop local servers and delete their data
	-$(UV) run qaf-devstack kafka destroy
	-$(UV) run qaf-devstack kafka destroy --cluster
	-$(UV) run qaf-devstack postgres destroy
	rm -rf var

bench: setup ## the benchmarks: results in bench/results/, summary in docs/performance.md
	$(UV) run python -m bench.run
