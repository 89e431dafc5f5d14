"""The ledger: executions booked atomically, positions replayed from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext

from django.db import transaction

from pms_project.errors import MissingMarketDataError, PMSError
from trades.audit import audit_record
from trades.audit import state as audit_state
from trades.choices import AuditAction

from .. import calculations as calc
from .. import selectors
from ..choices import ExecutionSource, PositionStatus
from ..models import (
    Execution,
    Instrument,
    Portfolio,
    Position,
    Strategy,
)
from .base import (
    NOTIONAL_LIMIT,
    QTY_LIMIT,
    instrument_by_symbol,
    portfolio_lock,
    strategy_by_code,
    validate_business_date,
    validate_nonzero,
    validate_positive,
)

# What the audit trail keeps of a position before and after a manual change.
POSITION_FIELDS = [
    "quantity",
    "avg_cost",
    "realized_pnl",
    "status",
    "opened_date",
    "closed_date",
    "instrument",
    "strategy",
]

# --- The ledger -------------------------------------------------------------------------------


def _position_sync(position: Position) -> Position:
    """Recompute a position from its whole ledger, so back-dated executions land in order."""
    portfolio = position.portfolio
    trades = [
        calc.Trade(d, qty, px)
        for d, qty, px in Execution.objects.filter(
            portfolio=portfolio, instrument=position.instrument, strategy=position.strategy
        )
        .order_by("trade_date", "id")
        .values_list("trade_date", "quantity", "price")
    ]
    instrument = position.instrument
    fx = selectors.fx_table(
        base=portfolio.base_currency,
        currencies=[instrument.currency],
        start=trades[0].trade_date,
        end=trades[-1].trade_date,
    )
    state = calc.replay(
        trades, multiplier=instrument.multiplier, fx=lambda d: fx.rate(instrument.currency, d)
    )
    position.quantity = state.quantity
    position.avg_cost = state.avg_cost
    position.realized_pnl = state.realized_pnl
    position.opened_date = state.opened_date
    position.closed_date = state.closed_date
    position.status = PositionStatus.OPEN if state.is_open else PositionStatus.CLOSED
    position.save()
    return position


def execution_record(
    *,
    portfolio: Portfolio,
    instrument: Instrument,
    strategy: Strategy,
    trade_date: dt.date,
    quantity: Decimal,
    price: Decimal,
    source: str,
    user=None,
    audit_action: str | None = None,
) -> tuple[Execution, Position]:
    """Book one execution and bring its position up to date, atomically.

    The portfolio row is locked (SELECT … FOR UPDATE), so concurrent executions apply one after
    the other and never interleave with a mark-to-market of the same portfolio. Callers with a
    transaction of their own (proposal approval) may call it inside it. ``audit_action`` (a
    manual change) appends an audit event with the position before and after, in the same
    transaction; an approval audits its decision instead.
    """
    validate_nonzero(quantity, field="quantity")
    validate_positive(price, field="price")
    validate_business_date(trade_date, field="trade_date")
    if trade_date < portfolio.inception_date:
        raise PMSError(
            f"{trade_date.isoformat()} is before the portfolio's inception "
            f"({portfolio.inception_date.isoformat()})",
            field="trade_date",
        )
    # A position the book could not convert to its base currency would take the book and every
    # mark-to-market of the portfolio down with it: refuse it here, at write time.
    fx = _conversion_rate(portfolio, instrument)
    base = portfolio.base_currency
    _validate_notional(quantity, price=price, instrument=instrument, fx=fx, base=base)
    with transaction.atomic():
        # The portfolio lock orders bookings against a running mark-to-market of this portfolio.
        portfolio_lock(portfolio)
        position, created = Position.objects.select_for_update().get_or_create(
            portfolio=portfolio,
            instrument=instrument,
            strategy=strategy,
            defaults={"opened_date": trade_date},
        )
        before = None if created else audit_state(position, POSITION_FIELDS)
        new_quantity = position.quantity + quantity
        if not instrument.active and abs(new_quantity) > abs(position.quantity):
            raise PMSError(
                f"{instrument.symbol} is inactive: positions in it may only be reduced",
                field="symbol",
            )
        if abs(new_quantity) >= QTY_LIMIT:
            raise PMSError(
                f"the position would hold {new_quantity} contracts; "
                f"at most {QTY_LIMIT:,.0f} in magnitude",
                field="quantity",
            )
        _validate_notional(
            new_quantity,
            price=price,
            instrument=instrument,
            fx=fx,
            base=base,
            what="the resulting position",
        )
        execution = Execution.objects.create(
            portfolio=portfolio,
            instrument=instrument,
            strategy=strategy,
            trade_date=trade_date,
            quantity=quantity,
            price=price,
            source=source,
            user=user if user is not None and user.is_authenticated else None,
        )
        position.portfolio, position.instrument = portfolio, instrument
        try:
            _position_sync(position)
        except MissingMarketDataError as exc:
            # Realizing P&L in a foreign currency needs that day's rate; say which field to fix.
            raise PMSError(exc.message, field="trade_date") from exc
        if audit_action:
            audit_record(
                actor=user,
                action=audit_action,
                obj=position,
                portfolio=portfolio,
                before=before,
                after={
                    **audit_state(position, POSITION_FIELDS),
                    "execution": {
                        "id": execution.id,
                        "trade_date": trade_date,
                        "quantity": quantity,
                        "price": price,
                        "source": source,
                    },
                },
            )
    return execution, position


def _conversion_rate(portfolio: Portfolio, instrument: Instrument) -> Decimal:
    """The latest rate converting the instrument's currency to the base; refuses when none."""
    base, currency = portfolio.base_currency, instrument.currency
    if currency == base:
        return calc.ONE
    pairs = selectors.fx_pairs(base=base, currencies=[currency])
    if not pairs:
        raise PMSError(
            f"{instrument.symbol} is in {currency}, which cannot be converted to {base}: "
            f"no {currency}{base} or {base}{currency} instrument",
            field="symbol",
        )
    marks = selectors.latest_marks(pairs)
    rate = selectors.fx_latest_rates(base=base, pairs=pairs, marks=marks).get(currency)
    if rate is None:
        raise PMSError(
            f"{instrument.symbol} is in {currency}, and no {currency}{base} or {base}{currency} "
            "price has been loaded yet",
            field="symbol",
        )
    return rate


def _validate_notional(
    quantity: Decimal,
    *,
    price: Decimal,
    instrument: Instrument,
    fx: Decimal,
    base: str,
    what: str = "the trade",
) -> None:
    """Refuse a quantity whose value (quantity × multiplier × price × fx) is beyond any book."""
    with localcontext() as ctx:
        ctx.prec = 60
        notional = abs(quantity) * instrument.multiplier * price * fx
    if notional > NOTIONAL_LIMIT:
        raise PMSError(
            f"{what} would be worth {notional:.3E} {base} (quantity × multiplier × price × fx); "
            f"at most {NOTIONAL_LIMIT:,.0f}",
            field="quantity",
        )


def position_open(
    *,
    portfolio: Portfolio,
    symbol: str,
    quantity: Decimal,
    price: Decimal,
    trade_date: dt.date,
    strategy_code: str | None = None,
    user=None,
) -> tuple[Execution, Position]:
    """Trade into a sleeve (a new position, or adding to / reducing an existing one)."""
    instrument = instrument_by_symbol(symbol)
    strategy = strategy_by_code(strategy_code)
    return execution_record(
        portfolio=portfolio,
        instrument=instrument,
        strategy=strategy,
        trade_date=trade_date,
        quantity=quantity,
        price=price,
        source=ExecutionSource.MANUAL,
        user=user,
        audit_action=AuditAction.POSITION_OPEN,
    )


def position_close(
    *,
    position_id: int,
    price: Decimal,
    trade_date: dt.date,
    quantity: Decimal | None = None,
    user=None,
) -> tuple[Execution, Position]:
    """Close a position, or part of it when ``quantity`` (unsigned, ≤ open quantity) is given."""
    validate_positive(price, field="price")
    validate_business_date(trade_date, field="trade_date")
    with transaction.atomic():
        position = (
            Position.objects.select_for_update()
            .select_related("portfolio", "instrument", "strategy")
            .filter(pk=position_id)
            .first()
        )
        if position is None:
            raise PMSError(f"no position {position_id}", field="position")
        if position.quantity == 0:
            raise PMSError("the position is already closed", field="position")
        if position.opened_date and trade_date < position.opened_date:
            raise PMSError(
                f"{trade_date.isoformat()} is before the position was opened "
                f"({position.opened_date.isoformat()})",
                field="trade_date",
            )
        open_qty = abs(position.quantity)
        if quantity is None:
            quantity = open_qty
        validate_positive(quantity, field="quantity", limit=QTY_LIMIT)
        if quantity > open_qty:
            raise PMSError(f"cannot close {quantity}: only {open_qty} is open", field="quantity")
        signed = -quantity if position.quantity > 0 else quantity
        return execution_record(
            portfolio=position.portfolio,
            instrument=position.instrument,
            strategy=position.strategy,
            trade_date=trade_date,
            quantity=signed,
            price=price,
            source=ExecutionSource.CLOSE,
            user=user,
            audit_action=AuditAction.POSITION_CLOSE,
        )
