"""A small deterministic market for the risk tests, and a direct numpy recomputation of VaR.

The market: ES (equity future, USD, ×50), FGBL (Bund future, EUR, ×1000), GC (gold, USD, ×100)
and EURUSD (the pair converting FGBL to the USD base), 81 business days of closes from Tue
2024-01-02 to Tue 2024-04-23 (80 daily returns, so ≥ 60 scenarios), each a random walk from a
seeded numpy generator. The book: long 2 ES, short 3 FGBL, long 1 GC, opened at the closes of
``DATES[OPEN]``; every test marks the days it needs.

The recomputation below reads the stored closes and redoes SPEC §4 with numpy and the standard
library only; it shares no code with ``risk.calculations``.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import pandas as pd

from portfolio import selectors as portfolio_selectors
from portfolio import services
from portfolio.book import book_get
from portfolio.models import NavSnapshot, Portfolio, PositionSnapshot, Price
from portfolio.tests.api_support import open_position
from portfolio.tests.factories import InstrumentFactory
from risk.models import Alert, RiskLimit, RiskSnapshot, StressScenario, StressShock

SEED = 20240102
DATES: list[dt.date] = [d.date() for d in pd.bdate_range("2024-01-02", periods=81)]
LAST = DATES[-1]  # Tue 2024-04-23
OPEN = 75  # positions are opened at the closes of DATES[75] (Tue 2024-04-16)
SIX = Decimal("1E-6")


@dataclass(frozen=True)
class Spec:
    asset_class: str
    currency: str
    multiplier: int
    start: str
    vol: float


SPECS = {
    "ES": Spec("EQUITY", "USD", 50, "5000", 0.010),
    "FGBL": Spec("RATES", "EUR", 1000, "130", 0.004),
    "GC": Spec("COMMODITY", "USD", 100, "2000", 0.008),
    "EURUSD": Spec("FX", "USD", 1, "1.08", 0.004),
    # Not in the default market: a JPY future converted by the inverse pair (1 / USDJPY).
    "NK": Spec("EQUITY", "JPY", 500, "39000", 0.012),
    "USDJPY": Spec("FX", "JPY", 1, "150", 0.005),
}
# currency → (pair, inverse): a EUR amount × EURUSD, a JPY amount ÷ USDJPY.
PAIRS = {"EUR": ("EURUSD", False), "JPY": ("USDJPY", True)}
HELD = {"ES": 2, "FGBL": -3, "GC": 1}
EXTRA = Spec("EQUITY", "USD", 10, "100", 0.012)  # the extra equities Q0, Q1, … of a larger book


def spec_of(symbol: str) -> Spec:
    return SPECS.get(symbol, EXTRA)


def random_closes(symbol: str, n: int, *, plant: int | None = None) -> list[Decimal]:
    """``n`` closes of a random walk (6 decimal places), seeded by the symbol; with ``plant``,
    the close of day ``plant`` is exactly 90 % of the one before (a −10 % day)."""
    spec = spec_of(symbol)
    rng = np.random.default_rng([SEED, zlib.crc32(symbol.encode())])
    returns = rng.normal(0.0, spec.vol, n)
    value = Decimal(spec.start)
    closes = [value]
    for i in range(1, n):
        if i == plant:
            value = value * Decimal("0.9")  # 7 places at most: stored exactly (10 places)
        else:
            value = (value * (1 + Decimal(f"{returns[i]:.6f}"))).quantize(SIX)
        closes.append(value)
    return closes


@dataclass
class Market:
    closes: dict[str, dict[dt.date, Decimal]] = field(default_factory=dict)

    def close(self, symbol: str, day: dt.date = LAST) -> Decimal:
        return self.closes[symbol][day]


def build_market(
    symbols=("ES", "FGBL", "GC", "EURUSD"),
    *,
    listed: dict[str, int] | None = None,
    plant: dict[str, int] | None = None,
    dates: list[dt.date] = DATES,
) -> Market:
    """Create the instruments and load their closes (one per date of ``dates``) in one
    ``prices_load``.

    ``listed``: symbol → the index of its first close (an instrument listed later).
    ``plant``: symbol → the index of its −10 % day.
    """
    listed, plant = listed or {}, plant or {}
    market = Market()
    rows = []
    for symbol in symbols:
        spec = spec_of(symbol)
        InstrumentFactory(
            symbol=symbol,
            asset_class=spec.asset_class,
            currency=spec.currency,
            multiplier=Decimal(spec.multiplier),
        )
        closes = random_closes(symbol, len(dates), plant=plant.get(symbol))
        first = listed.get(symbol, 0)
        market.closes[symbol] = dict(zip(dates[first:], closes[first:], strict=True))
        rows += [services.PriceRow(symbol, d, c) for d, c in market.closes[symbol].items()]
    services.prices_load(rows)
    return market


def open_book(portfolio: Portfolio, market: Market, held=None, day: dt.date = DATES[OPEN]):
    """Open each position of ``held`` (symbol → signed quantity) at its close of ``day``."""
    for symbol, quantity in (held or HELD).items():
        open_position(portfolio, symbol, str(quantity), str(market.close(symbol, day)), day=day)


def mark(portfolio: Portfolio, start: dt.date, end: dt.date = LAST) -> None:
    services.mark_to_market_range(portfolio=portfolio, start=start, end=end)


def exposure(market: Market, symbol: str, quantity, day: dt.date = LAST) -> Decimal:
    """quantity × multiplier × close × fx of ``day``, by hand."""
    spec = spec_of(symbol)
    value = Decimal(quantity) * spec.multiplier * market.close(symbol, day)
    if spec.currency == "USD":
        return value
    pair, inverse = PAIRS[spec.currency]
    rate = market.close(pair, day)
    return value / rate if inverse else value * rate


# --- A direct recomputation of SPEC §4 -----------------------------------------------------------


def stored_values(symbols, *, upto: dt.date | None = None, convert: bool = True) -> pd.DataFrame:
    """price × fx (USD) by date from the stored ``Price`` rows (EUR × EURUSD, JPY ÷ USDJPY)."""
    wanted = {*symbols, *(pair for pair, _ in PAIRS.values())}
    rows = Price.objects.filter(instrument__symbol__in=wanted)
    if upto is not None:
        rows = rows.filter(date__lte=upto)
    long = pd.DataFrame(
        list(rows.values_list("date", "instrument__symbol", "close")),
        columns=["date", "symbol", "close"],
    )
    closes = long.pivot(index="date", columns="symbol", values="close").sort_index()
    closes = closes.astype(float)
    values = pd.DataFrame(index=closes.index)
    for symbol in symbols:
        values[symbol] = closes[symbol]
        currency = spec_of(symbol).currency
        if convert and currency != "USD":
            pair, inverse = PAIRS[currency]
            rate = closes[pair]
            values[symbol] = closes[symbol] / rate if inverse else closes[symbol] * rate
    return values


def expected_var(values: pd.DataFrame, exposures: dict[str, float]) -> dict:
    """Historical VaR 95/99, ES 97.5, parametric VaR 95/99 and the scenario count."""
    returns = values.pct_change(fill_method=None).iloc[1:]
    window = returns.dropna(how="any").tail(250)
    matrix = window.to_numpy()
    e = np.array([float(exposures[s]) for s in window.columns])
    pnl = matrix @ e
    cov = np.cov(matrix, rowvar=False, ddof=1)
    sd = math.sqrt(float(e @ np.atleast_2d(cov) @ e))
    z = NormalDist().inv_cdf
    return {
        "scenarios": len(window),
        "first": window.index[0],
        "last": window.index[-1],
        "var_95": -np.percentile(pnl, 5),
        "var_99": -np.percentile(pnl, 1),
        "es_975": -pnl[pnl <= np.percentile(pnl, 2.5)].mean(),
        "parametric_var_95": z(0.95) * sd,
        "parametric_var_99": z(0.99) * sd,
    }


FIGURES = ("var_95", "var_99", "es_975", "parametric_var_95", "parametric_var_99")


def assert_var_matches(var_section: dict, expected: dict, *, rel: float = 1e-6) -> None:
    """Each figure of a report's ``var`` section (Decimal or decimal-string amounts) against the
    recomputation."""
    for name in FIGURES:
        got = float(Decimal(var_section[name]["amount"]))
        assert math.isclose(got, expected[name], rel_tol=rel), (name, got, expected[name])


# --- A book whose fractions of NAV are exact --------------------------------------------------

LEV_DAY = dt.date(2024, 3, 4)


def leveraged_book(portfolio: Portfolio) -> None:
    """Long 15,000 LEV (equity, USD, ×1) at 100, marked at 100: gross exposure 1,500,000 on a NAV
    of exactly 1,000,000, so gross leverage, net exposure, gross equity and the largest
    instrument are each exactly 1.5 × NAV. One close only: no scenario."""
    InstrumentFactory(symbol="LEV", asset_class="EQUITY", multiplier=Decimal(1))
    services.prices_load([services.PriceRow("LEV", LEV_DAY, Decimal(100))])
    open_position(portfolio, "LEV", "15000", "100", day=LEV_DAY)


def limit(portfolio: Portfolio, metric: str, soft, hard) -> RiskLimit:
    return RiskLimit.objects.create(
        portfolio=portfolio, metric=metric, soft=Decimal(str(soft)), hard=Decimal(str(hard))
    )


def risk_counts() -> dict[str, int]:
    """Row counts of every risk table."""
    models = [Alert, RiskLimit, RiskSnapshot, StressScenario, StressShock]
    return {m.__name__: m.objects.count() for m in models}


def snapshot_exposures(portfolio: Portfolio, day: dt.date) -> dict[str, Decimal]:
    return {
        s.position.instrument.symbol: s.exposure
        for s in PositionSnapshot.objects.filter(
            position__portfolio=portfolio, date=day
        ).select_related("position__instrument")
    }


def nav_of(portfolio: Portfolio, day: dt.date) -> Decimal:
    return NavSnapshot.objects.get(portfolio=portfolio, date=day).nav


# --- Shared by the service tests ---------------------------------------------------------------

MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in range(4, 9))
SAT, SUN, MON2 = dt.date(2024, 3, 9), dt.date(2024, 3, 10), dt.date(2024, 3, 11)


def floats(by_symbol: dict) -> dict[str, float]:
    return {s: float(e) for s, e in by_symbol.items()}


def live_exposures(portfolio) -> dict[str, float]:
    return floats(book_get(portfolio)["exposure_totals"].by_instrument)


def set_today(monkeypatch, day: dt.date) -> None:
    monkeypatch.setattr(portfolio_selectors, "today", lambda: day)


def is_fraction(value) -> bool:
    """Ratios leave the API as JSON numbers (floats), never as strings."""
    return isinstance(value, float)
