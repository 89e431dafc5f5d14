"""EOD closes from a CSV file (``date,symbol,close``): the one parser behind the
``import_prices`` command and the drop folder's ingest, so both accept and refuse the same files
with the same words.

Every row is parsed first so that a malformed line is reported by its line number; the business
rules (business days, no future dates, known symbols — all unknown ones named together) and the
upsert itself belong to ``prices_load``, shared with the API. All or nothing: ``prices_load`` is
one transaction and nothing is written before every row has passed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pms_project.commands import parse_iso_date
from pms_project.errors import PMSError
from pms_project.validators import control_characters

from ..csvio import FILE_FIELD, read_csv
from .base import validate_business_date
from .market import PriceRow, prices_load

PRICE_COLUMNS = ("date", "symbol", "close")
# Price.close is NUMERIC(24, 10): at most 14 digits before the point.
_CLOSE_LIMIT = Decimal(10) ** 14
_ROW_FIELD = re.compile(r"^prices\[(\d+)\]\.(\w+)$")


@dataclass(frozen=True)
class PricesLoaded:
    closes: int
    symbols: int
    first: dt.date
    last: dt.date


def price_row_parse(line: int, row: dict[str, str]) -> PriceRow:
    """One row as a ``PriceRow``; a ``PMSError`` naming the line and the column otherwise."""

    def fail(column: str, message: str) -> PMSError:
        return PMSError(f"line {line}: {column} {message}", field=column)

    for column in PRICE_COLUMNS:
        if not row.get(column):
            raise fail(column, "is missing")
    if control_characters(row["symbol"]):
        # PostgreSQL refuses NUL in a query parameter; no symbol holds one anyway.
        raise fail("symbol", "must not contain control characters")
    day = parse_iso_date(row["date"])
    if day is None:
        raise fail("date", f"{row['date']!r} is not a date (YYYY-MM-DD)")
    try:
        close = Decimal(row["close"])
    except InvalidOperation:
        raise fail("close", f"{row['close']!r} is not a number") from None
    if not close.is_finite():
        raise fail("close", f"{row['close']!r} is not a finite number")
    if close <= 0:
        raise fail("close", f"{row['close']!r} must be greater than zero")
    if close >= _CLOSE_LIMIT:
        raise fail("close", f"{row['close']!r} is too large for a price")
    try:
        # prices_load checks this again; checking here lets the error name the line.
        validate_business_date(day, field="date")
    except PMSError as exc:
        raise fail(exc.field, exc.message) from None
    return PriceRow(symbol=row["symbol"], date=day, close=close)


def prices_load_csv(path: str | Path, *, user=None) -> PricesLoaded:
    """Parse the whole file, then load it with ``prices_load`` (one transaction); a
    ``PMSError`` whose message names the line (and whose field names the column, or ``file``)
    and nothing written otherwise."""
    rows: list[PriceRow] = []
    lines: list[int] = []
    first_line: dict[tuple[str, dt.date], int] = {}
    for line, raw in read_csv(path, PRICE_COLUMNS):
        row = price_row_parse(line, raw)
        key = (row.symbol, row.date)
        if key in first_line:
            raise PMSError(
                f"line {line}: {row.symbol} {row.date.isoformat()} already appears on line "
                f"{first_line[key]}",
                field=FILE_FIELD,
            )
        first_line[key] = line
        rows.append(row)
        lines.append(line)
    if not rows:
        raise PMSError("no price rows under the header", field=FILE_FIELD)
    try:
        closes = prices_load(rows, user=user)
    except PMSError as exc:
        # prices_load names rows as ``prices[i].close``: say ``line N: close`` instead.
        match = _ROW_FIELD.match(exc.field)
        if match and int(match.group(1)) < len(lines):
            where, field = f"line {lines[int(match.group(1))]}: {match.group(2)}", match.group(2)
        else:
            where, field = exc.field, exc.field
        raise PMSError(f"{where}: {exc.message}", field=field) from exc
    days = sorted({r.date for r in rows})
    return PricesLoaded(
        closes=closes, symbols=len({r.symbol for r in rows}), first=days[0], last=days[-1]
    )
