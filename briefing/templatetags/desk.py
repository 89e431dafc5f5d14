"""The ``desk`` template filters: numbers for people (``pms_project.formatting``) and CSS hooks.

A filter never raises: a value that is not a number renders as "—" rather than breaking a page
the desk reads before the open."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django import template

from pms_project import formatting

register = template.Library()


def _number(value: object) -> Decimal | None:
    """A finite Decimal, or None for None, "", NaN, ±inf and anything that is not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return number if number.is_finite() else None


@register.filter
def money(value: object) -> str:
    """12345.6 → "12,345.60"; −1 → "−1.00"; None → "—"."""
    return formatting.money(_number(value))


@register.filter
def qty(value: object) -> str:
    """A quantity or a price without trailing zeros: "10", "5,012.25", "−3"."""
    return formatting.qty(_number(value))


@register.filter
def pct(value: object) -> str:
    """A fraction as a percentage: 0.0215 → "2.15%"."""
    number = _number(value)
    return formatting.pct(None if number is None else float(number))


@register.filter
def signed_pct(value: object) -> str:
    """Like ``pct`` with a "+" on positive fractions: "+0.42%", "−1.10%", "0.00%"."""
    text = pct(value)
    number = _number(value)
    return f"+{text}" if number is not None and number > 0 else text


@register.filter
def sign(value: object) -> str:
    """The CSS class of a number's sign: "pos", "neg", or "" (zero or not a number)."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


@register.filter
def isodate(value: object) -> str:
    """A date as YYYY-MM-DD whether it arrives as a date, a datetime or an ISO string."""
    if value is None or value == "":
        return formatting.DASH
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()[:10]
    return str(value)[:10]
