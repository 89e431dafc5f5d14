"""Mark-to-market of a business date: position and NAV snapshots, replaced atomically."""

from __future__ import annotations

import datetime as dt
from decimal import InvalidOperation

from django.db import connection, transaction

from pms_project.cache import MARKET, invalidate
from pms_project.errors import MissingMarketDataError, PMSError
from trades.audit import audit_record
from trades.audit import state as audit_state
from trades.choices import AuditAction

from .. import calculations as calc
from .. import calendars, mtm_ledger, selectors
from ..models import NavSnapshot, Portfolio
from .base import (
    portfolio_lock,
    validate_business_date,
)

# --- Mark-to-market ---------------------------------------------------------------------------


def mark_to_market(*, portfolio: Portfolio, business_date: dt.date, user=None) -> NavSnapshot:
    """Mark the book of ``portfolio`` at the closes of ``business_date``.

    1. Take the ledger as of D (executions with trade_date ≤ D): a re-run of a past date gives
       the same numbers whatever was booked later. Each sleeve continues from the state stored
       in its previous snapshot with the executions dated since (``mtm_ledger``); a sleeve with
       no stored state or a back-dated booking is replayed from inception. Same numbers either
       way, to the digit.
    2. Snapshot every sleeve open at D, closed since its previous snapshot, or traded since it,
       with its ledger state (where the next run starts) and the ledger's watermark.
    3. Fail, writing nothing, when a close or an FX rate is missing.
    4. Replace D's rows in one transaction (DELETE, then COPY), with an audit event of the run
       (who, the NAV).

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
    ledger = mtm_ledger.ledger_at_day(portfolio, day)
    states, sleeves, last_trades = ledger.states, ledger.previous, ledger.last_trades
    instruments, fx = ledger.instruments, ledger.fx

    to_mark = {
        sleeve: state
        for sleeve, state in states.items()
        if state.is_open
        or (sleeves[sleeve].quantity or 0) != 0
        or sleeves[sleeve].date is None
        or (sleeve in last_trades and last_trades[sleeve].trade_date > sleeves[sleeve].date)
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

    rows = []
    day_text, watermark = day.isoformat(), str(ledger.watermark)
    total_pnl = calc.ZERO
    for sleeve, state in states.items():
        if sleeve not in to_mark:
            total_pnl += state.realized_pnl  # flat and untouched since its last snapshot
            continue
        inst = instruments[sleeve[0]]
        position = sleeves[sleeve]
        # A sleeve closed during D with no close that day is shown at its last execution price.
        price = closes[inst.id] if inst.id in closes else last_trades[sleeve].price
        m = _mark_storable(
            inst,
            state,
            price=price,
            fx=fx.rate(inst.currency, day),
            previous_total=position.total_pnl or calc.ZERO,
        )
        total_pnl += m.total_pnl
        rows.append(
            _copy_line(day_text, position.position_id, m, state, watermark, inst.id in carried)
        )

    previous_nav, previous_date = selectors.nav_before(portfolio, day)
    flow = selectors.flows_between(portfolio, previous_date, day)
    all_flows = selectors.flows_between(portfolio, None, day)
    nav = calc.money(portfolio.initial_capital + all_flows + total_pnl)

    with connection.cursor() as cursor:
        cursor.execute(_DELETE_DAY, [portfolio.pk, day])
        if rows:
            with cursor.copy(_COPY_SNAPSHOTS) as copy:
                copy.write("".join(rows))
    # Neither statement goes through a model or its queryset, so neither invalidates: the cached
    # book, risk and attribution of this portfolio go stale here, and again on commit.
    invalidate(MARKET, portfolio.pk)
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


_DELETE_DAY = (
    "DELETE FROM portfolio_positionsnapshot s USING portfolio_position p "
    "WHERE p.id = s.position_id AND p.portfolio_id = %s AND s.date = %s"
)
# COPY in text format, each line built here: one str() per value instead of a model instance and
# its field preparation per row (which cost bulk_create most of its time at 10,000 rows).
_SNAPSHOT_COLUMNS = (
    "date, position_id, quantity, price, fx, exposure, realized_pnl, unrealized, total_pnl, "
    "daily_pnl, avg_cost, opened_date, closed_date, ledger_watermark, carried"
)
_COPY_SNAPSHOTS = f"COPY portfolio_positionsnapshot ({_SNAPSHOT_COLUMNS}) FROM STDIN"


def _copy_line(
    day: str,
    position_id: int,
    m: calc.Mark,
    state: calc.LedgerState,
    watermark: str,
    carried: bool,
) -> str:
    """One snapshot as a line of COPY text. Dates, ints and Decimals (plain or exponent
    notation, which PostgreSQL's numeric input reads) hold no tab, newline or backslash;
    ``str()`` rather than an f-string field, which formats a Decimal three times slower."""
    opened, closed = state.opened_date, state.closed_date
    return (
        "\t".join(
            (
                day,
                str(position_id),
                str(m.quantity),
                str(m.price),
                str(m.fx),
                str(m.exposure),
                str(m.realized_pnl),
                str(m.unrealized),
                str(m.total_pnl),
                str(m.daily_pnl),
                str(state.avg_cost),
                "\\N" if opened is None else opened.isoformat(),
                "\\N" if closed is None else closed.isoformat(),
                watermark,
                "t" if carried else "f",
            )
        )
        + "\n"
    )


def _mark_storable(
    inst: mtm_ledger.InstrumentTerms, state: calc.LedgerState, *, price, fx, previous_total
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
