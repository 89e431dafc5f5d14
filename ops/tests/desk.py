"""The pipelines' test desk, built through the real services on the trades tests' market.

The market (``trades.tests.fixtures_trades``): UP, DOWN, FGBL (EUR) and EURUSD with 300
business days of closes to Fri 2024-03-08, strategies TREND (momentum, every instrument) and
MR (mean reversion, rates). The book: long 40 UP (TREND) and short 3 FGBL (MR) opened on Mon
2024-03-04, marked Mon–Thu; the EOD of Friday is the pipelines' to run, then the pre-open of
Monday 2024-03-11 (from Friday's close). A manual proposal of Thursday is pending, for the
pre-open to expire.
"""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

from django.apps import apps
from django.db import models

from attribution.models import AttributionDay, AttributionResult, SegmentPnl
from briefing.models import MorningPack
from portfolio import services
from portfolio.models import NavSnapshot, Portfolio, PositionSnapshot
from portfolio.tests.factories import PortfolioFactory, UserFactory
from risk.models import Alert, RiskSnapshot
from trades import services as trades_services
from trades.models import Signal, TradeProposal
from trades.tests.fixtures_trades import DATES, build_trades_market, planted_close

MON, THU, FRI = dt.date(2024, 3, 4), dt.date(2024, 3, 7), dt.date(2024, 3, 8)
SAT = dt.date(2024, 3, 9)
NEXT_MON = dt.date(2024, 3, 11)  # the pre-open after Friday's EOD


def close(symbol: str, day: dt.date) -> Decimal:
    return planted_close(symbol, DATES.index(day))


def desk_build(code: str = "MACRO1") -> Portfolio:
    portfolio = PortfolioFactory(code=code)
    build_trades_market(portfolio)
    for symbol, quantity, strategy in (("UP", 40, "TREND"), ("FGBL", -3, "MR")):
        services.position_open(
            portfolio=portfolio,
            symbol=symbol,
            quantity=Decimal(quantity),
            price=close(symbol, MON),
            trade_date=MON,
            strategy_code=strategy,
        )
    services.mark_to_market_range(portfolio=portfolio, start=MON, end=THU)
    trades_services.proposal_create(
        portfolio=portfolio,
        symbol="DOWN",
        side="buy",
        quantity=Decimal(2),
        day=THU,
        rationale="a trader's idea left pending",
        user=UserFactory(username=f"trader-{code.lower()}", groups=["trader"]),
    )
    return portfolio


# --- What a run writes, to compare two runs -----------------------------------------------------

# Stamps of when a row was written, not what it says.
_STAMPS = (models.DateTimeField,)


def _values(queryset, *, keep_id: bool = False) -> list[tuple]:
    fields = [
        f.attname
        for f in queryset.model._meta.concrete_fields
        if not isinstance(f, _STAMPS) and (keep_id or not f.primary_key)
    ]
    return sorted(queryset.values_list(*fields), key=repr)


def day_rows(portfolio: Portfolio, day: dt.date) -> dict[str, list[tuple]]:
    """Every row the pipelines write for ``portfolio`` and ``day``, without write stamps (and
    without the ids of rows a service replaces by delete and insert); proposals keep their ids:
    a regeneration keeps an unchanged pending proposal, it never makes a second one."""
    return {
        "nav": _values(NavSnapshot.objects.filter(portfolio=portfolio, date=day)),
        "positions": _values(
            PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day)
        ),
        "risk": _values(RiskSnapshot.objects.filter(portfolio=portfolio, date=day)),
        "alerts": _values(Alert.objects.filter(portfolio=portfolio, date=day)),
        "attribution": _values(AttributionResult.objects.filter(portfolio=portfolio, as_of=day)),
        "segments": _values(SegmentPnl.objects.filter(portfolio=portfolio)),
        "attribution_days": _values(AttributionDay.objects.filter(portfolio=portfolio)),
        "signals": _values(Signal.objects.filter(date=day), keep_id=True),
        "proposals": _values(TradeProposal.objects.filter(portfolio=portfolio), keep_id=True),
        "packs": _values(MorningPack.objects.filter(portfolio=portfolio, date=day)),
    }


def restore_schedules() -> int:
    """The beat schedules of migration ``ops/0002`` again (idempotent): an earlier transactional
    test's flush took them, and ``verify`` checks them."""
    migration = importlib.import_module("ops.migrations.0002_pipeline_schedules")
    return migration.schedules_create(apps)
