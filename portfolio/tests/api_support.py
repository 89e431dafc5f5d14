"""Shared data and helpers for the portfolio API tests (``test_api_*.py``).

The market: ES (equity future, USD, ×50), FGBL (Bund future, EUR, ×1000) and EURUSD (the FX pair
that converts FGBL to the USD base). Closes for the business days 2024-03-04 .. 2024-03-06.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from portfolio import services
from portfolio.models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)

from .factories import InstrumentFactory, StrategyFactory

API = "/api/portfolio"
MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8))
SAT, SUN = dt.date(2024, 3, 9), dt.date(2024, 3, 10)

CLOSES = {
    "ES": {MON: "5000", TUE: "5010", WED: "5020.5"},
    "FGBL": {MON: "132.5", TUE: "133", WED: "132.75"},
    "EURUSD": {MON: "1.08", TUE: "1.09", WED: "1.0875"},
}

# A raw JSON body may carry these non-standard tokens (Python's json module writes them).
NON_FINITE = ["NaN", "Infinity", "-Infinity"]


def future_day() -> dt.date:
    return timezone.now().date() + dt.timedelta(days=7)


def D(value) -> Decimal:
    """A JSON decimal string (or number) as a Decimal, asserting it left the API as a string."""
    assert isinstance(value, str), f"{value!r} should be a decimal string"
    return Decimal(value)


def market() -> dict[str, Instrument]:
    """ES, FGBL, EURUSD with their closes for Mon..Wed 2024-03-04..06."""
    instruments = {
        "ES": InstrumentFactory(symbol="ES", asset_class="EQUITY", multiplier=Decimal(50)),
        "FGBL": InstrumentFactory(
            symbol="FGBL", asset_class="RATES", currency="EUR", multiplier=Decimal(1000)
        ),
        "EURUSD": InstrumentFactory(symbol="EURUSD", asset_class="FX", currency="USD"),
    }
    services.prices_load(
        services.PriceRow(symbol, day, Decimal(close))
        for symbol, by_day in CLOSES.items()
        for day, close in by_day.items()
    )
    return instruments


def open_position(portfolio: Portfolio, symbol: str, quantity, price, day=MON, strategy=None):
    _, position = services.position_open(
        portfolio=portfolio,
        symbol=symbol,
        quantity=Decimal(quantity),
        price=Decimal(price),
        trade_date=day,
        strategy_code=strategy,
    )
    return position


def stored_position(portfolio, instrument, quantity, avg_cost="1", realized="0"):
    """A position written straight to the database, past every rule of the API."""
    return Position.objects.create(
        portfolio=portfolio,
        instrument=instrument,
        strategy=StrategyFactory(code="MANUAL"),
        quantity=Decimal(quantity),
        avg_cost=Decimal(avg_cost),
        realized_pnl=Decimal(realized),
        opened_date=MON,
    )


def open_book(portfolio: Portfolio) -> dict[str, Position]:
    """The market, long 2 ES @ 5000 and short 3 FGBL @ 132.5, both opened on Monday."""
    market()
    return {
        "ES": open_position(portfolio, "ES", "2", "5000"),
        "FGBL": open_position(portfolio, "FGBL", "-3", "132.5"),
    }


# Wednesday's marks: ES 5020.5; FGBL 132.75 converted at EURUSD 1.0875.
ES_EXPOSURE = Decimal(2) * 50 * Decimal("5020.5")  # 502050
FGBL_EXPOSURE = Decimal(-3) * 1000 * Decimal("132.75") * Decimal("1.0875")  # −433096.875
ES_UNREALIZED = (Decimal("5020.5") - 5000) * 2 * 50  # 2050
FGBL_UNREALIZED = (Decimal("132.75") - Decimal("132.5")) * -3 * 1000 * Decimal("1.0875")
NAV = Decimal(1_000_000) + ES_UNREALIZED + FGBL_UNREALIZED  # 1,001,234.375


def counts() -> dict[str, int]:
    """Row counts of everything an API write could touch."""
    models = [
        CashFlow,
        Execution,
        Instrument,
        NavSnapshot,
        Portfolio,
        Position,
        PositionSnapshot,
        Price,
        Strategy,
    ]
    return {m.__name__: m.objects.count() for m in models}


def assert_400_naming(response, field: str, *words: str) -> dict:
    """A 400 whose JSON body has ``field`` as a key; each of ``words`` appears in its message."""
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert isinstance(body, dict), body
    assert field in body, body
    message = " ".join(str(m) for m in body[field])
    for word in words:
        assert word in message, (word, body)
    return body


@pytest.fixture(autouse=True)
def api_test_defaults(settings):
    """Each test starts with an empty cache (its own Redis database in the suite's run)."""
    cache.clear()
    yield
