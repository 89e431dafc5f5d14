"""The demo desk as pure data: instruments, synthetic closes and a trade plan. No ORM here.

``seed_demo`` turns these values into rows through the services. Keeping them pure means a test can
regenerate the exact prices the command loaded, and a rerun on the same day loads identical data:
every value depends only on the seed and the row index, never on the clock or on global state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from . import calculations as calc

# Picked among a few hundred seeds so that no path strays more than ~1.25 two-year σ from its
# start: the levels stay recognizable (ES near 5000, gold near 2000) for people reading the demo.
SEED = 20240413
HISTORY_DAYS = 540  # business days of closes: a little over two years
PLAN_DAYS = 260  # the trade plan spans roughly the last year of the history
PORTFOLIO_CODE = "MACRO1"
PORTFOLIO_NAME = "Global Macro Demo"
BASE_CURRENCY = "USD"
INITIAL_CAPITAL = Decimal("100000000")
_TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class DemoInstrument:
    symbol: str
    name: str
    asset_class: str
    currency: str
    multiplier: Decimal
    start: float  # first close of the history
    vol: float  # annualised volatility of log returns
    tick: Decimal  # closes are whole multiples of the tick, as on the exchange


@dataclass(frozen=True)
class DemoStrategy:
    code: str
    name: str
    asset_class: str
    risk_budget: Decimal
    generator: str = ""  # the trades app's signal generator; blank: manual


@dataclass(frozen=True)
class DemoTrade:
    day: int  # index into the history's dates
    symbol: str
    strategy: str
    quantity: Decimal


@dataclass(frozen=True)
class DemoFlow:
    day: int
    amount: Decimal
    note: str


def _inst(symbol, name, asset_class, currency, multiplier, start, vol, tick) -> DemoInstrument:
    return DemoInstrument(
        symbol, name, asset_class, currency, Decimal(multiplier), start, vol, Decimal(tick)
    )


# EURUSD must be present: EUR instruments convert to the USD base through its close.
INSTRUMENTS: tuple[DemoInstrument, ...] = (
    _inst("EURUSD", "Euro / US dollar future", "FX", "USD", "125000", 1.0850, 0.07, "0.00005"),
    _inst("GBPUSD", "Sterling / US dollar future", "FX", "USD", "62500", 1.2700, 0.08, "0.0001"),
    _inst("TY", "US 10y Treasury note future", "RATES", "USD", "1000", 110.5, 0.06, "0.015625"),
    _inst("FGBL", "Euro-Bund future", "RATES", "EUR", "1000", 131.5, 0.06, "0.01"),
    _inst("ES", "S&P 500 E-mini future", "EQUITY", "USD", "50", 5000.0, 0.16, "0.25"),
    _inst("NQ", "Nasdaq-100 E-mini future", "EQUITY", "USD", "20", 17500.0, 0.22, "0.25"),
    _inst("FESX", "Euro Stoxx 50 future", "EQUITY", "EUR", "10", 4800.0, 0.18, "1"),
    _inst("CL", "WTI crude oil future", "COMMODITY", "USD", "1000", 75.0, 0.32, "0.01"),
    _inst("GC", "Gold future", "COMMODITY", "USD", "100", 2000.0, 0.15, "0.1"),
    _inst("HG", "Copper future", "COMMODITY", "USD", "25000", 4.0, 0.22, "0.0005"),
    _inst("CDXIG", "CDX North America IG index", "CREDIT", "USD", "10000", 100.5, 0.02, "0.005"),
    _inst("ITRAXX", "iTraxx Europe Main index", "CREDIT", "EUR", "10000", 100.8, 0.025, "0.005"),
)

STRATEGIES: tuple[DemoStrategy, ...] = (
    DemoStrategy("TREND", "Cross-asset trend following", "", Decimal("0.02"), "momentum"),
    DemoStrategy("MEANREV", "Short-term mean reversion", "", Decimal("0.01"), "mean_reversion"),
    DemoStrategy("CARRY", "Rates, FX and credit carry", "", Decimal("0.01")),
)


def _t(offset: int, symbol: str, strategy: str, quantity: str) -> tuple[int, str, str, Decimal]:
    return offset, symbol, strategy, Decimal(quantity)


# (business days after the plan starts, symbol, strategy, signed contracts). Gross exposure ends
# near 2× NAV. The plan covers an add (ES, EURUSD, FGBL, HG), a partial close (GC, ES, CDXIG), a
# full close (FESX, NQ, GBPUSD), a flip through zero (CL) and both currencies.
_PLAN: tuple[tuple[int, str, str, Decimal], ...] = (
    _t(0, "ES", "TREND", "60"),
    _t(0, "TY", "CARRY", "200"),
    _t(3, "EURUSD", "CARRY", "250"),
    _t(5, "FGBL", "CARRY", "-120"),
    _t(8, "GC", "TREND", "60"),
    _t(12, "CL", "MEANREV", "-100"),
    _t(20, "FESX", "MEANREV", "300"),
    _t(25, "CDXIG", "CARRY", "15"),
    _t(30, "NQ", "TREND", "30"),
    _t(40, "ES", "TREND", "40"),
    _t(45, "ITRAXX", "CARRY", "12"),
    _t(55, "GBPUSD", "MEANREV", "-200"),
    _t(70, "CL", "MEANREV", "180"),
    _t(85, "HG", "TREND", "80"),
    _t(100, "GC", "TREND", "-25"),
    _t(115, "FESX", "MEANREV", "-300"),
    _t(130, "EURUSD", "CARRY", "100"),
    _t(150, "NQ", "TREND", "-30"),
    _t(160, "TY", "MANUAL", "50"),
    _t(175, "FGBL", "CARRY", "-60"),
    _t(190, "GBPUSD", "MEANREV", "200"),
    _t(200, "ES", "TREND", "-50"),
    _t(215, "CDXIG", "CARRY", "-5"),
    _t(230, "FESX", "MEANREV", "-200"),
    _t(240, "HG", "TREND", "40"),
    _t(250, "GBPUSD", "MANUAL", "150"),
)

_FLOWS: tuple[tuple[int, Decimal, str], ...] = (
    (120, Decimal("10000000"), "Subscription: new allocation"),
    (210, Decimal("-5000000"), "Redemption: quarterly liquidity"),
)


# --- Dates ------------------------------------------------------------------------------------


def history_end(today: dt.date) -> dt.date:
    """The last business day strictly before ``today``: the most recent complete close."""
    return calc.previous_business_day(today)


def history_dates(end: dt.date, days: int = HISTORY_DAYS) -> list[dt.date]:
    """The ``days`` business days ending on ``end`` (inclusive), oldest first."""
    if not calc.is_business_day(end):
        end = calc.previous_business_day(end)
    dates = [end]
    while len(dates) < days:
        dates.append(calc.previous_business_day(dates[-1]))
    dates.reverse()
    return dates


# --- Prices -----------------------------------------------------------------------------------


def _to_tick(value: float, tick: Decimal) -> Decimal:
    """Round to a whole number of ticks, never below one tick (closes are always > 0)."""
    ticks = max(1, round(value / float(tick)))
    return tick * ticks


def price_paths(
    days: int = HISTORY_DAYS, *, seed: int = SEED, instruments=INSTRUMENTS
) -> dict[str, list[Decimal]]:
    """Closes by row index: a driftless geometric random walk per instrument.

    The shocks are drawn once as a (days × instruments) matrix from ``default_rng(seed)``, so row i
    of every path depends only on the seed and i, whatever the calendar dates later attached.
    """
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((days, len(instruments)))
    paths: dict[str, list[Decimal]] = {}
    for col, inst in enumerate(instruments):
        sigma = inst.vol / np.sqrt(_TRADING_DAYS_PER_YEAR)
        steps = sigma * shocks[:, col] - 0.5 * sigma * sigma  # zero-drift in price terms
        steps[0] = 0.0  # the first close is the instrument's start level
        levels = inst.start * np.exp(np.cumsum(steps))
        paths[inst.symbol] = [_to_tick(float(v), inst.tick) for v in levels]
    return paths


def price_history(
    end: dt.date, *, days: int = HISTORY_DAYS, seed: int = SEED
) -> list[tuple[dt.date, str, Decimal]]:
    """Every (date, symbol, close) of the demo history ending on ``end``."""
    dates = history_dates(end, days)
    paths = price_paths(days, seed=seed)
    return [
        (day, symbol, closes[i]) for symbol, closes in paths.items() for i, day in enumerate(dates)
    ]


# --- The book ---------------------------------------------------------------------------------


def trade_plan(days: int = HISTORY_DAYS) -> list[DemoTrade]:
    """The executions, as row indices into a history of ``days`` business days."""
    start = days - PLAN_DAYS
    return [DemoTrade(start + offset, sym, strat, qty) for offset, sym, strat, qty in _PLAN]


def cash_flows(days: int = HISTORY_DAYS) -> list[DemoFlow]:
    start = days - PLAN_DAYS
    return [DemoFlow(start + offset, amount, note) for offset, amount, note in _FLOWS]
