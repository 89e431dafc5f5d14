"""Fixtures of the briefing tests: the attribution tests' marked book (twelve business days to
Tue 2024-04-09) with what a morning reads besides — limits (one breached, so an alert), a
manual proposal and a signal for Wed 2024-04-10, the pack's date.

Built once per module in a transaction rolled back after it; each test runs in a nested one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from attribution.tests.fixtures_attribution import AFTER, LAST, book_build, close, market_build
from portfolio.models import Instrument, Portfolio, Strategy
from portfolio.tests.factories import PortfolioFactory
from portfolio.tests.fixtures import module_data
from risk import services as risk_services
from trades import services as trades_services
from trades.models import Signal

PACK_DATE = AFTER  # Wed 2024-04-10: the morning after the last close
AS_OF = LAST  # Tue 2024-04-09


def extras_build(portfolio: Portfolio) -> None:
    """Limits (gross leverage breached, VaR 99 in warning), the risk of the last close (which
    raises the breach's alert), a manual proposal and a signal for the pack's date."""
    risk_services.risk_limit_create(
        portfolio=portfolio, metric="gross_leverage", soft=Decimal("0.1"), hard=Decimal("0.2")
    )
    risk_services.risk_limit_create(
        portfolio=portfolio, metric="var_99", soft=Decimal("0.0001"), hard=Decimal("0.5")
    )
    risk_services.risk_snapshot_record(portfolio=portfolio, business_date=AS_OF)
    trades_services.proposal_create(
        portfolio=portfolio,
        symbol="ES",
        side="buy",
        quantity=Decimal(1),
        price=close("ES", AS_OF),
        day=PACK_DATE,
        strategy_code="TREND",
        rationale="Add to the trend into the data",
    )
    Signal.objects.create(
        strategy=Strategy.objects.get(code="CARRY"),
        instrument=Instrument.objects.get(symbol="EURUSD"),
        date=PACK_DATE,
        value=0.5,
        generator="test",
        rationale="a signal on an instrument the book does not hold",
    )


@pytest.fixture(scope="module")
def _module_book(django_db_setup, django_db_blocker):
    with module_data(django_db_blocker):
        market_build()
        portfolio = book_build(PortfolioFactory(code="MACRO1"), flows=True)
        extras_build(portfolio)
        yield portfolio.pk


@pytest.fixture
def desk(db, _module_book) -> Portfolio:
    """MACRO1 marked to 2024-04-09 with limits, an alert, a pending proposal and a signal."""
    cache.clear()
    return Portfolio.objects.get(pk=_module_book)


@pytest.fixture
def portfolio(desk) -> Portfolio:
    return desk


def days_after(day: dt.date, n: int) -> dt.date:
    return day + dt.timedelta(days=n)
