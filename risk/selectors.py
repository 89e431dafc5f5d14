"""Reads for risk: price history as return frames, exposures of a marked day, NAV history,
limits, scenarios, snapshots and alerts.

Each function issues a fixed number of queries whatever the number of positions or instruments.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import QuerySet

from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio import calendars
from portfolio import selectors as portfolio_selectors
from portfolio.models import NavSnapshot, Portfolio, PositionSnapshot

from . import calculations as calc
from .models import Alert, RiskLimit, RiskSnapshot, StressScenario, StressShock


@dataclass(frozen=True)
class InstrumentInfo:
    id: int
    symbol: str
    asset_class: str
    currency: str
    calendar: str = ""  # its trading calendar: closes on its closed days are not read


@dataclass(frozen=True)
class MarketHistory:
    """Closes and rates to the base currency of some instruments, dates × symbol (floats)."""

    prices: pd.DataFrame  # the closes, in each instrument's own currency
    fx: pd.DataFrame  # the rate converting each instrument's currency to the base, that date

    def returns(self) -> pd.DataFrame:
        """Daily returns of price × fx (SPEC §4), each instrument over its own dates."""
        values = pd.DataFrame(
            self.prices.to_numpy() * self.fx.to_numpy(),
            index=self.prices.index,
            columns=self.prices.columns,
        )
        return calc.daily_returns(values)


def market_history(
    *,
    base: str,
    instruments: dict[str, InstrumentInfo],
    end: dt.date | None = None,
    start: dt.date | None = None,
) -> MarketHistory:
    """The closes of ``instruments`` from ``start`` to ``end`` and their rates to ``base``. An
    instrument with no close at all has a column of NaN. A close dated on a day the instrument's
    calendar is closed is dropped (NaN): its returns run over its own trading days, the one
    after a holiday spanning it. Two queries."""
    symbols = sorted(instruments)
    if not symbols:
        empty = pd.DataFrame(dtype=float)
        return MarketHistory(empty, empty)
    pairs = portfolio_selectors.fx_pairs(
        base=base, currencies={i.currency for i in instruments.values()}
    )
    ids = {info.id: symbol for symbol, info in instruments.items()}
    closes = portfolio_selectors.closes_frame([*ids, *pairs], start=start, end=end)
    prices = closes.reindex(columns=list(ids)).rename(columns=ids).reindex(columns=symbols)
    prices = calendars.mask_closed(prices, {s: i.calendar for s, i in instruments.items()})
    fx = calc.fx_to_base(_pairs(closes, pairs, direct=True), _pairs(closes, pairs, direct=False))
    currencies = pd.Series({s: instruments[s].currency for s in symbols}, dtype=object)
    return MarketHistory(prices, calc.fx_factors(prices, currencies, fx, base))


def returns_frame(
    *,
    base: str,
    instruments: dict[str, InstrumentInfo],
    end: dt.date | None = None,
    start: dt.date | None = None,
) -> pd.DataFrame:
    """Daily returns of price × fx in ``base``, dates × symbol (SPEC §4), closes from ``start``
    to ``end``. An instrument with no close at all has a column of NaN. Two queries."""
    if not instruments:
        return pd.DataFrame(dtype=float)
    return market_history(base=base, instruments=instruments, end=end, start=start).returns()


def _pairs(closes: pd.DataFrame, pairs: dict[int, tuple[str, bool]], *, direct: bool):
    """The closes of the direct (``CB``) or inverse (``BC``) pairs, one column per currency."""
    columns = {iid: ccy for iid, (ccy, is_direct) in pairs.items() if is_direct == direct}
    return closes.reindex(columns=list(columns)).rename(columns=columns)


# --- Exposures and NAV of a marked day --------------------------------------------------------


@dataclass(frozen=True)
class MarkedDay:
    nav: Decimal
    totals: pcalc.ExposureTotals
    instruments: dict[str, InstrumentInfo]


def marked_day(portfolio: Portfolio, day: dt.date) -> MarkedDay:
    """NAV and exposures of ``day`` as its mark-to-market stored them (400 when not marked)."""
    nav = (
        NavSnapshot.objects.filter(portfolio=portfolio, date=day).values_list("nav", flat=True)
    ).first()
    if nav is None:
        raise PMSError(
            f"{day.isoformat()} is not marked to market: run mark_to_market for it first",
            field="date",
        )
    rows = PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day).values_list(
        "position__instrument_id",
        "position__instrument__symbol",
        "position__instrument__asset_class",
        "position__instrument__currency",
        "position__instrument__calendar",
        "exposure",
    )
    instruments, exposures = {}, []
    for iid, symbol, asset_class, currency, calendar, exposure in rows:
        instruments[symbol] = InstrumentInfo(iid, symbol, asset_class, currency, calendar)
        if exposure:
            exposures.append(pcalc.ExposureRow(symbol, asset_class, currency, exposure))
    return MarkedDay(nav, pcalc.exposure_totals(exposures), instruments)


def nav_history(
    portfolio: Portfolio, *, before: dt.date | None = None, upto: dt.date | None = None
) -> list[tuple[dt.date, Decimal, float]]:
    """(date, NAV, daily return) of the stored snapshots, oldest first, with date < ``before``
    or ≤ ``upto``."""
    qs = NavSnapshot.objects.filter(portfolio=portfolio)
    if before is not None:
        qs = qs.filter(date__lt=before)
    if upto is not None:
        qs = qs.filter(date__lte=upto)
    return list(qs.order_by("date").values_list("date", "nav", "daily_return"))


# --- Limits, scenarios, snapshots, alerts -----------------------------------------------------


def limits_of(portfolio: Portfolio) -> list[RiskLimit]:
    return list(RiskLimit.objects.filter(portfolio=portfolio).order_by("metric"))


def stress_scenarios() -> tuple[list[StressScenario], list[StressShock]]:
    scenarios = list(StressScenario.objects.filter(active=True).order_by("name"))
    shocks = list(StressShock.objects.filter(scenario__in=scenarios).select_related("instrument"))
    return scenarios, shocks


def snapshot_list(portfolio: Portfolio) -> QuerySet[RiskSnapshot]:
    return RiskSnapshot.objects.filter(portfolio=portfolio).order_by("date")


def alert_list(portfolio: Portfolio) -> QuerySet[Alert]:
    return Alert.objects.filter(portfolio=portfolio).select_related("portfolio")
