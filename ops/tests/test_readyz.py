"""GET /readyz against the suite's real PostgreSQL and Redis: ready, a dead cache or broker named
in a fast 503, ready again once it is back."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from ops import health
from pms_project.tests.test_cache import DEAD

URL = "/readyz"
BROKER = "redis://127.0.0.1:6379/12"  # the suite's broker database
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def get(client):
    started = time.perf_counter()
    response = client.get(URL)
    return response, time.perf_counter() - started


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


def test_ready_without_a_login_when_every_dependency_answers(anon_client, db):
    # given the suite's database and Redis, no broker (CELERY_BROKER_URL= : eager tasks)
    response, _ = get(anon_client)
    # then 200, each check named, the eager broker reported but not failed
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "cache": "ok", "broker": health.EAGER},
    }
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


@override_settings(CELERY_BROKER_URL=BROKER)
def test_a_configured_broker_that_answers_is_ok(anon_client, db):
    response, _ = get(anon_client)
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_redis_down_is_a_fast_503_naming_the_cache_and_ready_again_when_back(anon_client, db):
    # given the cache pointed at a dead port (the settings' short socket timeouts)
    with override_settings(CACHES=DEAD):
        response, seconds = get(anon_client)
        # then 503 naming the cache only, in well under a second
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "not ready" and body["failed"] == ["cache"]
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["cache"].startswith("unavailable (")
        assert seconds < 1.0
    # when Redis is back, then ready again
    response, _ = get(anon_client)
    assert response.status_code == 200 and response.json()["status"] == "ready"


@override_settings(CELERY_BROKER_URL=DEAD_BROKER)
def test_a_dead_broker_is_a_fast_503_naming_the_broker(anon_client, db):
    response, seconds = get(anon_client)
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["cache"] == "ok"
    assert seconds < 1.0


def test_cache_and_broker_down_are_both_named(anon_client, db):
    with override_settings(CACHES=DEAD, CELERY_BROKER_URL=DEAD_BROKER):
        response, seconds = get(anon_client)
    assert response.status_code == 503
    assert response.json()["failed"] == ["cache", "broker"]
    assert seconds < 1.5


def test_only_get_and_head(anon_client, db):
    assert anon_client.head(URL).status_code == 200
    assert anon_client.post(URL).status_code == 405
