# Two commands on a fresh machine: `make run` and `make test`. Both are idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# Links in emails point at the port the web server listens on, unless a public address is given.
CLINIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# Development and tests run with DEBUG on; production sets DEBUG=false (the default) plus SECRET_KEY and ALLOWED_HOSTS.
export DEBUG ?= true

.PHONY: run test lint format install demo bench clean pdf-libs

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium drives the browser tests (Playwright cannot download its own browser here).
/usr/bin/chromium:
	if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium

# WeasyPrint (consent PDFs) needs Pango and HarfBuzz's subsetter from Debian.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
pdf-libs:
	@if [ "$$(dpkg-query -W -f='$${Status}\n' $(PDF_LIBS) 2>/dev/null | grep -c '^install ok installed$$')" != 3 ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(PDF_LIBS); \
	fi

install: pdf-libs $(VENV)/.installed node_modules/.installed

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo

run: demo
	@echo
	@echo "  Clinic app:   http://127.0.0.1:$(PORT)/"
	@echo "  Django admin: http://127.0.0.1:$(PORT)/admin/"
	@echo "  Logins:       admin / clinic-admin-demo   (clinic admin)"
	@echo "                aesthetician / clinic-demo-pass   (aesthetician; also sam)"
	@echo "                frontdesk / clinic-demo-pass   (front desk)"
	@echo "                clinician / clinic-demo-pass   (clinician: review sign-offs, holds, clinical overrides)"
	@echo "  Emails are written to var/mail/ with links to $(CLINIC_BASE_URL). Ctrl-C stops web, worker and beat."
	@echo
	PORT=$(PORT) CLINIC_BASE_URL='$(CLINIC_BASE_URL)' $(VENV)/bin/honcho start -f Procfile

test: install /usr/bin/chromium
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Benchmarks (never part of `make test`): a throwaway PostgreSQL database, rebuilt on every run.
# Default: the issue's full size, 100,000 clients / 1,000,000 sessions (about 10 minutes in all);
# BENCH_SCALE=small: 20,000 clients / 200,000 sessions for a quick look (fewer due reminders too).
BENCH_DB ?= clinic_bench
BENCH_PG ?= postgres://postgres@127.0.0.1:5432
ifeq ($(BENCH_SCALE),small)
BENCH_SIZE := --clients 20000 --practitioners 20 --rooms 20 --sessions 200000 --years 2
else
BENCH_SIZE := --clients 100000 --practitioners 20 --rooms 20 --sessions 1000000 --years 2
endif
bench: install
	mkdir -p var
	psql "$(BENCH_PG)/postgres" -qc "DROP DATABASE IF EXISTS $(BENCH_DB)" -c "CREATE DATABASE $(BENCH_DB)"
	DATABASE_URL=$(BENCH_PG)/$(BENCH_DB) $(PY) manage.py migrate --noinput
	DATABASE_URL=$(BENCH_PG)/$(BENCH_DB) $(PY) -m bench.generate $(BENCH_SIZE) --out var/bench-sizes.json
	DATABASE_URL=$(BENCH_PG)/$(BENCH_DB) $(PY) -m bench.run --sizes var/bench-sizes.json --out BENCHMARKS.md

clean:
	rm -rf var .pytest_cache
