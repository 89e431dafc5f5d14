"""Numbers for people (SPEC §10): the admin, the pages and the terminal format them; the API keeps
full precision. Thousands separators, money to 2 decimals, quantities without trailing zeros,
percentages to 2 decimals, negatives visibly signed."""

from __future__ import annotations

from decimal import Decimal

DASH = "—"


def money(value) -> str:
    return DASH if value is None else f"{Decimal(value):,.2f}".replace("-", "−")


def qty(value) -> str:
    """Contracts (or a price) without trailing zeros: 12, 12.5, −3."""
    if value is None:
        return DASH
    return f"{Decimal(value).normalize():,f}".replace("-", "−")


def pct(value) -> str:
    """A fraction as a percentage: 0.0215 → "2.15%"."""
    return DASH if value is None else f"{float(value):,.2%}".replace("-", "−")
