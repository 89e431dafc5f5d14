# Two commands on a fresh machine:
#   make run   — the embedded demo (embedded PostgreSQL + local-memory cache) on http://127.0.0.1:8000
#   make test  — lint + the whole suite against real PostgreSQL (the machine's, else the embedded
#                one) and real Redis
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The suite's services (CI machine: both on localhost; started by scripts/ensure_services.sh).
# Where no PostgreSQL answers at TEST_DATABASE_URL the suite runs on the embedded one.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pms
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
TEST_ENV := DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=
EMBEDDED_TEST_ENV := env -u DATABASE_URL REDIS_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=

# The embedded demo: the embedded PostgreSQL (pms_project/embedded_pg.py; data in .pgdata/, or
# PMS_EMBEDDED_PGDATA) and Django's local-memory cache, no service needed.
RUN_ADDR ?= 127.0.0.1:8000
DEMO_ENV := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL DJANGO_DEBUG=true
EMBEDDED_PG := $(PY) -m pms_project.embedded_pg

# The production stack on this machine (`make stack`): gunicorn, one Celery worker and beat on
# the local PostgreSQL and Redis (scripts/ensure_services.sh starts them). Its own database and
# Redis databases (cache /3, broker /4), apart from the suite's.
STACK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pms_stack
STACK_REDIS_URL ?= redis://127.0.0.1:6379/3
STACK_BIND ?= 127.0.0.1:8000
STACK_ENV := DATABASE_URL=$(STACK_DATABASE_URL) REDIS_URL=$(STACK_REDIS_URL) STACK_BIND=$(STACK_BIND)

.PHONY: run serve demo-data db-stop test lint format bench clean fuzz stack stack-stop backup restore verify soak

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo-data: $(STAMP)
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py collectstatic --noinput -v0
	$(DEMO_ENV) PMS_BASE_URL=http://$(RUN_ADDR) $(PY) manage.py seed_demo

# Starts (or reuses) the embedded PostgreSQL, runs `serve`, and stops the server when `serve` ends
# (Ctrl-C included) unless it was already running before.
run: $(STAMP)
	@$(DEMO_ENV) $(EMBEDDED_PG) run -- $(MAKE) --no-print-directory serve

serve: demo-data
	@echo "Serving the PMS on http://$(RUN_ADDR) (admin: /admin/, API docs: /api/docs/) — Ctrl-C stops it."
	$(DEMO_ENV) $(PY) manage.py runserver --noreload $(RUN_ADDR)

# Logs in logs/stack/ (web, worker, beat), followed in the terminal; Ctrl-C stops all three.
stack: $(STAMP)
	scripts/ensure_services.sh
	@env -u CELERY_BROKER_URL $(STACK_ENV) scripts/stack.sh

stack-stop:
	scripts/stack.sh stop

# The named checks of a running system (manage.py verify). With DATABASE_URL in the environment,
# the system it names, with the environment's settings (production: every check must pass);
# without, the embedded demo (`make run`'s data, DEBUG on: configuration only warns), its
# PostgreSQL started for the run and stopped after unless it was running. VERIFY_ARGS=--json
# for machines, --strict for production severity on the demo.
verify: $(STAMP)
	@if [ -n "$$DATABASE_URL" ]; then \
		$(PY) manage.py verify $(VERIFY_ARGS); \
	else \
		$(DEMO_ENV) $(EMBEDDED_PG) run -- $(PY) manage.py verify $(VERIFY_ARGS); \
	fi

db-stop: $(STAMP)
	$(EMBEDDED_PG) stop

# Backups (ops/backups.py): of the database at DATABASE_URL when it is set — in the environment or
# on the command line, e.g. `make backup DATABASE_URL=postgres://...` (with REDIS_URL, for the
# restore to clear that deployment's cache) — else of the embedded PostgreSQL, started for the
# command and stopped after unless it was running. The shell reads the URL from the environment:
# it is never written into a command line, where a password would show in `ps`.
#   make backup [BACKUP_DIR=backups]
#   make restore DIR=backups/<UTC timestamp> [YES=1]   (YES=1: no confirmation asked)
BACKUP_DIR ?= backups
EMBEDDED_ENV := env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL

backup: $(STAMP)
	@if [ -n "$$DATABASE_URL" ]; then \
		$(PY) manage.py backup --dir "$(BACKUP_DIR)"; \
	else \
		$(EMBEDDED_ENV) $(EMBEDDED_PG) run -- $(PY) manage.py backup --dir "$(BACKUP_DIR)"; \
	fi

restore: $(STAMP)
	@if [ -z "$(DIR)" ]; then echo "make restore: DIR=backups/<UTC timestamp> is needed" >&2; exit 2; fi
	@if [ -n "$$DATABASE_URL" ]; then \
		$(PY) manage.py restore "$(DIR)" $(if $(YES),--yes); \
	else \
		$(EMBEDDED_ENV) $(EMBEDDED_PG) run -- $(PY) manage.py restore "$(DIR)" $(if $(YES),--yes); \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: $(STAMP)
	PMS_PG_OPTIONAL=1 scripts/ensure_services.sh
	scripts/ensure_browser.sh
	VENV=$(VENV) scripts/ensure_promtool.sh
	$(MAKE) lint
	@if $(EMBEDDED_PG) answers "$(TEST_DATABASE_URL)"; then \
		echo "make test: PostgreSQL at $(TEST_DATABASE_URL)"; \
		$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS); \
	else \
		echo "make test: no PostgreSQL answers at $(TEST_DATABASE_URL); using the embedded one"; \
		$(EMBEDDED_TEST_ENV) $(EMBEDDED_PG) run -- $(PY) -m pytest $(PYTEST_ARGS); \
	fi

bench: $(STAMP)
	scripts/ensure_services.sh
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench $(PY) bench/mtm_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_eod REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/eod_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_chain REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/pipeline_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_risk REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/risk_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_trades REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/trades_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_attr REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/attribution_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_book REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/book_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_http REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/http_baseline_bench.py
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_cache REDIS_URL= CELERY_BROKER_URL= \
		$(PY) bench/cache_bench.py

clean:
	-[ -x $(PY) ] && $(EMBEDDED_PG) stop
	rm -rf $(VENV) .pgdata .pytest_cache .ruff_cache

# The schemathesis fuzz module alone, long: ≥ 2,000 requests per desk role (PMS_FUZZ_EXAMPLES
# cases per operation × role in the fuzzing phase, plus the examples and coverage phases and the
# stateful scenarios), against the same PostgreSQL and Redis as `make test`.
FUZZ_EXAMPLES ?= 150
fuzz: $(STAMP)
	scripts/ensure_services.sh
	$(TEST_ENV) PMS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/test_fuzz_api.py $(PYTEST_ARGS)

# The 60-business-day soak alone (ops/tests/test_soak.py: ingest, pre-open, approvals and EOD
# through a real worker and the Redis broker; `make test` runs it too), against the same
# PostgreSQL and Redis as `make test`. Prints its figures, also written to
# logs/reliability/soak.json.
soak: $(STAMP)
	scripts/ensure_services.sh
	$(TEST_ENV) $(PY) -m pytest ops/tests/test_soak.py -q -rP --show-capture=stdout $(PYTEST_ARGS)
