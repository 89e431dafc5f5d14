"""A small marked book for the attribution tests, built through the real services.

The market: ES (equity future, USD, ×50), GC (gold, USD, ×100), FGBL (Bund future, EUR, ×1000)
and EURUSD (the pair converting FGBL to the USD base), closes for the twelve business days from
Mon 2024-03-25 to Tue 2024-04-09 (across a month and quarter end), random walks from a seeded
generator. Strategies TREND and CARRY.

The book (``book_build``):
- Mon 25 Mar: TREND long 2 ES at its close − 5; CARRY short 3 FGBL at its close; CARRY long 1 GC
  at its close + 1 (so the first day has trading P&L);
- Wed 27 Mar: TREND adds 1 ES at its close + 2.5;
- Tue 2 Apr: TREND short 2 FGBL at its close − 0.1 (a second FGBL sleeve);
- Thu 4 Apr: CARRY's GC closed at its close + 0.7 (a position closed during the day);
- Fri 5 Apr: TREND sells 1 ES at its close − 1 (a partial close);
- with ``flows``: a subscription of 500,000 on Tue 26 Mar and a redemption of 300,000 on
  Wed 3 Apr.
Every day is marked with ``mark_to_market``.
"""

from __future__ import annotations

import datetime as dt
import zlib
from decimal import Decimal

import numpy as np
import pandas as pd

from attribution.models import AttributionDay, AttributionResult, SegmentPnl
from portfolio import services
from portfolio.models import Portfolio
from portfolio.tests.factories import InstrumentFactory, StrategyFactory

DATES: list[dt.date] = [d.date() for d in pd.bdate_range("2024-03-25", "2024-04-09")]
FIRST, LAST = DATES[0], DATES[-1]  # Mon 2024-03-25, Tue 2024-04-09
SUBSCRIPTION = (DATES[1], Decimal(500_000))  # Tue 26 March
REDEMPTION = (DATES[7], Decimal(-300_000))  # Wed 3 April
GC_CLOSED = DATES[8]  # Thu 4 April
SAT = dt.date(2024, 3, 30)
BEFORE = dt.date(2024, 3, 22)  # Friday: a business day before the first mark
AFTER = dt.date(2024, 4, 10)  # Wednesday: after the last mark

SPECS = {  # symbol: (asset class, currency, multiplier, first close, daily vol, decimals)
    "ES": ("EQUITY", "USD", 50, "5200", 0.010, "0.25"),
    "GC": ("COMMODITY", "USD", 100, "2150", 0.008, "0.1"),
    "FGBL": ("RATES", "EUR", 1000, "132", 0.004, "0.01"),
    "EURUSD": ("FX", "USD", 1, "1.08", 0.003, "0.0001"),
}


def closes_of(symbol: str) -> dict[dt.date, Decimal]:
    _, _, _, start, vol, tick = SPECS[symbol]
    rng = np.random.default_rng([20240325, zlib.crc32(symbol.encode())])
    value = Decimal(start)
    out = {}
    for day, r in zip(DATES, rng.normal(0.0, vol, len(DATES)), strict=True):
        out[day] = value
        value = (value * (1 + Decimal(f"{r:.6f}"))).quantize(Decimal(tick))
    return out


CLOSES = {symbol: closes_of(symbol) for symbol in SPECS}


def close(symbol: str, day: dt.date) -> Decimal:
    return CLOSES[symbol][day]


def market_build() -> None:
    """Instruments, strategies and every close, through ``prices_load``."""
    for symbol, (asset_class, currency, multiplier, *_) in SPECS.items():
        InstrumentFactory(
            symbol=symbol,
            asset_class=asset_class,
            currency=currency,
            multiplier=Decimal(multiplier),
        )
    StrategyFactory(code="TREND", asset_class="EQUITY")
    StrategyFactory(code="CARRY", asset_class="RATES")
    services.prices_load(
        services.PriceRow(symbol, day, c)
        for symbol, by_day in CLOSES.items()
        for day, c in by_day.items()
    )


def trade(portfolio: Portfolio, symbol: str, quantity, price: Decimal, day: dt.date, strategy: str):
    _, position = services.position_open(
        portfolio=portfolio,
        symbol=symbol,
        quantity=Decimal(quantity),
        price=price,
        trade_date=day,
        strategy_code=strategy,
    )
    return position


def book_build(portfolio: Portfolio, *, flows: bool = True, mark: bool = True) -> Portfolio:
    """The book above (the market must exist), marked from FIRST to LAST."""
    d = DATES
    trade(portfolio, "ES", 2, close("ES", d[0]) - 5, d[0], "TREND")
    trade(portfolio, "FGBL", -3, close("FGBL", d[0]), d[0], "CARRY")
    gc = trade(portfolio, "GC", 1, close("GC", d[0]) + 1, d[0], "CARRY")
    trade(portfolio, "ES", 1, close("ES", d[2]) + Decimal("2.5"), d[2], "TREND")
    trade(portfolio, "FGBL", -2, close("FGBL", d[6]) - Decimal("0.1"), d[6], "TREND")
    services.position_close(
        position_id=gc.id, price=close("GC", GC_CLOSED) + Decimal("0.7"), trade_date=GC_CLOSED
    )
    trade(portfolio, "ES", -1, close("ES", d[9]) - 1, d[9], "TREND")
    if flows:
        for day, amount in (SUBSCRIPTION, REDEMPTION):
            services.cash_flow_record(portfolio=portfolio, date=day, amount=amount)
    if mark:
        services.mark_to_market_range(portfolio=portfolio, start=FIRST, end=LAST)
    return portfolio


def attribution_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (AttributionDay, AttributionResult, SegmentPnl)}
