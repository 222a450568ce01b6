# scantrace: `make run` starts the stack, `make test` runs every test tier. Both install what they need.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)

COMPONENTS ?=
PYTEST_ARGS ?=
# `make staff` and `make token`: who (UNITS limits an official to those unit ids)
STAFF_ID ?= admin
STAFF_NAME ?= Quản trị viên
ROLE ?= admin
SUB ?= me
UNITS ?=
LINT_PATHS := libs services tests bench

.PHONY: help install run staff token test test-unit test-integration test-e2e lint format bench demo chaos clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: ## install uv and the locked Python environment
	@scripts/bootstrap.sh

run: ## start Kafka, Redis, the three services, the console and Prometheus (if installed) in the foreground (COMPONENTS="kafka redis" for a subset)
	@scripts/bootstrap.sh --run
	uv run scantrace up $(COMPONENTS)

staff: ## create a console account in the running stack, asking its password (STAFF_ID=admin ROLE=admin STAFF_NAME=...)
	@scripts/bootstrap.sh
	uv run scantrace staff add "$(STAFF_ID)" --role "$(ROLE)" --name "$(STAFF_NAME)" $(if $(UNITS),--units $(UNITS))

token: ## print a staff token for scripts and curl (ROLE=admin SUB=me; UNITS=... for an official)
	@scripts/bootstrap.sh
	@uv run scantrace token --role "$(ROLE)" --sub "$(SUB)" $(if $(UNITS),--units $(UNITS))

test: ## every tier: unit, integration and e2e against a real Kafka and Redis
	@scripts/bootstrap.sh --test
	uv run pytest $(PYTEST_ARGS)

test-unit: ## unit tests only (no servers)
	@scripts/bootstrap.sh
	uv run pytest -m unit $(PYTEST_ARGS)

test-integration: ## integration tier only (real Kafka and Redis)
	@scripts/bootstrap.sh --test
	uv run pytest -m integration $(PYTEST_ARGS)

test-e2e: ## end-to-end tier only (services over HTTP)
	@scripts/bootstrap.sh --test
	uv run pytest -m e2e $(PYTEST_ARGS)

lint: ## ruff and mypy --strict over libraries, services, tests and benchmarks
	@scripts/bootstrap.sh
	uv run ruff check $(LINT_PATHS)
	uv run ruff format --check $(LINT_PATHS)
	uv run mypy --strict $(LINT_PATHS)

format: ## apply ruff's formatting and safe fixes
	uv run ruff check --fix $(LINT_PATHS)
	uv run ruff format $(LINT_PATHS)

bench: ## run every benchmark; writes bench/results/latest.{json,md}
	@scripts/bootstrap.sh --bench
	uv run python -m bench.run_all

demo: ## start the stack if needed, simulate yesterday and today of a small province, print the summary
	@scripts/bootstrap.sh --run
	scripts/demo.sh

chaos: ## fault tests only (they kill their own broker, Redis and services); also part of `make test`
	@scripts/bootstrap.sh --test
	uv run pytest -m chaos $(PYTEST_ARGS)

clean: ## remove caches (keeps .scantrace state)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis
