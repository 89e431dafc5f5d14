"""Pure ledger and mark-to-market arithmetic: values in, values out; no Django, no I/O.

Money stays ``Decimal`` here because the results are stored as NUMERIC and the ledger must
rebuild to the stored rows exactly; every result is quantized to the storage scale of its column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

ZERO = Decimal(0)
ONE = Decimal(1)
# Storage scales (decimal places) of the NUMERIC columns in portfolio.models.
QTY_PLACES = Decimal("1E-8")
PRICE_PLACES = Decimal("1E-10")
COST_PLACES = Decimal("1E-12")
MONEY_PLACES = Decimal("1E-8")
RATE_PLACES = Decimal("1E-12")
# Significant digits of intermediate results and of quantizing: sums of stored amounts stay exact,
# and an amount of up to 42 integer digits quantizes to 8 places. Python's default context has 28
# digits: too few to quantize even a 21-digit amount to 8 places.
# Magnitudes the NUMERIC columns a mark is stored in hold: money (28, 8) and rates (24, 12).
MONEY_LIMIT = Decimal(10) ** 20
RATE_LIMIT = Decimal(10) ** 12
_PRECISION = 50
# Passed to quantize() directly: cheaper than switching the thread's context on every call.
_QUANTIZE_CONTEXT = Context(prec=_PRECISION)

FxLookup = Callable[[dt.date], Decimal]


def precise() -> AbstractContextManager:
    """A decimal context of ``_PRECISION`` digits for arithmetic on stored values."""
    return localcontext(prec=_PRECISION)


def q(value: Decimal, places: Decimal) -> Decimal:
    """``value`` rounded half-even to ``places``, in the 50-digit context whatever the caller's.

    Never raises for a value a NUMERIC column holds (at most 28 digits); raises
    ``decimal.InvalidOperation`` only when the result needs more than 50 digits.
    """
    return value.quantize(places, rounding=ROUND_HALF_EVEN, context=_QUANTIZE_CONTEXT)


def money(value: Decimal) -> Decimal:
    return q(value, MONEY_PLACES)


# --- Business days ----------------------------------------------------------------------------


def is_business_day(day: dt.date) -> bool:
    """Mon–Fri; the desk keeps no holiday calendar yet."""
    return day.weekday() < 5


def business_days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    day = start
    while day <= end:
        if is_business_day(day):
            yield day
        day += dt.timedelta(days=1)


def previous_business_day(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


# --- FX ---------------------------------------------------------------------------------------


def fx_rate_from_pair(
    *, direct_close: Decimal | None, inverse_close: Decimal | None
) -> Decimal | None:
    """Rate converting C to base B: close of ``CB``, else 1 / close of ``BC``; None when neither."""
    if direct_close is not None:
        return q(direct_close, RATE_PLACES)
    if inverse_close is not None:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return q(ONE / inverse_close, RATE_PLACES)
    return None


# --- The average-cost ledger ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerState:
    quantity: Decimal = ZERO
    avg_cost: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    opened_date: dt.date | None = None
    closed_date: dt.date | None = None

    @property
    def is_open(self) -> bool:
        return self.quantity != ZERO


@dataclass(frozen=True, slots=True)
class Trade:
    trade_date: dt.date
    quantity: Decimal
    price: Decimal


def apply_trade(
    state: LedgerState, trade: Trade, *, multiplier: Decimal, fx: FxLookup
) -> LedgerState:
    """Apply one execution by the average-cost method.

    Same direction (or from flat): avg_cost re-weights. Opposite direction: the closed part realizes
    (price − avg_cost) × closed quantity (signed as the position) × multiplier × fx(trade_date);
    crossing zero closes the old position and reopens the remainder at the execution price.
    ``fx`` is only called when something is realized.
    """
    if trade.quantity == ZERO:
        raise ValueError("an execution has a non-zero quantity")
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        old_qty = state.quantity
        new_qty = q(old_qty + trade.quantity, QTY_PLACES)
        if old_qty == ZERO:
            return replace(
                state,
                quantity=new_qty,
                avg_cost=q(trade.price, COST_PLACES),
                opened_date=trade.trade_date,
                closed_date=None,
            )
        if (old_qty > 0) == (trade.quantity > 0):
            avg = (old_qty * state.avg_cost + trade.quantity * trade.price) / new_qty
            return replace(state, quantity=new_qty, avg_cost=q(avg, COST_PLACES))

        # Reducing, closing or crossing zero.
        closed_qty = old_qty if abs(trade.quantity) >= abs(old_qty) else -trade.quantity
        realized = (trade.price - state.avg_cost) * closed_qty * multiplier * fx(trade.trade_date)
        realized_total = money(state.realized_pnl + money(realized))
        if new_qty == ZERO:
            return replace(
                state, quantity=ZERO, realized_pnl=realized_total, closed_date=trade.trade_date
            )
        if (new_qty > 0) == (old_qty > 0):
            return replace(state, quantity=new_qty, realized_pnl=realized_total)
        return LedgerState(
            quantity=new_qty,
            avg_cost=q(trade.price, COST_PLACES),
            realized_pnl=realized_total,
            opened_date=trade.trade_date,
            closed_date=None,
        )


def replay(
    trades: Iterable[Trade],
    *,
    multiplier: Decimal,
    fx: FxLookup,
    start: LedgerState | None = None,
) -> LedgerState:
    """The position a sequence of executions (in ledger order) leaves behind, from flat or from
    ``start``: the state after earlier executions (each step depends only on the state and the
    execution, so continuing from a stored state gives the full replay's numbers)."""
    state = LedgerState() if start is None else start
    for trade in trades:
        state = apply_trade(state, trade, multiplier=multiplier, fx=fx)
    return state


# --- Marking ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    quantity: Decimal
    price: Decimal
    fx: Decimal
    exposure: Decimal
    realized_pnl: Decimal
    unrealized: Decimal
    total_pnl: Decimal
    daily_pnl: Decimal

    def unstorable(self) -> str | None:
        """The first value too large for its column, or None when the mark can be stored."""
        return next((f for f, limit in _MARK_LIMITS if abs(getattr(self, f)) >= limit), None)


# The magnitude each computed value of a mark must stay under to fit its column.
_MARK_LIMITS = (
    ("fx", RATE_LIMIT),
    ("exposure", MONEY_LIMIT),
    ("unrealized", MONEY_LIMIT),
    ("total_pnl", MONEY_LIMIT),
    ("daily_pnl", MONEY_LIMIT),
)


def exposure(*, quantity: Decimal, multiplier: Decimal, price: Decimal, fx: Decimal) -> Decimal:
    with precise():
        return _exposure(quantity, multiplier, price, fx)


def unrealized(
    *, quantity: Decimal, avg_cost: Decimal, multiplier: Decimal, price: Decimal, fx: Decimal
) -> Decimal:
    with precise():
        return _unrealized(quantity, avg_cost, multiplier, price, fx)


# The formulas, in the caller's 50-digit context: ``mark`` runs once per position of a book or a
# mark-to-market, and a context switch costs as much as the arithmetic.
def _exposure(quantity: Decimal, multiplier: Decimal, price: Decimal, fx: Decimal) -> Decimal:
    return money(quantity * multiplier * price * fx)


def _unrealized(
    quantity: Decimal, avg_cost: Decimal, multiplier: Decimal, price: Decimal, fx: Decimal
) -> Decimal:
    return money((price - avg_cost) * quantity * multiplier * fx)


def mark(
    state: LedgerState, *, price: Decimal, fx: Decimal, multiplier: Decimal, previous_total: Decimal
) -> Mark:
    """Mark one position: total = realized to date + unrealized; daily = total − previous total."""
    quantity, realized = state.quantity, state.realized_pnl
    with precise():
        unreal = _unrealized(quantity, state.avg_cost, multiplier, price, fx)
        total = money(realized + unreal)
        return Mark(
            quantity=quantity,
            price=price,
            fx=fx,
            exposure=_exposure(quantity, multiplier, price, fx),
            realized_pnl=realized,
            unrealized=unreal,
            total_pnl=total,
            daily_pnl=money(total - previous_total),
        )


@dataclass(frozen=True)
class ExposureTotals:
    """A book's exposures summed the one way every app reads them (base currency)."""

    gross: Decimal  # Σ |exposure| over positions (sleeves)
    net: Decimal
    by_asset_class: dict[str, Decimal]  # net
    gross_by_asset_class: dict[str, Decimal]
    by_currency: dict[str, Decimal]  # net
    by_instrument: dict[str, Decimal]  # net over the instrument's sleeves


@dataclass(frozen=True)
class ExposureRow:
    symbol: str
    asset_class: str
    currency: str
    exposure: Decimal


def exposure_totals(rows: Iterable[ExposureRow]) -> ExposureTotals:
    """Gross, net and the splits by asset class, currency and instrument of position rows."""
    gross = net = ZERO
    by_class: dict[str, Decimal] = {}
    gross_by_class: dict[str, Decimal] = {}
    by_ccy: dict[str, Decimal] = {}
    by_inst: dict[str, Decimal] = {}
    with precise():
        for r in rows:
            gross += abs(r.exposure)
            net += r.exposure
            by_class[r.asset_class] = by_class.get(r.asset_class, ZERO) + r.exposure
            gross_by_class[r.asset_class] = gross_by_class.get(r.asset_class, ZERO) + abs(
                r.exposure
            )
            by_ccy[r.currency] = by_ccy.get(r.currency, ZERO) + r.exposure
            by_inst[r.symbol] = by_inst.get(r.symbol, ZERO) + r.exposure
    return ExposureTotals(
        gross=gross,
        net=net,
        by_asset_class=dict(sorted(by_class.items())),
        gross_by_asset_class=dict(sorted(gross_by_class.items())),
        by_currency=dict(sorted(by_ccy.items())),
        by_instrument=dict(sorted(by_inst.items())),
    )


def exposure_totals_after(
    totals: ExposureTotals, change: ExposureRow, *, sleeve_before: Decimal
) -> ExposureTotals:
    """``totals`` with one sleeve's exposure moved from ``sleeve_before`` by ``change.exposure``:
    the same numbers as ``exposure_totals`` of the changed rows, without re-summing the book."""
    a, cls, ccy, sym = change.exposure, change.asset_class, change.currency, change.symbol
    with precise():
        gross_delta = abs(sleeve_before + a) - abs(sleeve_before)

        def plus(d: dict[str, Decimal], key: str, delta: Decimal) -> dict[str, Decimal]:
            return dict(sorted({**d, key: d.get(key, ZERO) + delta}.items()))

        return ExposureTotals(
            gross=totals.gross + gross_delta,
            net=totals.net + a,
            by_asset_class=plus(totals.by_asset_class, cls, a),
            gross_by_asset_class=plus(totals.gross_by_asset_class, cls, gross_delta),
            by_currency=plus(totals.by_currency, ccy, a),
            by_instrument=plus(totals.by_instrument, sym, a),
        )


def daily_return(*, nav: Decimal, previous_nav: Decimal, flow: Decimal) -> float:
    """NAV(D) / (NAV(D−1) + flow(D)) − 1; flows happen at the start of the day."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        start = previous_nav + flow
        if start == ZERO:
            return 0.0
        return float(nav / start - ONE)
