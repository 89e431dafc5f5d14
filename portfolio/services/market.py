"""Reference and market data, and cash flows: instruments, closes, intraday marks, flows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from pms_project.errors import PMSError
from trades.audit import audit_record
from trades.audit import state as audit_state
from trades.choices import AuditAction

from .. import calculations as calc
from .. import selectors
from ..models import (
    NAV_LIMIT,
    CashFlow,
    Instrument,
    Portfolio,
    Price,
)
from .base import (
    instrument_by_symbol,
    portfolio_lock,
    validate_business_date,
    validate_nonzero,
    validate_positive,
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
    # None: not given — a new instrument trades on weekdays, an existing one keeps its calendar.
    calendar: str | None = None


def instruments_upsert(rows: list[InstrumentRow]) -> tuple[int, int]:
    """Create new symbols and update existing ones in one transaction; (created, updated).

    Rows are saved one by one, not with bulk_update, so any post_save receiver (cache
    invalidation) still fires; instrument lists are small.
    """
    base_fields = ("name", "asset_class", "currency", "multiplier", "active")

    def fields_of(row: InstrumentRow) -> tuple[str, ...]:
        return base_fields if row.calendar is None else (*base_fields, "calendar")

    for row in rows:
        try:
            Instrument(
                symbol=row.symbol, **{f: getattr(row, f) for f in fields_of(row)}
            ).clean_fields()
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise PMSError(f"{row.symbol!r}: {' '.join(messages)}", field=field) from exc
    created = updated = 0
    with transaction.atomic():
        existing = Instrument.objects.select_for_update().in_bulk(
            [r.symbol for r in rows], field_name="symbol"
        )
        for row in rows:
            fields = fields_of(row)
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


def prices_load(rows: Iterable[PriceRow], *, user=None) -> int:
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
        dates = [r.date for r in rows]
        audit_record(
            actor=user,
            action=AuditAction.PRICES_LOAD,
            obj=Price,
            what=f"{len(objs)} closes of {len(symbols)} instruments",
            after={
                "closes": len(objs),
                "symbols": sorted(symbols)[:100],
                "from": min(dates),
                "to": max(dates),
            },
        )
    return len(objs)


def price_update_intraday(
    *, symbol: str, price: Decimal, at: dt.datetime | None = None, user=None
) -> Instrument:
    """Set an instrument's intraday mark (the book marks at it until a newer close arrives)."""
    validate_positive(price, field="price")
    instrument = instrument_by_symbol(symbol)
    fields = ["last_price", "last_price_at"]
    with transaction.atomic():
        before = audit_state(instrument, fields)
        instrument.last_price = calc.q(price, calc.PRICE_PLACES)
        instrument.last_price_at = at or timezone.now()
        instrument.save(update_fields=fields)
        audit_record(
            actor=user,
            action=AuditAction.PRICE_MARK,
            obj=instrument,
            before=before,
            after=audit_state(instrument, fields),
        )
    return instrument


def cash_flow_record(
    *, portfolio: Portfolio, date: dt.date, amount: Decimal, note: str = "", user=None
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
        portfolio_lock(portfolio)
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
        flow = CashFlow.objects.create(portfolio=portfolio, date=date, amount=amount, note=note)
        audit_record(
            actor=user,
            action=AuditAction.CASH_FLOW,
            obj=flow,
            portfolio=portfolio,
            after=audit_state(flow, ["date", "amount", "note"]),
        )
        return flow
