"""Fixtures of the risk tests."""

from __future__ import annotations

import pytest

from .fixtures_risk import build_market, open_book


@pytest.fixture
def market(portfolio):
    """The three-instrument market and book (see fixtures_risk), nothing marked."""
    market = build_market()
    open_book(portfolio, market)
    return market
