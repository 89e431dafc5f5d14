"""``attribution_run``: the EOD attribution step of one business date, or of every business day
of a range. The figures and the writes are ``attribution.services.attribution_record``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from attribution import services
from pms_project.commands import MAX_DAILY_LINES, add_portfolio_and_dates, run_by_date


class Command(BaseCommand):
    help = (
        "Attribute the P&L of a portfolio as of one business date (--date) or of every business "
        "day from --from to --to: store the daily P&L by strategy, asset class, instrument and "
        "currency, and the TWR, linked contributions and statistics of 1D, WTD, MTD, QTD, YTD "
        "and ITD as of each day. The day must be marked to market first; a re-run replaces "
        "what it stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_portfolio_and_dates(parser)

    def handle(self, *args, **options) -> None:
        portfolio, days = run_by_date(
            options,
            one=lambda p, day: services.attribution_record(portfolio=p, business_date=day),
            many=lambda p, start, end: services.attribution_range(
                portfolio=p, start=start, end=end
            ),
            after_many="the days before the failing one are stored",
        )
        shown = days if len(days) <= MAX_DAILY_LINES else [days[0], days[-1]]
        for results in shown:
            self.stdout.write(self._line(portfolio.code, results))
            if len(shown) < len(days) and results is shown[0]:
                self.stdout.write(f"  … {len(days) - 2} more days …")
        self.stdout.write(
            self.style.SUCCESS(
                f"{portfolio.code}: attribution of {len(days)} business day(s) stored"
            )
        )

    @staticmethod
    def _line(code: str, results) -> str:
        twr = "  ".join(f"{r.period} {r.twr:+.4%}" for r in results)
        return f"{code} {results[0].as_of.isoformat()}  {twr}"
