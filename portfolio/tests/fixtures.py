"""Fixtures shared by every app's tests (registered from the root conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from .api_support import open_book
from .factories import PortfolioFactory, UserFactory


@pytest.fixture
def portfolio(db):
    return PortfolioFactory()


@pytest.fixture
def book(portfolio):
    """Long 2 ES @ 5000 and short 3 FGBL @ 132.5, both opened Monday; closes to Wednesday."""
    return open_book(portfolio)


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def viewer_client(db):
    return _client_for(UserFactory(username="viewer1", groups=["viewer"]))


@pytest.fixture
def trader_client(db):
    return _client_for(UserFactory(username="trader1", groups=["trader"]))


@pytest.fixture
def admin_client_api(db):
    return _client_for(UserFactory(username="root1", is_superuser=True, is_staff=True))


@contextmanager
def module_data(django_db_blocker) -> Iterator[None]:
    """For data built once per test module (a marked book takes seconds): a transaction that
    is rolled back when the module ends. Each test still runs in a nested one of its own
    (pytest-django's ``db``), so what one test writes never reaches another."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
