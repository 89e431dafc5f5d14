"""A real Celery worker for the tests that drive chains through the Redis broker: Celery's
embedded test worker (a thread of this process, solo pool) consuming the Redis database after the
suite's cache database, with the app reconfigured for the test only — the suite otherwise runs
tasks eagerly (``CELERY_BROKER_URL=``). ``conftest.py`` offers it as the ``redis_worker`` fixture.

Tests using it are transactional: the worker's thread has its own database connection, so the
data it reads must be committed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import kombu.pools
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection

from pms_project.celery import app
from pms_project.settings import _next_redis_database

# The broker's own database, as production derives it: the one after the suite's cache database
# (REDIS_URL), so two suites run side by side on their own cache databases never share a queue.
BROKER_URL = _next_redis_database(settings.REDIS_URL)


@contextmanager
def redis_worker_running() -> Iterator[None]:
    """A worker consuming the Redis broker while the block runs; the app eager again after."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    reset_connection_pools()  # an earlier test's pools point at the old (default) broker
    app.control.purge()  # nothing left over from an earlier run in our broker database

    def close_connection(**kwargs):
        # The worker thread's connection would outlive the test and block the database's drop.
        if threading.current_thread() is not threading.main_thread():
            connection.close()

    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        task_postrun.disconnect(close_connection)
        app.conf.update(saved)
        reset_connection_pools()


def reset_connection_pools() -> None:
    """Drop the app's broker connection and producer pools (made lazily with the broker URL of
    their time, e.g. by an eager ``delay()`` of an earlier test), as Celery does after a fork —
    and kombu's registry of pools by broker URL, or a second worker of the session would get the
    first one's pool back, closed ("Acquire on closed pool")."""
    app._pool = None
    kombu.pools.reset()
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
