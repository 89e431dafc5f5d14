#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer before the tests run.
# Starts them with the machine's own commands when they are down; exits 1 — never skips — when
# either still does not answer after 30 seconds. With PMS_PG_OPTIONAL=1 (`make test`) a machine
# without a PostgreSQL that answers is not an error: the suite then runs on the embedded one.
# Redis is always required.
set -u
pg_optional=${PMS_PG_OPTIONAL:-0}

pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
  else
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
  fi
}
redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]
  else
    (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && read -r -t 2 reply <&3 && [[ $reply == +PONG* ]]) 2>/dev/null
  fi
}

wait_for() {  # name, check function
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  echo "ensure_services: $1 is not answering on 127.0.0.1 after 30 s" >&2
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
if ! redis_up; then
  echo "ensure_services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
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
wait_for Redis redis_up || status=1
[ $status -eq 0 ] && echo "ensure_services: $answering"
exit $status
