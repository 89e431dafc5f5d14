"""Fixtures of the trades tests (see fixtures_trades for the market)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .fixtures_trades import build_trades_market, desk_users


@pytest.fixture
def tmarket(portfolio):
    """MACRO1 with UP, DOWN, FGBL, EURUSD (300 days of planted closes) and TREND / MR."""
    return build_trades_market(portfolio)


@pytest.fixture
def users(db):
    return desk_users()


@pytest.fixture
def client_of(users):
    """``client_of("approver")``: an API client authenticated as that desk user."""

    def make(role: str) -> APIClient:
        client = APIClient()
        client.force_authenticate(users[role])
        return client

    return make
