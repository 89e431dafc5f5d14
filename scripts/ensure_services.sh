#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the tests run.
# Starts them with the machine's own commands when they are down; exits 1 — never skips — when
# either still does not answer after 30 seconds. With PMS_PG_OPTIONAL=1 (`make test`) a machine
# without a PostgreSQL that answers is not an error: the suite then runs on the embedded one.
# Redis is always required, and has no embedded substitute: when `redis-server` is not installed
# at all (a fresh machine), it is installed with the system's package manager (Debian/Ubuntu:
# `apt-get install -y redis-server`, through sudo when not root), so `make test` works on a
# machine that has neither service. Elsewhere the script says what to install and exits 1.
#
# Knobs (for tests and unusual hosts): PMS_REDIS_PORT (6379), PMS_REDIS_DIR (/var/lib/redis; the
# log goes to /var/log/redis/ci.log, or into PMS_REDIS_DIR when it is set), PMS_SERVICES_WAIT
# (30 seconds).
set -u
pg_optional=${PMS_PG_OPTIONAL:-0}
redis_port=${PMS_REDIS_PORT:-6379}
wait_seconds=${PMS_SERVICES_WAIT:-30}
if [ -n "${PMS_REDIS_DIR:-}" ]; then
  redis_dir=$PMS_REDIS_DIR
  redis_log=$PMS_REDIS_DIR/redis.log
else
  redis_dir=/var/lib/redis
  redis_log=/var/log/redis/ci.log
fi

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$redis_port" && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null
  fi
}

wait_for() {  # name, check function
  for _ in $(seq 1 "$wait_seconds"); do "$2" && return 0; sleep 1; done
  echo "ensure_services: $1 is not answering on 127.0.0.1 after $wait_seconds s" >&2
  return 1
}

pg_wait=1
if ! pg_up; then
  if [ -d /etc/postgresql ]; then
    echo "ensure_services: starting PostgreSQL"
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
  elif [ "$pg_optional" = 1 ]; then
    pg_wait=0  # nothing to start and nothing to wait for
  fi
fi
# Install Redis where it is missing. Only Debian/Ubuntu's apt-get is automated: another package
# manager's package name and service layout differ, and a wrong guess would hide the real fix.
redis_install() {
  local sudo=""
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_services: redis-server is not installed and this is not a Debian/Ubuntu system" \
      "(no apt-get): install Redis 7 (e.g. dnf install redis, brew install redis) and run again" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "ensure_services: redis-server is not installed, and installing it needs root:" \
        "run \`apt-get install -y redis-server\` as root (sudo is not available)" >&2
      return 1
    fi
  fi
  echo "ensure_services: redis-server is not installed; installing it: $sudo apt-get install -y redis-server"
  # The package lists of a fresh machine (or a slim container) may be empty or stale.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server \
    || { echo "ensure_services: apt-get could not install redis-server (see above)" >&2; return 1; }
  command -v redis-server >/dev/null 2>&1 || {
    echo "ensure_services: apt-get ran but redis-server is still not on PATH" >&2
    return 1
  }
}

redis_missing=0
if ! redis_up; then
  if ! command -v redis-server >/dev/null 2>&1 && ! redis_install; then
    redis_missing=1
  fi
  # The package's own service may already have started it (systemd); otherwise start it here.
  if [ $redis_missing -eq 0 ] && ! redis_up; then
    echo "ensure_services: starting Redis"
    mkdir -p "$redis_dir" "$(dirname "$redis_log")" 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" \
      --appendonly no --dir "$redis_dir" --logfile "$redis_log" || true
  fi
fi

status=0
answering="PostgreSQL and Redis answer"
if [ $pg_wait -eq 0 ] || ! wait_for PostgreSQL pg_up; then
  if [ "$pg_optional" = 1 ]; then
    echo "ensure_services: no PostgreSQL on 127.0.0.1:5432; the embedded PostgreSQL will serve"
    answering="Redis answers"
  else
    status=1
  fi
fi
if [ $redis_missing -eq 1 ]; then
  status=1  # said why above; nothing to wait for
else
  wait_for Redis redis_up || status=1
fi
[ $status -eq 0 ] && echo "ensure_services: $answering"
exit $status
