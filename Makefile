# Pulse: the README's commands. `make demo` runs the platform, `make test` runs the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1

# uv from PATH, else from pip (`python3 -m uv`): installed on first use if missing.
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --frozen

.PHONY: help install browser demo test bench screenshots docs serve lint format clean

help: ## list the commands
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: browser ## install the pinned environment (uv), Chromium, and prepare the dbt manifest
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| { echo "installing uv from PyPI"; python3 -m pip install --quiet uv; }
	$(UV) sync --frozen
	$(RUN) pulse prepare

# The dashboards' browser tests, screenshots and page-load benchmark drive Debian's Chromium
# (Playwright's own browser download does not work offline): installed from apt when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium (apt)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing: install it (Debian/Ubuntu: sudo apt-get install chromium)"; exit 1; \
		fi; }

demo: install ## simulate, ingest, materialize everything, then serve the UIs until Ctrl-C
	$(RUN) pulse demo

test: install ## run the whole test suite (unit + integration)
	$(RUN) pytest

bench: install ## run the benchmarks; results in bench/results/ and docs/benchmarks.md
	$(RUN) python -m bench

screenshots: install ## every dashboard page at desktop and phone width into docs/screenshots (needs make demo)
	$(RUN) python -m bench.screenshots

docs: install ## build and serve the dbt docs site (needs a materialized warehouse: make demo)
	$(RUN) pulse docs

serve: install ## serve the UIs on the existing data, without regenerating it
	$(RUN) pulse serve

lint: ## ruff lint and format check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: ## apply ruff fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean: ## remove generated state (./data, dbt target)
	rm -rf data dbt_project/target dbt_project/logs
