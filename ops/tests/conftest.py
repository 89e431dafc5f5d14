"""Fixtures of the ops tests: the pipelines' desk (see ``desk.py``), built once per module in a
transaction rolled back after it; each test runs in a nested one of its own."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from portfolio.models import Portfolio
from portfolio.tests.fixtures import module_data

from .desk import desk_build
from .worker_support import redis_worker_running


@pytest.fixture(scope="module")
def _module_desk(django_db_setup, django_db_blocker):
    with module_data(django_db_blocker):
        yield desk_build().pk


@pytest.fixture
def desk(db, _module_desk) -> Portfolio:
    """MACRO1 marked Mon–Thu 2024-03-04..07, with a pending manual proposal of Thursday."""
    cache.clear()
    return Portfolio.objects.get(pk=_module_desk)


@pytest.fixture
def redis_worker():
    """A real Celery worker consuming the Redis broker, for one (transactional) test."""
    with redis_worker_running():
        yield
