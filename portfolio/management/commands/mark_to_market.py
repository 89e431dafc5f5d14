"""``mark_to_market``: mark one business date, or every business day of a range.

The arithmetic and the writes are ``services.mark_to_market`` / ``mark_to_market_range``; this
command only resolves the portfolio and the dates and reports the NAV of each day marked.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from pms_project.commands import MAX_DAILY_LINES, add_portfolio_and_dates, run_by_date
from portfolio import services
from portfolio.models import NavSnapshot


class Command(BaseCommand):
    help = (
        "Mark a portfolio to market for one business date (--date) or every business day from "
        "--from to --to (default: the last business day before today, UTC). Each day is its own "
        "transaction: a day that fails (e.g. a missing close) writes nothing for that day and "
        "stops the run; the days before it stay marked. Re-running a date replaces its rows "
        "and gives identical numbers, so fix the data and run the range again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_portfolio_and_dates(parser)

    def handle(self, *args, **options) -> None:
        portfolio, snapshots = run_by_date(
            options,
            one=lambda p, day: services.mark_to_market(portfolio=p, business_date=day),
            many=lambda p, start, end: services.mark_to_market_range(
                portfolio=p, start=start, end=end
            ),
            after_one="nothing written for that date",
            after_many="days before the failing one stay marked; re-running is idempotent",
        )
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
