"""Validation shared by the API and the commands, lookups by code, and the portfolio lock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pms_project.errors import PMSError
from pms_project.validators import MIN_DATE

from .. import calculations as calc
from .. import calendars, selectors
from ..choices import MANUAL_STRATEGY_CODE
from ..models import (
    Instrument,
    Portfolio,
    Strategy,
)

# --- Validation shared by the API and the commands --------------------------------------------


def validate_business_date(
    day: dt.date,
    *,
    field: str = "date",
    allow_today: bool = True,
    portfolio: Portfolio | None = None,
) -> dt.date:
    """A date neither too old nor in the future, and a business day: Mon–Fri, or, given a
    ``portfolio``, a day its calendar is open (what the mark-to-market of the portfolio needs;
    the pipelines ask ``selectors.portfolio_is_open`` and skip its holidays)."""
    if not isinstance(day, dt.date):
        raise PMSError("a date is YYYY-MM-DD", field=field)
    if day < MIN_DATE:
        raise PMSError(f"must be on or after {MIN_DATE.isoformat()}", field=field)
    if day > selectors.today() or (not allow_today and day == selectors.today()):
        raise PMSError(f"{day.isoformat()} is in the future", field=field)
    if portfolio is not None:
        if not selectors.portfolio_is_open(portfolio, day):
            raise PMSError(
                f"{day.isoformat()} is not a business day of {portfolio.code}'s calendar "
                f"({portfolio.calendar or 'Mon–Fri'})",
                field=field,
            )
    elif not calc.is_business_day(day):
        raise PMSError(f"{day.isoformat()} is not a business day (Mon–Fri)", field=field)
    return day


def business_date_range(
    start: dt.date, end: dt.date, *, portfolio: Portfolio | None = None
) -> list[dt.date]:
    """The business days from ``start`` to ``end``, both business days (``from``, ``to``), in
    order — of ``portfolio``'s calendar when given, else Mon–Fri; a range that starts after it
    ends is refused naming ``from``."""
    validate_business_date(start, field="from", portfolio=portfolio)
    validate_business_date(end, field="to", portfolio=portfolio)
    if start > end:
        raise PMSError("the range starts after it ends", field="from")
    if portfolio is not None:
        return calendars.sessions(portfolio.calendar, start, end)
    return list(calc.business_days(start, end))


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


# --- Locking ----------------------------------------------------------------------------------


def portfolio_lock(portfolio: Portfolio) -> None:
    """SELECT … FOR UPDATE of the portfolio row: bookings, flows and MTM of one portfolio queue."""
    Portfolio.objects.select_for_update().filter(pk=portfolio.pk).exists()
