"""The trades tests' market: planted price paths, generating strategies and desk users.

Instruments (closes on the 300 business days ending Friday 2024-03-08, ``DATES``):

- ``UP``   EQUITY, USD, ×10: rises 0.1 % a day with a wobble — momentum long
- ``DOWN`` COMMODITY, USD, ×100: falls 0.1 % a day with a wobble — momentum short
- ``FGBL`` RATES, EUR, ×1000: a wobble around 130 — converted to USD by ``EURUSD``
- ``EURUSD`` FX, USD, ×1: the rate, a wobble around 1.08

Strategies: ``TREND`` (momentum, no asset class: every active instrument, 2 % risk budget) and
``MR`` (mean reversion, RATES only, 1 %). The portfolio is the shared ``MACRO1`` (USD, 1,000,000).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import Group, Permission

from portfolio import calculations as pcalc
from portfolio import services as portfolio_services
from portfolio.models import Instrument, Portfolio, Strategy
from portfolio.tests.factories import InstrumentFactory, StrategyFactory, UserFactory
from trades import services
from trades.models import TradeProposal

LAST = dt.date(2024, 3, 8)  # a Friday
N_DAYS = 300


def _dates(end: dt.date, n: int) -> list[dt.date]:
    days = [end]
    while len(days) < n:
        days.append(pcalc.previous_business_day(days[-1]))
    return days[::-1]


DATES = _dates(LAST, N_DAYS)
WEEKEND = dt.date(2024, 3, 9)

# symbol: (asset class, currency, multiplier)
SPECS = {
    "UP": ("EQUITY", "USD", "10"),
    "DOWN": ("COMMODITY", "USD", "100"),
    "FGBL": ("RATES", "EUR", "1000"),
    "EURUSD": ("FX", "USD", "1"),
}


def planted_close(symbol: str, t: int) -> Decimal:
    """The close of ``symbol`` on day index ``t`` (4 decimals, as a desk's closes)."""
    wobble = 0.01 * math.sin(0.7 * t) + 0.004 * math.cos(2.3 * t)
    level = {
        "UP": 100.0 * 1.001**t * (1 + wobble),
        "DOWN": 80.0 * 0.999**t * (1 + wobble),
        "FGBL": 130.0 * (1 + wobble),
        "EURUSD": 1.08 * (1 + 0.5 * wobble),
    }[symbol]
    return Decimal(f"{level:.4f}")


@dataclass
class TradesMarket:
    portfolio: Portfolio
    instruments: dict[str, Instrument]
    trend: Strategy
    mr: Strategy


def build_trades_market(portfolio: Portfolio, symbols=tuple(SPECS)) -> TradesMarket:
    instruments = {}
    for symbol in symbols:
        asset_class, currency, multiplier = SPECS[symbol]
        instruments[symbol] = InstrumentFactory(
            symbol=symbol,
            asset_class=asset_class,
            currency=currency,
            multiplier=Decimal(multiplier),
        )
    portfolio_services.prices_load(
        portfolio_services.PriceRow(symbol, day, planted_close(symbol, t))
        for symbol in symbols
        for t, day in enumerate(DATES)
    )
    trend = StrategyFactory(
        code="TREND", asset_class="", generator="momentum", risk_budget=Decimal("0.02")
    )
    mr = StrategyFactory(
        code="MR", asset_class="RATES", generator="mean_reversion", risk_budget=Decimal("0.01")
    )
    return TradesMarket(portfolio, instruments, trend, mr)


def restore_desk_groups() -> None:
    """The desk groups as the migrations make them (a transactional test's flush empties them;
    the permissions themselves are recreated by the flush's post_migrate)."""
    for name in ("viewer", "trader", "approver", "risk"):
        Group.objects.get_or_create(name=name)
    Group.objects.get(name="approver").permissions.add(
        Permission.objects.get(codename="approve_tradeproposal")
    )


def desk_users() -> dict[str, object]:
    """One user per desk role, and a second approver (four-eyes needs two people)."""
    return {
        "trader": UserFactory(username="trader1", groups=["trader"]),
        "approver": UserFactory(username="approver1", groups=["approver"]),
        "approver2": UserFactory(username="approver2", groups=["approver"]),
        "viewer": UserFactory(username="viewer1", groups=["viewer"]),
        "risk": UserFactory(username="risk1", groups=["risk"]),
        "root": UserFactory(username="root1", is_superuser=True, is_staff=True),
    }


def manual_proposal(
    market: TradesMarket,
    user,
    *,
    symbol: str = "UP",
    side: str = "buy",
    quantity: str = "5",
    day: dt.date = LAST,
    strategy: str | None = None,
) -> TradeProposal:
    return services.proposal_create(
        portfolio=market.portfolio,
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        day=day,
        strategy_code=strategy,
        rationale="test proposal",
        user=user,
    )
