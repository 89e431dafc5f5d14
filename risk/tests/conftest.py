"""Fixtures of the risk tests."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from portfolio.tests.factories import UserFactory

from .fixtures_risk import build_market, open_book


@pytest.fixture
def market(portfolio):
    """The three-instrument market and book (see fixtures_risk), nothing marked."""
    market = build_market()
    open_book(portfolio, market)
    return market


@pytest.fixture
def risk_client(db):
    """An API client of a user in the "risk" group."""
    client = APIClient()
    client.force_authenticate(UserFactory(username="risk1", groups=["risk"]))
    return client
