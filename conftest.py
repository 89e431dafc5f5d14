"""Root test configuration: the main suite runs against real PostgreSQL and real Redis.

``make test`` (and ``.ci/run``) set DATABASE_URL and REDIS_URL. Running the suite on anything else
is an error, not a skip: a green run on anything else would prove nothing about production.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django_redis import get_redis_connection

pytest_plugins = ["portfolio.tests.fixtures", "tests.browser"]


def pytest_sessionstart(session):
    # Fail fast with a clear message before any test runs.
    engine = settings.DATABASES["default"]["ENGINE"]
    backend = settings.CACHES["default"]["BACKEND"]
    problems = []
    if engine != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL must point at PostgreSQL (got {engine})")
    if backend != "django_redis.cache.RedisCache":
        problems.append(f"REDIS_URL must point at Redis (got {backend})")
    if problems:
        raise pytest.UsageError("; ".join(problems) + " — run the suite with `make test`.")


def _allow_flushing_the_audit(sender, connection, **kwargs):
    """Django's flush after a transactional test TRUNCATEs every table; the audit trail refuses
    TRUNCATE unless the session says so (trades/migrations/0003). Only the suite's connections
    do; test_audit turns it off again to prove the refusal."""
    with connection.cursor() as cursor:
        cursor.execute("SET pms.audit_truncate = 'allow'")


connection_created.connect(_allow_flushing_the_audit, dispatch_uid="pms-allow-audit-flush")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 costs ~0.25 s per test user; the suite tests permissions, not hashing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _services_answer(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql"
    client = get_redis_connection("default")
    assert client.ping() is True, "Redis did not answer PING"
