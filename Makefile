# newsflow: `make run` starts everything, publishes the sample newsroom and opens the reader site;
# `make test` runs every tier.
SHELL := /bin/bash
.DEFAULT_GOAL := help

TOOLS := .cache/tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
PY := .venv/bin/python
STACK := stack/stack.sh
PYTEST := $(PY) -m pytest

.PHONY: help install up down status run stop sample test test-unit test-integration test-e2e \
        test-reliability lint typecheck clean reset logs docs browser

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q uv==$(UV_VERSION)

install: $(UV) ## install Python dependencies from uv.lock (and the servers)
	$(UV) sync --frozen --all-packages
	$(STACK) install

up: install ## start Kafka, FerretDB and Redis (waits until healthy)
	$(STACK) up

down: ## stop the services and the servers
	$(STACK) services down
	$(STACK) down

status: ## what is running
	-$(STACK) status
	-$(STACK) services status

run: up ## the main job: stack, three services, the reader site and its readers, the sample newsroom
	$(STACK) services up
	$(PY) samples/publish.py

stop: down ## same as down

logs: ## follow every log
	tail -n 20 -F .run/logs/*.log

browser: ## install Chromium for the browser tests (Debian's; once)
	$(STACK) browser

test: up browser ## every test tier against the real servers
	$(STACK) services down
	$(PYTEST) tests/unit tests/integration tests/e2e tests/reliability

test-unit: install ## unit tests only (no servers needed)
	$(PYTEST) tests/unit

test-integration: up
	$(PYTEST) tests/integration

test-e2e: up browser
	$(PYTEST) tests/e2e

test-reliability: up
	$(PYTEST) tests/reliability

docs: install ## regenerate the OpenAPI and AsyncAPI documents in docs/ (CI checks they are current)
	$(PY) -m docs.generate

lint: install ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy shared/src chassis/src services tools/src

.PHONY: schemas
schemas: $(UV) ## regenerate the committed event JSON Schemas (refuses incompatible changes)
	$(UV) run --frozen python -m newsflow_contracts.schemas

reset: ## stop everything and delete the local data (not the downloads)
	$(STACK) services down
	$(STACK) reset

clean: reset ## also delete the downloads and the virtualenv
	rm -rf .cache .venv
