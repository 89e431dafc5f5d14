"""Fixtures shared by every app's tests (registered from the root conftest)."""

from __future__ import annotations

import pytest
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
