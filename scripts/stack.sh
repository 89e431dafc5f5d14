#!/usr/bin/env bash
# `make stack`: the production stack on this machine — gunicorn (pms_project.wsgi), one Celery
# worker and one beat (DatabaseScheduler) — on the local PostgreSQL and Redis.
#
#   scripts/stack.sh          migrate, seed the demo desk if the database has none, start the
#                             three, follow their logs (logs/stack/{web,worker,beat}.log) until
#                             Ctrl-C, then stop all three and wait for them
#   scripts/stack.sh stop     stop a stack started elsewhere (`make stack-stop`)
#
# DATABASE_URL and REDIS_URL come from the caller (the Makefile's STACK_* defaults); the broker is
# REDIS_URL's next database unless CELERY_BROKER_URL is set (pms_project/settings.py).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=$VENV/bin/python
LOGS=${PMS_STACK_LOGS:-logs/stack}
BIND=${STACK_BIND:-127.0.0.1:8000}
NAMES=(beat worker web)  # stopped in this order: no new task is scheduled while the worker drains

pid_of() { cat "$LOGS/$1.pid" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

stop_all() {
  local name pid
  for name in "${NAMES[@]}"; do
    pid=$(pid_of "$name")
    if alive "$pid"; then
      echo "stack: stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null
    fi
  done
  # A worker finishes its running task (warm shutdown); give each 30 s, then kill.
  for name in "${NAMES[@]}"; do
    pid=$(pid_of "$name")
    for _ in $(seq 1 60); do alive "$pid" || break; sleep 0.5; done
    if alive "$pid"; then
      echo "stack: $name did not stop in 30 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$LOGS/$name.pid"
  done
}

if [ "${1:-start}" = stop ]; then
  stop_all
  echo "stack: stopped"
  exit 0
fi

for name in "${NAMES[@]}"; do
  if alive "$(pid_of "$name")"; then
    echo "stack: $name is already running (pid $(pid_of "$name")); run \`make stack-stop\` first" >&2
    exit 1
  fi
done
: "${DATABASE_URL:?set DATABASE_URL}" "${REDIS_URL:?set REDIS_URL}"
mkdir -p "$LOGS"

# The stack's database, created when missing (PostgreSQL answers; its name is the URL's path).
$PY - <<'PY' || exit 1
import os
from urllib.parse import urlsplit, urlunsplit

import psycopg

url = urlsplit(os.environ["DATABASE_URL"])
name = url.path.lstrip("/")
admin = urlunsplit(url._replace(path="/postgres"))
with psycopg.connect(admin, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
        print(f"stack: created database {name}")
PY
$PY manage.py migrate --noinput -v0 || exit 1
$PY manage.py collectstatic --noinput -v0 || exit 1
PMS_BASE_URL=http://$BIND $PY manage.py seed_demo | tee "$LOGS/seed_demo.log" || exit 1

# Each process in the background, its pid recorded; all three stop together on Ctrl-C or TERM.
$VENV/bin/gunicorn pms_project.wsgi:application --bind "$BIND" --workers 2 --timeout 60 \
  --access-logfile - >"$LOGS/web.log" 2>&1 &
echo $! >"$LOGS/web.pid"
$VENV/bin/celery -A pms_project worker --loglevel=INFO --concurrency=2 \
  >"$LOGS/worker.log" 2>&1 &
echo $! >"$LOGS/worker.pid"
$VENV/bin/celery -A pms_project beat --loglevel=INFO \
  --scheduler django_celery_beat.schedulers:DatabaseScheduler --pidfile= \
  >"$LOGS/beat.log" 2>&1 &
echo $! >"$LOGS/beat.pid"

tail_pid=""
finish() {
  trap - INT TERM
  [ -n "$tail_pid" ] && kill "$tail_pid" 2>/dev/null
  stop_all
  echo "stack: stopped"
  exit 0
}
trap finish INT TERM

echo "stack: web http://$BIND (pid $(pid_of web)), worker (pid $(pid_of worker)), beat" \
  "(pid $(pid_of beat)); logs in $LOGS/ — Ctrl-C (or \`make stack-stop\`) stops all three"
tail -n 0 -F "$LOGS/web.log" "$LOGS/worker.log" "$LOGS/beat.log" &
tail_pid=$!
# Returns when one of the three dies (then stop the others: no half stack) or on a signal.
while alive "$(pid_of web)" && alive "$(pid_of worker)" && alive "$(pid_of beat)"; do
  sleep 1
done
echo "stack: a process exited (or make stack-stop ran); stopping the rest (see $LOGS/)" >&2
finish
