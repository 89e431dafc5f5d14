"""Pre-trade impact (SPEC §3, §4): VaR 99 and every limit before and after hypothetical trades.

Read-only. One trade (``pretrade_impact``, the API's pre-trade check and the approval's) or many
at once (``pretrade_impacts``, the proposals of a generation run): the book, the NAV history, the
limits and the returns are read once whatever the number of trades, and the VaR after each
trade is one column of a matrix product. Each trade is measured alone against the book now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import pandas as pd

from pms_project.errors import MissingMarketDataError, PMSError
from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.choices import MANUAL_STRATEGY_CODE
from portfolio.models import Instrument, Portfolio

from . import calculations as calc
from . import selectors
from .report import (
    Holdings,
    _returns,
    amount,
    fraction,
    limit_rows,
    live_book,
    live_drawdown,
    metric_values,
    split_history,
    var_of,
)


@dataclass(frozen=True)
class Trade:
    """A hypothetical trade: signed contracts of an instrument into a sleeve (strategy code)."""

    instrument: Instrument
    strategy: str
    quantity: Decimal
    price: Decimal


def pretrade_impact(
    *,
    portfolio: Portfolio,
    symbol: str,
    quantity: Decimal,
    price: Decimal,
    strategy: str | None = None,
) -> dict:
    """VaR 99 and every limit's utilization before and after a hypothetical trade. No write.

    The trade adds quantity × multiplier × price × fx (the latest rate of its currency, as the
    book converts) to the exposure of its sleeve — the (instrument, strategy) position it would
    be booked in, MANUAL by default — so that a trade reducing a position reduces gross too.
    NAV is unchanged (margined instruments).
    """
    instrument = portfolio_services.instrument_by_symbol(symbol, field="symbol")
    portfolio_services.validate_nonzero(quantity, field="quantity")
    portfolio_services.validate_positive(price, field="price")
    sleeve = MANUAL_STRATEGY_CODE
    if strategy:
        sleeve = portfolio_services.strategy_by_code(strategy, field="strategy").code
    return pretrade_impacts(portfolio, [Trade(instrument, sleeve, quantity, price)])[0]


def pretrade_impacts(portfolio: Portfolio, trades: list[Trade]) -> list[dict]:
    """``pretrade_impact`` of each trade, each alone against the book now, in a fixed number of
    queries: the book, the rates, the returns, the NAV history and the limits, read once."""
    if not trades:
        return []
    live = live_book(portfolio)
    base = portfolio.base_currency
    today = portfolio_selectors.today()
    rates = _latest_rates(base, {t.instrument.currency for t in trades})
    added = [_exposure_added(t, rates[t.instrument.currency], base) for t in trades]

    before = live.holdings
    sleeves = {(r["symbol"], r["strategy"]): r["exposure"] for r in live.book["positions"]}
    # The book's instruments and the trades': one dict every side after shares.
    instruments = {
        **before.instruments,
        **{t.instrument.symbol: _info(t.instrument) for t in trades},
    }
    afters = [
        replace(
            before,
            totals=pcalc.exposure_totals_after(
                before.totals,
                pcalc.ExposureRow(
                    t.instrument.symbol, t.instrument.asset_class, t.instrument.currency, a
                ),
                sleeve_before=sleeves.get((t.instrument.symbol, t.strategy), pcalc.ZERO),
            ),
            instruments=instruments,
        )
        for t, a in zip(trades, added, strict=True)
    ]
    # One read of the history serves every side; each side keeps its own common dates.
    returns = _returns(instruments, sorted(instruments), base=base, end=today)
    var_before, nh_before = var_of(before, base=base, end=today, returns=returns)
    var_after = _vars_after(before, trades, afters, returns)

    limits = selectors.limits_of(portfolio)
    drawdown = live_drawdown(portfolio, live.book["as_of"], before.nav)["drawdown"]
    limits_before = limit_rows(limits, metric_values(before, var_before, drawdown))
    side_before = _impact_side(var_before, nh_before, limits_before, before.nav)
    impacts = []
    for t, a, after, (var, no_history) in zip(trades, added, afters, var_after, strict=True):
        limits_after = limit_rows(limits, metric_values(after, var, drawdown))
        breaks = [row["metric"] for row in limits_after if row["status"] == calc.BREACH]
        impacts.append(
            {
                "portfolio": portfolio.code,
                "symbol": t.instrument.symbol,
                "strategy": t.strategy,
                "quantity": t.quantity,
                "price": t.price,
                "exposure_added": a,
                "nav": before.nav,
                "before": side_before,
                "after": _impact_side(var, no_history, limits_after, before.nav),
                "hard_breaches": breaks,
                "breaks_hard_limit": bool(breaks),
            }
        )
    return impacts


def _vars_after(
    before: Holdings, trades: list[Trade], afters: list[Holdings], returns: pd.DataFrame
) -> list[tuple[calc.VarResult, list[str]]]:
    """The VaR after each trade, as ``var_of`` of its side after would give, in a few matrix
    products rather than one VaR per trade.

    Each side's scenarios are the last N dates on which every held instrument with a history has
    a return. A trade in an instrument already held leaves that set, and so the window, as it
    is; a trade in a new instrument adds one column, whose dates may shorten the window. Trades
    whose windows are the same dates share one product: the returns on those dates × a matrix of
    exposures (one column per trade). A trade that takes an instrument's exposure to zero drops
    it from the set: it gets a group of its own.
    """
    e_before = before.exposures
    usable, no_history = split_history(returns, list(e_before.index))
    present = returns.notna().to_numpy()
    column = {s: j for j, s in enumerate(returns.columns)}
    held_rows = present[:, [column[s] for s in usable]].all(axis=1)
    # group key → (the trades, the columns of its matrix, the dates of its window)
    groups: dict[tuple, tuple[list[int], list[str], np.ndarray]] = {}
    no_histories: list[list[str]] = []
    for k, (trade, after) in enumerate(zip(trades, afters, strict=True)):
        symbol = trade.instrument.symbol
        gone = after.totals.by_instrument.get(symbol) == 0 and symbol in e_before.index
        has_history = bool(present[:, column[symbol]].any()) if symbol in column else False
        if gone:
            columns = [s for s in usable if s != symbol]
            rows = present[:, [column[s] for s in columns]].all(axis=1)
            key: tuple = ("without", symbol)
        elif symbol in usable or not has_history:
            columns, rows, key = usable, held_rows, ("held",)
        else:
            columns, rows = [*usable, symbol], held_rows & present[:, column[symbol]]
            key = ("adds",)
        window = np.flatnonzero(rows)[-calc.N_SCENARIOS :] if columns else np.empty(0, int)
        key = (*key, window.tobytes())
        members, group_columns, _ = groups.setdefault(key, ([], list(columns), window))
        members.append(k)
        if symbol not in group_columns and key[0] == "adds":
            group_columns.append(symbol)
        missing = set(no_history)  # the held instruments with no return at all, after
        if gone:
            missing.discard(symbol)
        elif symbol not in e_before.index and not has_history:
            missing.add(symbol)
        no_histories.append(sorted(missing))
    results: list[tuple[calc.VarResult, list[str]] | None] = [None] * len(trades)
    for members, columns, window in groups.values():
        # The window's dates, each column's return compounded since the previous one.
        frame = calc.common_returns(returns.iloc[:, [column[s] for s in columns]])
        frame = frame.iloc[len(frame) - len(window) :]
        # Every column starts at the book's exposure; each trade changes its own instrument's.
        base = e_before.reindex(columns).fillna(0.0).to_numpy(dtype=float)
        matrix = np.repeat(base[:, None], len(members), axis=1)
        position = {s: i for i, s in enumerate(columns)}
        for j, k in enumerate(members):
            symbol = trades[k].instrument.symbol
            if symbol in position:
                matrix[position[symbol], j] = float(afters[k].totals.by_instrument[symbol])
        for k, var in zip(members, calc.value_at_risk_many(frame, matrix), strict=True):
            results[k] = (var, no_histories[k])
    return results  # type: ignore[return-value]


def _exposure_added(trade: Trade, rate: Decimal, base: str) -> Decimal:
    added = pcalc.exposure(
        quantity=trade.quantity,
        multiplier=trade.instrument.multiplier,
        price=trade.price,
        fx=rate,
    )
    if abs(added) >= portfolio_services.NOTIONAL_LIMIT:
        raise PMSError(
            f"the trade's notional must be below {portfolio_services.NOTIONAL_LIMIT:,.0f} {base}",
            field="quantity",
        )
    return added


def _impact_side(var: calc.VarResult, no_history, limits, nav) -> dict:
    return {
        "var_99": amount(var.var_99),
        "var_99_fraction": fraction(var.var_99, nav),
        "scenarios": var.scenarios,
        "insufficient_history": var.insufficient_history or bool(no_history),
        "limits": limits,
    }


def _info(instrument: Instrument) -> selectors.InstrumentInfo:
    return selectors.InstrumentInfo(
        instrument.id,
        instrument.symbol,
        instrument.asset_class,
        instrument.currency,
        instrument.calendar,
    )


def _latest_rates(base: str, currencies: set[str]) -> dict[str, Decimal]:
    """The latest rate of each currency to the base (as the book converts); refuses when none."""
    pairs = portfolio_selectors.fx_pairs(base=base, currencies=currencies)
    marks = portfolio_selectors.latest_marks(pairs)
    rates = portfolio_selectors.fx_latest_rates(base=base, pairs=pairs, marks=marks)
    for currency in sorted(currencies):
        if currency != base and currency not in rates:
            raise MissingMarketDataError(
                f"no {currency}{base} (or {base}{currency}) rate to convert the trade",
                field="symbol",
            )
    return {c: pcalc.ONE if c == base else rates[c] for c in currencies}
