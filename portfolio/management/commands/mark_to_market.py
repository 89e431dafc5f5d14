"""``mark_to_market``: mark one business date, or every business day of a range.

The arithmetic and the writes are ``services.mark_to_market`` / ``mark_to_market_range``; this
command only resolves the portfolio and the dates and reports the NAV of each day marked.
"""

from __future__ import annotations

import argparse
import datetime as dt

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.errors import PMSError
from portfolio import calculations as calc
from portfolio import selectors, services
from portfolio.models import NavSnapshot

from .import_prices import parse_iso_date

# Longer runs print a summary instead of one line per day.
MAX_DAILY_LINES = 31


def iso_date(text: str) -> dt.date:
    day = parse_iso_date(text)
    if day is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)")
    return day


class Command(BaseCommand):
    help = (
        "Mark a portfolio to market for one business date (--date) or every business day from "
        "--from to --to (default: the last business day before today, UTC). Each day is its own "
        "transaction: a day that fails (e.g. a missing close) writes nothing for that day and "
        "stops the run; the days before it stay marked. Re-running a date replaces its rows "
        "and gives identical numbers, so fix the data and run the range again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portfolio", metavar="CODE", help="portfolio code (optional when only one exists)"
        )
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="one business date")
        when.add_argument(
            "--from", dest="start", type=iso_date, metavar="YYYY-MM-DD", help="first date"
        )
        parser.add_argument(
            "--to", dest="end", type=iso_date, metavar="YYYY-MM-DD", help="last date of a range"
        )

    def handle(self, *args, **options) -> None:
        day, start, end = options["date"], options["start"], options["end"]
        if end is not None and start is None:
            raise CommandError("--to needs --from")
        try:
            portfolio = selectors.portfolio_get(options["portfolio"])
            if day is not None:
                snapshots = [services.mark_to_market(portfolio=portfolio, business_date=day)]
            else:
                end = end or calc.previous_business_day(selectors.today())
                if end > selectors.today():
                    raise PMSError(f"{end.isoformat()} is in the future", field="to")
                snapshots = services.mark_to_market_range(portfolio=portfolio, start=start, end=end)
        except PMSError as exc:
            after = (
                "nothing written for that date"
                if day is not None
                else "days before the failing one stay marked; re-running is idempotent"
            )
            raise CommandError(f"{exc.field}: {exc.message} ({after})") from exc
        if not snapshots:
            raise CommandError(f"no business day from {start} to {end}")
        self._report(portfolio.code, snapshots)

    def _report(self, code: str, snapshots: list[NavSnapshot]) -> None:
        if len(snapshots) <= MAX_DAILY_LINES:
            for snap in snapshots:
                self.stdout.write(
                    f"{code} {snap.date.isoformat()}  NAV {snap.nav:,.2f}  "
                    f"daily P&L {snap.daily_pnl:,.2f}  return {snap.daily_return:+.4%}"
                )
        else:
            first, last = snapshots[0], snapshots[-1]
            self.stdout.write(
                f"{code} {first.date.isoformat()}  NAV {first.nav:,.2f}  "
                f"return {first.daily_return:+.4%}\n  … {len(snapshots) - 2} more days …\n"
                f"{code} {last.date.isoformat()}  NAV {last.nav:,.2f}  "
                f"return {last.daily_return:+.4%}"
            )
        self.stdout.write(self.style.SUCCESS(f"{code}: {len(snapshots)} business day(s) marked"))
