"""Writes to the book. Each public function is one atomic transaction and validates first, so a
rejected request writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from pms_project.errors import MissingMarketDataError, PMSError
from pms_project.validators import MIN_DATE

from . import calculations as calc
from . import selectors
from .choices import MANUAL_STRATEGY_CODE, ExecutionSource, PositionStatus
from .models import (
    NAV_LIMIT,
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

# --- Validation shared by the API and the commands --------------------------------------------


def validate_business_date(
    day: dt.date, *, field: str = "date", allow_today: bool = True
) -> dt.date:
    if not isinstance(day, dt.date):
        raise PMSError("a date is YYYY-MM-DD", field=field)
    if day < MIN_DATE:
        raise PMSError(f"must be on or after {MIN_DATE.isoformat()}", field=field)
    if day > selectors.today() or (not allow_today and day == selectors.today()):
        raise PMSError(f"{day.isoformat()} is in the future", field=field)
    if not calc.is_business_day(day):
        raise PMSError(f"{day.isoformat()} is not a business day (Mon–Fri)", field=field)
    return day


# Largest magnitudes the NUMERIC columns hold: a larger value is a 400, never a database error.
PRICE_LIMIT = Decimal(10) ** 14  # NUMERIC(24, 10)
QTY_LIMIT = Decimal(10) ** 16  # NUMERIC(24, 8)
MONEY_LIMIT = calc.MONEY_LIMIT  # NUMERIC(28, 8)
# Products of values that each fit must fit too, summed over a whole book: one trade or one
# position may be worth at most a quadrillion in base currency, a NAV (capital and flows) at most
# NAV_LIMIT. A hundred thousand positions at the limit still fit MONEY_LIMIT.
NOTIONAL_LIMIT = Decimal(10) ** 15


def _validate_finite(value: Decimal, *, field: str, limit: Decimal) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PMSError("must be a finite number", field=field)
    if abs(value) >= limit:
        raise PMSError(f"must be smaller than {limit:,.0f} in magnitude", field=field)
    return value


def validate_positive(value: Decimal, *, field: str, limit: Decimal = PRICE_LIMIT) -> Decimal:
    _validate_finite(value, field=field, limit=limit)
    if value <= 0:
        raise PMSError("must be greater than zero", field=field)
    return value


def validate_nonzero(value: Decimal, *, field: str, limit: Decimal = QTY_LIMIT) -> Decimal:
    _validate_finite(value, field=field, limit=limit)
    if value == 0:
        raise PMSError("must not be zero", field=field)
    return value


def instrument_by_symbol(symbol: str, *, field: str = "symbol") -> Instrument:
    instrument = Instrument.objects.filter(symbol=symbol).first()
    if instrument is None:
        raise PMSError(f"unknown symbol {symbol!r}", field=field)
    return instrument


def strategy_by_code(code: str | None, *, field: str = "strategy") -> Strategy:
    """The named strategy; a position opened without one goes to MANUAL."""
    if not code:
        strategy, _ = Strategy.objects.get_or_create(
            code=MANUAL_STRATEGY_CODE, defaults={"name": "Manual trades"}
        )
        return strategy
    strategy = Strategy.objects.filter(code=code).first()
    if strategy is None:
        raise PMSError(f"unknown strategy {code!r}", field=field)
    return strategy


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
) -> tuple[Execution, Position]:
    """Book one execution and bring its position up to date, atomically.

    The portfolio row is locked (SELECT … FOR UPDATE), so concurrent executions apply one after
    the other and never interleave with a mark-to-market of the same portfolio. Callers with a
    transaction of their own (proposal approval, later) may call it inside it.
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
        _portfolio_lock(portfolio)
        position, _ = Position.objects.select_for_update().get_or_create(
            portfolio=portfolio,
            instrument=instrument,
            strategy=strategy,
            defaults={"opened_date": trade_date},
        )
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
        )


# --- Reference data -------------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentRow:
    symbol: str
    name: str
    asset_class: str
    currency: str
    multiplier: Decimal = Decimal(1)
    active: bool = True


def instruments_upsert(rows: list[InstrumentRow]) -> tuple[int, int]:
    """Create new symbols and update existing ones in one transaction; (created, updated).

    Rows are saved one by one, not with bulk_update, so any post_save receiver (cache
    invalidation) still fires; instrument lists are small.
    """
    fields = ("name", "asset_class", "currency", "multiplier", "active")
    for row in rows:
        try:
            Instrument(symbol=row.symbol, **{f: getattr(row, f) for f in fields}).clean_fields()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise PMSError(f"{row.symbol!r}: {' '.join(messages)}", field=field) from exc
    created = updated = 0
    with transaction.atomic():
        existing = Instrument.objects.select_for_update().in_bulk(
            [r.symbol for r in rows], field_name="symbol"
        )
        for row in rows:
            instrument = existing.get(row.symbol)
            if instrument is None:
                Instrument.objects.create(symbol=row.symbol, **{f: getattr(row, f) for f in fields})
                created += 1
                continue
            changed = [f for f in fields if getattr(instrument, f) != getattr(row, f)]
            if changed:
                for f in changed:
                    setattr(instrument, f, getattr(row, f))
                instrument.save(update_fields=changed)
                updated += 1
    return created, updated


# --- Market data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRow:
    symbol: str
    date: dt.date
    close: Decimal


def prices_load(rows: Iterable[PriceRow]) -> int:
    """Upsert EOD closes, all or nothing. Unknown symbols are named together in one error."""
    rows = list(rows)
    if not rows:
        raise PMSError("no prices given", field="prices")
    for i, row in enumerate(rows):
        validate_positive(row.close, field=f"prices[{i}].close")
        validate_business_date(row.date, field=f"prices[{i}].date")
    symbols = {r.symbol for r in rows}
    ids = dict(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", "id"))
    unknown = sorted(symbols - ids.keys())
    if unknown:
        raise PMSError(f"unknown symbols: {', '.join(unknown)}", field="symbol")
    seen: set[tuple[str, dt.date]] = set()
    for row in rows:
        if (row.symbol, row.date) in seen:
            raise PMSError(f"{row.symbol} {row.date.isoformat()} appears twice", field="prices")
        seen.add((row.symbol, row.date))
    objs = [
        Price(instrument_id=ids[r.symbol], date=r.date, close=calc.q(r.close, calc.PRICE_PLACES))
        for r in rows
    ]
    with transaction.atomic():
        Price.objects.bulk_create(
            objs,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["instrument", "date"],
            update_fields=["close"],
        )
    return len(objs)


def price_update_intraday(
    *, symbol: str, price: Decimal, at: dt.datetime | None = None
) -> Instrument:
    """Set an instrument's intraday mark (the book marks at it until a newer close arrives)."""
    validate_positive(price, field="price")
    instrument = instrument_by_symbol(symbol)
    instrument.last_price = calc.q(price, calc.PRICE_PLACES)
    instrument.last_price_at = at or timezone.now()
    instrument.save(update_fields=["last_price", "last_price_at"])
    return instrument


def cash_flow_record(
    *, portfolio: Portfolio, date: dt.date, amount: Decimal, note: str = ""
) -> CashFlow:
    """Record a subscription (+) or a redemption (−) at the start of ``date``.

    A redemption may take the NAV to zero, never below: the NAV it is checked against is the
    last NAV snapshot before ``date`` (initial capital before the first) plus the flows since,
    up to and including ``date``. Capital (initial + every flow) stays within NAV_LIMIT.
    """
    validate_nonzero(amount, field="amount", limit=NAV_LIMIT)
    validate_business_date(date, field="date")
    if date < portfolio.inception_date:
        raise PMSError("a cash flow cannot precede the portfolio's inception", field="date")
    with transaction.atomic():
        # Two concurrent redemptions must not both pass the check against the same NAV.
        _portfolio_lock(portfolio)
        capital = portfolio.initial_capital + selectors.flows_between(portfolio, None, date.max)
        if abs(capital + amount) > NAV_LIMIT:
            raise PMSError(
                f"the portfolio's capital would reach {capital + amount:,.2f}; "
                f"at most {NAV_LIMIT:,.0f}",
                field="amount",
            )
        if amount < 0:
            nav, since = selectors.nav_before(portfolio, date)
            nav += selectors.flows_between(portfolio, since, date)
            if -amount > nav:
                raise PMSError(
                    f"a redemption of {-amount:,.2f} is larger than the NAV "
                    f"({nav:,.2f} {portfolio.base_currency}) on {date.isoformat()}",
                    field="amount",
                )
        return CashFlow.objects.create(portfolio=portfolio, date=date, amount=amount, note=note)


# --- Mark-to-market ---------------------------------------------------------------------------


def mark_to_market(*, portfolio: Portfolio, business_date: dt.date) -> NavSnapshot:
    """Mark the book of ``portfolio`` at the closes of ``business_date``.

    1. Replay the ledger as of D (executions with trade_date ≤ D): a re-run of a past date gives
       the same numbers whatever was booked later.
    2. Snapshot every sleeve open at D, closed since its previous snapshot, or traded since it.
    3. Fail, writing nothing, when a close or an FX rate is missing.
    4. Replace D's rows in one transaction.

    The portfolio row is locked before anything is read, and ``execution_record`` takes the same
    lock: a booking or a concurrent run of an earlier date cannot slip between reads and writes.
    """
    day = validate_business_date(business_date, field="date")
    if day < portfolio.inception_date:
        raise PMSError("the date precedes the portfolio's inception", field="date")
    with transaction.atomic():
        _portfolio_lock(portfolio)
        try:
            return _mark_locked(portfolio, day)
        except MissingMarketDataError as exc:
            # The request's only field is the date: that is what a missing close or rate is about.
            raise MissingMarketDataError(exc.message, field="date") from exc


def _portfolio_lock(portfolio: Portfolio) -> None:
    Portfolio.objects.select_for_update().filter(pk=portfolio.pk).exists()


def _mark_locked(portfolio: Portfolio, day: dt.date) -> NavSnapshot:
    trades = selectors.ledger_trades(portfolio, day)
    sleeves = {
        (p.instrument_id, p.strategy_id): p
        for p in Position.objects.filter(portfolio=portfolio).annotate(**_previous_snapshot(day))
    }
    instruments = Instrument.objects.only("id", "symbol", "currency", "multiplier").in_bulk(
        {iid for iid, _ in trades}
    )
    first = min((t[0].trade_date for t in trades.values()), default=day)
    fx = selectors.fx_table(
        base=portfolio.base_currency,
        currencies={i.currency for i in instruments.values()},
        start=first,
        end=day,
    )
    states = selectors.ledger_states(
        portfolio=portfolio, trades=trades, instruments=instruments, fx=fx
    )

    to_mark = {
        sleeve: state
        for sleeve, state in states.items()
        if state.is_open
        or (sleeves[sleeve].prev_quantity or 0) != 0
        or sleeves[sleeve].prev_date is None
        or trades[sleeve][-1].trade_date > sleeves[sleeve].prev_date
    }
    closes = selectors.eod_closes(instrument_ids={iid for iid, _ in to_mark}, day=day)
    missing = sorted(
        instruments[iid].symbol
        for (iid, _), state in to_mark.items()
        if state.is_open and iid not in closes
    )
    if missing:
        raise MissingMarketDataError(
            f"no close on {day.isoformat()} for {', '.join(sorted(set(missing)))}", field="date"
        )

    snapshots = []
    total_pnl = calc.ZERO
    for sleeve, state in states.items():
        if sleeve not in to_mark:
            total_pnl += state.realized_pnl  # flat and untouched since its last snapshot
            continue
        inst = instruments[sleeve[0]]
        position = sleeves[sleeve]
        # A sleeve closed during D with no close that day is shown at its last execution price.
        price = closes.get(inst.id, trades[sleeve][-1].price)
        m = _mark_storable(
            inst,
            state,
            price=price,
            fx=fx.rate(inst.currency, day),
            previous_total=position.prev_total or calc.ZERO,
        )
        total_pnl += m.total_pnl
        snapshots.append(
            PositionSnapshot(
                date=day,
                position_id=position.id,
                quantity=m.quantity,
                price=m.price,
                fx=m.fx,
                exposure=m.exposure,
                realized_pnl=m.realized_pnl,
                unrealized=m.unrealized,
                total_pnl=m.total_pnl,
                daily_pnl=m.daily_pnl,
            )
        )

    previous = (
        NavSnapshot.objects.filter(portfolio=portfolio, date__lt=day).order_by("-date").first()
    )
    previous_nav = previous.nav if previous else portfolio.initial_capital
    flow = selectors.flows_between(portfolio, previous.date if previous else None, day)
    all_flows = selectors.flows_between(portfolio, None, day)
    nav = calc.money(portfolio.initial_capital + all_flows + total_pnl)

    PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day).delete()
    PositionSnapshot.objects.bulk_create(snapshots, batch_size=5000)
    snapshot, _ = NavSnapshot.objects.update_or_create(
        portfolio=portfolio,
        date=day,
        defaults={
            "nav": nav,
            "daily_pnl": calc.money(nav - previous_nav - flow),
            "flow": flow,
            "daily_return": calc.daily_return(nav=nav, previous_nav=previous_nav, flow=flow),
        },
    )
    return snapshot


def _mark_storable(
    inst: Instrument, state: calc.LedgerState, *, price, fx, previous_total
) -> calc.Mark:
    """``calc.mark``, refused (naming the instrument) when a value would not fit its column."""
    try:
        m = calc.mark(
            state, price=price, fx=fx, multiplier=inst.multiplier, previous_total=previous_total
        )
    except (InvalidOperation, OverflowError):
        m = None
    if m is None or m.unstorable():
        raise PMSError(
            f"{inst.symbol}: the value of the position at {price} does not fit the book's "
            "columns; check the close",
            field="date",
        )
    return m


def _previous_snapshot(day: dt.date) -> dict:
    prev = PositionSnapshot.objects.filter(position=OuterRef("pk"), date__lt=day).order_by("-date")
    return {
        "prev_date": Subquery(prev.values("date")[:1]),
        "prev_total": Subquery(prev.values("total_pnl")[:1]),
        "prev_quantity": Subquery(prev.values("quantity")[:1]),
    }


def mark_to_market_range(
    *, portfolio: Portfolio, start: dt.date, end: dt.date
) -> list[NavSnapshot]:
    """Mark every business day from ``start`` to ``end`` in order (each day its own transaction)."""
    if start > end:
        raise PMSError("the range starts after it ends", field="from")
    return [
        mark_to_market(portfolio=portfolio, business_date=day)
        for day in calc.business_days(start, end)
    ]
