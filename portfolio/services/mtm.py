"""Mark-to-market of a business date: position and NAV snapshots, replaced atomically."""

from __future__ import annotations

import datetime as dt
from decimal import InvalidOperation

from django.db import transaction
from django.db.models import OuterRef, Subquery

from pms_project.errors import MissingMarketDataError, PMSError
from trades.audit import audit_record
from trades.audit import state as audit_state
from trades.choices import AuditAction

from .. import calculations as calc
from .. import calendars, selectors
from ..models import (
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    PositionSnapshot,
)
from .base import (
    portfolio_lock,
    validate_business_date,
)

# --- Mark-to-market ---------------------------------------------------------------------------


def mark_to_market(*, portfolio: Portfolio, business_date: dt.date, user=None) -> NavSnapshot:
    """Mark the book of ``portfolio`` at the closes of ``business_date``.

    1. Replay the ledger as of D (executions with trade_date ≤ D): a re-run of a past date gives
       the same numbers whatever was booked later.
    2. Snapshot every sleeve open at D, closed since its previous snapshot, or traded since it.
    3. Fail, writing nothing, when a close or an FX rate is missing.
    4. Replace D's rows in one transaction, with an audit event of the run (who, the NAV).

    The portfolio row is locked before anything is read, and ``execution_record`` takes the same
    lock: a booking or a concurrent run of an earlier date cannot slip between reads and writes.
    """
    day = validate_business_date(business_date, field="date", portfolio=portfolio)
    if day < portfolio.inception_date:
        raise PMSError("the date precedes the portfolio's inception", field="date")
    with transaction.atomic():
        portfolio_lock(portfolio)
        try:
            snapshot = _mark_locked(portfolio, day)
        except MissingMarketDataError as exc:
            # The request's only field is the date: that is what a missing close or rate is about.
            raise MissingMarketDataError(exc.message, field="date") from exc
        audit_record(
            actor=user,
            action=AuditAction.MTM_RUN,
            obj=snapshot,
            portfolio=portfolio,
            after=audit_state(snapshot, ["date", "nav", "daily_pnl", "flow", "daily_return"]),
        )
        return snapshot


def _mark_locked(portfolio: Portfolio, day: dt.date) -> NavSnapshot:
    trades = selectors.ledger_trades(portfolio, day)
    sleeves = {
        (p.instrument_id, p.strategy_id): p
        for p in Position.objects.filter(portfolio=portfolio).annotate(**_previous_snapshot(day))
    }
    instruments = Instrument.objects.only(
        "id", "symbol", "currency", "multiplier", "calendar"
    ).in_bulk({iid for iid, _ in trades})
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
    # An instrument whose market is closed on D carries its previous close (flagged carried).
    closes, carried = selectors.eod_closes_carried(
        {iid: instruments[iid] for iid, _ in to_mark}, day
    )
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
                carried=inst.id in carried,
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
    *, portfolio: Portfolio, start: dt.date, end: dt.date, user=None
) -> list[NavSnapshot]:
    """Mark every business day of the portfolio's calendar from ``start`` to ``end`` in order
    (each day its own transaction); its holidays are skipped, not refused."""
    if start > end:
        raise PMSError("the range starts after it ends", field="from")
    return [
        mark_to_market(portfolio=portfolio, business_date=day, user=user)
        for day in calendars.sessions(portfolio.calendar, start, end)
    ]
