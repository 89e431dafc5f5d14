"""Whether the dependencies answer (SPEC §9): the database, the cache and the broker.

``GET /readyz`` and the ``pms_*_up`` gauges of ``/metrics`` both ask ``dependencies()``. Each
check is bounded so that a dead dependency costs well under a second: the cache by its client's
socket timeouts (50 ms, settings), the broker by ``BROKER_TIMEOUT``, the database by PostgreSQL
refusing the connection (a host that drops packets instead waits for the OS's connect timeout).
No check raises: an error is reported by its class name (the endpoint is public, so no detail).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection

BROKER_TIMEOUT = 0.75  # seconds: a connection and a PING
EAGER = "eager (none configured)"
OK = "ok"


@dataclass(frozen=True)
class Check:
    name: str
    up: bool
    detail: str  # "ok", EAGER, or what failed


def _failed(exc: BaseException) -> str:
    return f"unavailable ({type(exc).__name__})"


def database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error: the database is what is not ready
        return Check("database", False, _failed(exc))
    return Check("database", True, OK)


def cache_round_trip() -> Check:
    """A write, a read and a delete of a random key through the configured cache: what the
    cached views do (``pms_project.cache``'s breaker is left alone: this is a probe)."""
    key = f"readyz:{secrets.token_hex(8)}"
    value = secrets.token_hex(8)
    try:
        cache.set(key, value, 10)
        found = cache.get(key)
        cache.delete(key)
    except Exception as exc:  # redis' ConnectionError, TimeoutError, …
        return Check("cache", False, _failed(exc))
    if found != value:
        return Check("cache", False, "unavailable (the value read back differs)")
    return Check("cache", True, OK)


def broker() -> Check:
    """A connection to the Celery broker and a round trip; without one (eager mode: tasks run in
    the process that queues them) there is nothing to be down."""
    url = settings.CELERY_BROKER_URL
    if not url:
        return Check("broker", True, EAGER)
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=BROKER_TIMEOUT, socket_timeout=BROKER_TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(url, connect_timeout=BROKER_TIMEOUT) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=BROKER_TIMEOUT)
    except Exception as exc:  # any transport error
        return Check("broker", False, _failed(exc))
    return Check("broker", True, OK)


def dependencies() -> list[Check]:
    return [database(), cache_round_trip(), broker()]
