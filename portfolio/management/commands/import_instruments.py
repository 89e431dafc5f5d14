"""``import_instruments <csv>``: create or update instruments from a CSV file, all or nothing.

Columns ``symbol,name,asset_class,currency`` and optionally ``multiplier`` (default 1),
``active`` (default true) and ``calendar`` (the instrument's trading calendar, see
``portfolio.calendars``: blank for weekdays; without the column, an existing instrument keeps
its calendar and a new one trades on weekdays). Every row is checked before anything is
written, so a typo on line 400 does not leave 399 instruments half-imported; errors name the line
and the column.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.errors import PMSError
from pms_project.validators import CODE_HELP, control_characters, is_code, is_currency
from portfolio import calendars
from portfolio.choices import AssetClass
from portfolio.management.csvio import read_csv
from portfolio.models import MULTIPLIER_LIMIT, Instrument
from portfolio.services import InstrumentRow, instruments_upsert

REQUIRED = ("symbol", "name", "asset_class", "currency")
OPTIONAL = ("multiplier", "active", "calendar")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}
# Instrument.multiplier is NUMERIC(20, 6), at most MULTIPLIER_LIMIT.
_MULT_PLACES = Decimal("1E-6")


def parse_instrument(line: int, row: dict[str, str]) -> InstrumentRow:
    """One validated row; a ``CommandError`` naming the line and column otherwise."""

    def fail(column: str, message: str) -> CommandError:
        return CommandError(f"line {line}: {column} {message}")

    for column in REQUIRED:
        if not row.get(column):
            raise fail(column, "is missing")
    symbol, name = row["symbol"], row["name"]
    if len(symbol) > Instrument._meta.get_field("symbol").max_length:
        raise fail("symbol", f"{symbol!r} is longer than 30 characters")
    if not is_code(symbol):
        raise fail("symbol", f"{symbol!r}: use only {CODE_HELP}")
    if len(name) > Instrument._meta.get_field("name").max_length:
        raise fail("name", "is longer than 200 characters")
    if control_characters(name):
        raise fail("name", "must not contain control characters")
    if row["asset_class"] not in AssetClass.values:
        allowed = ", ".join(AssetClass.values)
        raise fail("asset_class", f"{row['asset_class']!r} is not one of {allowed}")
    if not is_currency(row["currency"]):
        raise fail("currency", f"{row['currency']!r} is not an ISO 4217 currency code (e.g. USD)")

    multiplier = Decimal(1)
    if row.get("multiplier"):
        try:
            multiplier = Decimal(row["multiplier"])
        except InvalidOperation:
            raise fail("multiplier", f"{row['multiplier']!r} is not a number") from None
        if not multiplier.is_finite():
            raise fail("multiplier", f"{row['multiplier']!r} is not a finite number")
        if multiplier <= 0:
            raise fail("multiplier", f"{row['multiplier']!r} must be greater than zero")
        if multiplier > MULTIPLIER_LIMIT:
            raise fail("multiplier", f"{row['multiplier']!r} is above {MULTIPLIER_LIMIT:,.0f}")
        if multiplier != multiplier.quantize(_MULT_PLACES):
            raise fail("multiplier", f"{row['multiplier']!r} has more than 6 decimals")

    active = True
    if row.get("active"):
        flag = row["active"].lower()
        if flag not in _TRUE | _FALSE:
            raise fail("active", f"{row['active']!r} is not true/false")
        active = flag in _TRUE

    calendar = row.get("calendar")  # None: no such column
    if calendar is not None:
        try:
            calendars.validate_code(calendar, field="calendar")
        except PMSError as exc:
            raise fail("calendar", exc.message) from None
    return InstrumentRow(
        symbol, name, row["asset_class"], row["currency"], multiplier, active, calendar
    )


class Command(BaseCommand):
    help = (
        "Create or update instruments from a CSV file (symbol,name,asset_class,currency"
        "[,multiplier][,active][,calendar]). All or nothing: every row is validated before "
        "anything is written; existing symbols are updated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="path of the CSV file")

    def handle(self, *args, **options) -> None:
        rows: list[InstrumentRow] = []
        first_line: dict[str, int] = {}
        for line, raw in read_csv(options["csv"], REQUIRED, OPTIONAL):
            row = parse_instrument(line, raw)
            if row.symbol in first_line:
                raise CommandError(
                    f"line {line}: symbol {row.symbol!r} already appears on line "
                    f"{first_line[row.symbol]}"
                )
            first_line[row.symbol] = line
            rows.append(row)
        if not rows:
            raise CommandError(f"{options['csv']}: no instrument rows")
        created, updated = instruments_upsert(rows)
        unchanged = len(rows) - created - updated
        self.stdout.write(
            self.style.SUCCESS(
                f"instruments: {created} created, {updated} updated, {unchanged} unchanged"
            )
        )
