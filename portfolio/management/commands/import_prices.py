"""``import_prices <csv>``: load EOD closes (``date,symbol,close``), all or nothing.

The command parses every row first so that a malformed line is reported by its line number; the
business rules (business days, no future dates, known symbols — all unknown ones named together)
and the upsert itself belong to ``services.prices_load``, shared with the API.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.commands import parse_iso_date
from pms_project.errors import PMSError
from portfolio import services
from portfolio.management.csvio import read_csv

REQUIRED = ("date", "symbol", "close")
# Price.close is NUMERIC(24, 10): at most 14 digits before the point.
_CLOSE_LIMIT = Decimal(10) ** 14
_ROW_FIELD = re.compile(r"^prices\[(\d+)\]\.(\w+)$")


def parse_price(line: int, row: dict[str, str]) -> services.PriceRow:
    """One row as a ``PriceRow``; a ``CommandError`` naming the line and column otherwise."""

    def fail(column: str, message: str) -> CommandError:
        return CommandError(f"line {line}: {column} {message}")

    for column in REQUIRED:
        if not row.get(column):
            raise fail(column, "is missing")
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
        # The service checks this again; checking here lets the error name the line.
        services.validate_business_date(day, field="date")
    except PMSError as exc:
        raise fail(exc.field, exc.message) from None
    return services.PriceRow(symbol=row["symbol"], date=day, close=close)


def _where(field: str, lines: list[int]) -> str:
    """Translate the service's ``prices[i].close`` into ``line N: close``."""
    match = _ROW_FIELD.match(field)
    if match and int(match.group(1)) < len(lines):
        return f"line {lines[int(match.group(1))]}: {match.group(2)}"
    return field


class Command(BaseCommand):
    help = (
        "Load EOD closes from a CSV file (date,symbol,close). All or nothing: a malformed row, "
        "a weekend or future date or an unknown symbol (all named) rejects the whole file. "
        "A close already stored for (symbol, date) is replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="path of the CSV file")

    def handle(self, *args, **options) -> None:
        rows: list[services.PriceRow] = []
        lines: list[int] = []
        first_line: dict[tuple[str, dt.date], int] = {}
        for line, raw in read_csv(options["csv"], REQUIRED):
            row = parse_price(line, raw)
            key = (row.symbol, row.date)
            if key in first_line:
                raise CommandError(
                    f"line {line}: {row.symbol} {row.date.isoformat()} already appears on line "
                    f"{first_line[key]}"
                )
            first_line[key] = line
            rows.append(row)
            lines.append(line)
        if not rows:
            raise CommandError(f"{options['csv']}: no price rows")
        try:
            count = services.prices_load(rows)
        except PMSError as exc:
            raise CommandError(f"{_where(exc.field, lines)}: {exc.message}") from exc
        days = sorted({r.date for r in rows})
        self.stdout.write(
            self.style.SUCCESS(
                f"prices: {count} closes loaded for {len({r.symbol for r in rows})} symbols, "
                f"{days[0].isoformat()} to {days[-1].isoformat()}"
            )
        )
