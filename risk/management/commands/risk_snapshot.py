"""``risk_snapshot``: store the EOD risk of one business date, or of every business day of a range.

The figures and the writes are ``risk.services.risk_snapshot_record`` / ``risk_snapshot_range``;
this command resolves the portfolio and the dates and prints one line per day.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from pms_project.commands import MAX_DAILY_LINES, add_portfolio_and_dates, run_by_date
from risk import services
from risk.models import RiskSnapshot


class Command(BaseCommand):
    help = (
        "Compute and store the risk of a portfolio at the close of one business date (--date) or "
        "of every business day from --from to --to (default: the last business day before "
        "today): VaR 95/99, ES 97.5, parametric VaR, exposures, drawdown and limit utilization, "
        "from that day's position snapshots and the returns up to it. The day must be marked "
        "to market first. Re-running a date replaces its snapshot; a breached limit raises one "
        "alert per day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_portfolio_and_dates(parser)

    def handle(self, *args, **options) -> None:
        portfolio, snapshots = run_by_date(
            options,
            one=lambda p, day: services.risk_snapshot_record(portfolio=p, business_date=day),
            many=lambda p, start, end: services.risk_snapshot_range(
                portfolio=p, start=start, end=end
            ),
            after_many="the days before the failing one are stored",
        )
        shown = snapshots if len(snapshots) <= MAX_DAILY_LINES else [snapshots[0], snapshots[-1]]
        for snap in shown:
            self.stdout.write(self._line(portfolio.code, snap))
            if len(shown) < len(snapshots) and snap is shown[0]:
                self.stdout.write(f"  … {len(snapshots) - 2} more days …")
        self.stdout.write(
            self.style.SUCCESS(f"{portfolio.code}: risk of {len(snapshots)} business day(s) stored")
        )

    @staticmethod
    def _line(code: str, snap: RiskSnapshot) -> str:
        var = "n/a" if snap.var_99 is None else f"{snap.var_99:,.2f}"
        lev = "n/a" if snap.leverage is None else f"{snap.leverage:.2f}x"
        breaches = sum(1 for row in snap.limits if row["status"] == "breach")
        flag = "  INSUFFICIENT HISTORY" if snap.insufficient_history else ""
        return (
            f"{code} {snap.date.isoformat()}  VaR99 {var}  leverage {lev}  "
            f"scenarios {snap.scenarios}  breaches {breaches}{flag}"
        )
