"""What the day-by-day commands share (``mark_to_market``, ``risk_snapshot``, …): the
``--portfolio`` / ``--date`` | ``--from`` [``--to``] arguments and their resolution."""

from __future__ import annotations

import argparse
import datetime as dt
import re

from django.core.management.base import CommandError, CommandParser

from pms_project.errors import PMSError

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Longer runs print a summary instead of one line per day.
MAX_DAILY_LINES = 31


def parse_iso_date(text: str) -> dt.date | None:
    """Strictly YYYY-MM-DD: ``2024-3-4`` or ``04/03/2024`` are ambiguous in a file of closes."""
    if not _ISO_DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def iso_date(text: str) -> dt.date:
    day = parse_iso_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)")
    return day


def add_portfolio_and_dates(parser: CommandParser) -> None:
    parser.add_argument(
        "--portfolio", metavar="CODE", help="portfolio code (optional when only one exists)"
    )
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="one business date")
    when.add_argument(
        "--from", dest="start", type=iso_date, metavar="YYYY-MM-DD", help="first date"
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="last date of a range (default: the last business day before today, UTC)",
    )


def dates_of(
    options: dict, *, today: dt.date
) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    """(day, start, end) from the options: one day, or a range whose end defaults to the last
    business day before ``today``."""
    from portfolio.calculations import previous_business_day

    day, start, end = options["date"], options["start"], options["end"]
    if end is not None and start is None:
        raise CommandError("--to needs --from")
    if start is not None:
        end = end or previous_business_day(today)
        if end > today:
            raise CommandError(f"to: {end.isoformat()} is in the future")
    return day, start, end


def command_error(exc: PMSError, after: str = "") -> CommandError:
    return CommandError(f"{exc.field}: {exc.message}" + (f" ({after})" if after else ""))


def run_by_date(options: dict, *, one, many, after_one: str = "", after_many: str = ""):
    """Resolve ``--portfolio`` and the dates, then call ``one(portfolio, day)`` or
    ``many(portfolio, start, end)`` (a list); a rule broken is a ``CommandError`` naming the
    field, followed by what was left written (``after_one`` / ``after_many``).
    Returns (portfolio, results)."""
    from portfolio import selectors

    day, start, end = dates_of(options, today=selectors.today())
    try:
        portfolio = selectors.portfolio_get(options["portfolio"])
        results = [one(portfolio, day)] if day is not None else many(portfolio, start, end)
    except PMSError as exc:
        raise command_error(exc, after_one if day is not None else after_many) from exc
    if not results:
        raise CommandError(f"no business day from {start} to {end}")
    return portfolio, results
