.DEFAULT_GOAL := help

PY := .venv/bin/python
SANDBANK := .venv/bin/sandbank
STAMP := .venv/.installed
DATA_DIR ?= .data
PORT ?= 8000
PYTEST_ARGS ?=
TIERS := tests/unit tests/integration tests/e2e

# One test tier; a tier with no folder yet (git keeps no empty ones) has nothing to run.
# $(2): options of the tier's own, before PYTEST_ARGS.
tier = @if [ -d $(1) ]; then $(PY) -m pytest -q $(2) $(PYTEST_ARGS) $(1); else echo "$(1): no tests yet"; fi

# `docker compose` (plugin) where it exists, else Debian's docker-compose 1.29.
COMPOSE = $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; \
	else echo "docker compose"; fi)

.PHONY: help install run stop test unit integration e2e conformance lint format typecheck check asyncapi migration compose-check client bench bench-startup chaos demo up down clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv and install the project with its dev tools

# Reinstalls only when pyproject.toml changes, so a second `make` is instant.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

run: install ## start the whole Sandbank locally (embedded broker, SQLite); Ctrl-C stops it (REPLICAS=2 DB_URL=postgresql+asyncpg://... TIMEOUT=60)
	$(SANDBANK) run --data-dir $(DATA_DIR) --port $(PORT) $(if $(REPLICAS),--replicas $(REPLICAS)) $(if $(DB_URL),--db-url '$(DB_URL)') $(if $(TIMEOUT),--timeout $(TIMEOUT))

stop: ## stop the Sandbank started by `make run` in another terminal
	@if [ -x $(SANDBANK) ]; then $(SANDBANK) stop --data-dir $(DATA_DIR); \
	else echo "Sandbank is not running"; fi

# The unit tier is pure computation: two pytest-xdist workers, one per core. The
# integration tier runs on two workers too, each with brokers, apps and PostgreSQL schemas
# of its own (tests/integration/pg.py): the tier is CPU in the test process (SQLite,
# PostgreSQL, in-process HTTP), 266 s of it for one process, which one core cannot run
# faster however quiet the machine. On this 2-core machine shared with other runs (load
# 8 to 12) the two were even, the cores being taken either way: 505 s on two workers,
# about 500 s in one process; quiet (load 1 to 2), the payments and insurance packages
# took 81 s on two workers against 104 s in one, back to back. e2e runs in one process: whole stacks on two workers starved
# each other's event loops (a saga's step unanswered for minutes). Each run names its
# slowest tests, so every CI log shows where its minutes went.
test: install ## every test tier: unit, integration, e2e
	$(PY) -m pytest -q -n 2 $(PYTEST_ARGS) tests/unit
	$(call tier,tests/integration,-n 2 --durations=15)
	$(call tier,tests/e2e,--durations=25)

unit: install ## pure tests, no broker or database
	$(call tier,tests/unit)

integration: install ## one service with a real database and broker
	$(call tier,tests/integration)

e2e: install ## the whole stack as processes, driven through the gateway
	$(call tier,tests/e2e)

conformance: install ## every app against its OpenAPI document with schemathesis's full request budget (make test sends a quarter)
	SANDBANK_CONFORMANCE=full $(PY) -m pytest -q $(PYTEST_ARGS) $(wildcard tests/integration/*/test_openapi.py) tests/e2e/test_openapi.py

lint: install ## ruff check
	$(PY) -m ruff check .

format: install ## ruff format
	$(PY) -m ruff format .

typecheck: install ## mypy over shared, gateway, services and tools (zero errors)
	$(PY) -m mypy

check: lint typecheck unit ## the fast loop before a commit

asyncapi: install ## regenerate docs/asyncapi.json and docs/events.md from shared/events
	$(SANDBANK) asyncapi --write

SERVICE ?=
MESSAGE ?=
migration: install ## a new schema revision from the models: SERVICE=payments MESSAGE="add saga columns"
	@test -n "$(SERVICE)" -a -n "$(MESSAGE)" || { echo 'usage: make migration SERVICE=payments MESSAGE="what changes"'; exit 2; }
	$(SANDBANK) migration $(SERVICE) "$(MESSAGE)"

compose-check: ## validate docker-compose.yml
	$(COMPOSE) config -q

client: install ## generate the typed Python client from the running gateway's OpenAPI into build/clients/python
	$(SANDBANK) client --gateway http://127.0.0.1:$(PORT) --out build/clients/python

BENCH_ARGS ?=
bench: install ## drive P2P transfers through the gateway; prints and saves figures (BENCH_ARGS="--concurrency 32 --duration 30")
	$(PY) -m bench.transfers $(BENCH_ARGS)

bench-startup: install ## time `sandbank up` (cold and warm) and a reset, several runs; prints medians (BENCH_ARGS="--runs 5")
	$(PY) -m bench.startup $(BENCH_ARGS)

CHAOS_ARGS ?=
chaos: install ## faults under mixed load, then a check against a model; report in chaos-results/ (CHAOS_ARGS="--profile long")
	$(SANDBANK) chaos $(CHAOS_ARGS)

DEMO_ARGS ?=
demo: install ## the demo story against the running stack (make run), or one of its own; console links per step (DEMO_ARGS="--keep")
	$(SANDBANK) demo --gateway http://127.0.0.1:$(PORT) $(DEMO_ARGS)

up: ## start the compose deployment (Kafka, PostgreSQL, services, gateway, Jaeger, Prometheus, Grafana)
	$(COMPOSE) up --build -d
	@echo "gateway:    http://127.0.0.1:8000 (docs at /docs, console at /console)"
	@echo "jaeger:     http://127.0.0.1:16686 (traces of every process)"
	@echo "prometheus: http://127.0.0.1:9090 (scrapes every process's /metrics)"
	@echo "grafana:    http://127.0.0.1:3000 (dashboards: Sandbank folder; admin password: $(COMPOSE) exec grafana cat /observability/grafana-admin-password)"
	@echo "\`make down\` stops it"

down: ## stop the compose deployment
	$(COMPOSE) down

clean: ## remove local data (databases, logs) of `make run`
	rm -rf $(DATA_DIR)
