# Two commands on a fresh machine:
#   make run   — the embedded demo (SQLite + local-memory cache) on http://127.0.0.1:8000
#   make test  — lint + the whole suite against real PostgreSQL and Redis
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The suite's services (CI machine: both on localhost; started by scripts/ensure_services.sh).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pms
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=

# The embedded demo: SQLite in the project and Django's local-memory cache, no service needed.
DEMO_DATABASE_URL ?= sqlite:///$(CURDIR)/db.sqlite3
DEMO_ENV := env -u REDIS_URL -u CELERY_BROKER_URL DATABASE_URL=$(DEMO_DATABASE_URL) DJANGO_DEBUG=true

.PHONY: run demo-data test lint format bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo-data: $(STAMP)
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) $(PY) manage.py seed_demo

run: demo-data
	@echo "Serving the PMS on http://127.0.0.1:8000 (admin: /admin/, API docs: /api/docs/) — Ctrl-C stops it."
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:8000

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP)
	scripts/ensure_services.sh
	$(MAKE) lint
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	scripts/ensure_services.sh
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench $(PY) bench/mtm_bench.py

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .ruff_cache
