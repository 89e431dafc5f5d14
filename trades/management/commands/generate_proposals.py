"""``generate_proposals [--portfolio CODE] [--date D]``: signals → sized, risk-checked proposals.

``trades.services.proposals_generate``: the signals of D, then one proposal per sleeve whose
target differs from what it holds by at least the minimum trade, each with its pre-trade check;
the day's pending generated proposals are replaced, decided ones never touched. The proposals are
the system's (no creator), so any approver may decide them.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from pms_project.commands import command_error, iso_date
from pms_project.errors import PMSError
from pms_project.formatting import money, pct, qty
from portfolio import selectors
from trades import services


class Command(BaseCommand):
    help = (
        "Generate the trade proposals of a business date (default today, UTC) for a portfolio: "
        "signals, sizing (signal × risk budget × NAV / (vol × price × multiplier × fx) minus "
        "what the sleeve holds, whole contracts, above the minimum trade) and the pre-trade "
        "check of each. Pending generated proposals of the date are replaced; decided ones "
        "are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portfolio", metavar="CODE", help="portfolio code (optional when only one exists)"
        )
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="default today")

    def handle(self, *args, **options) -> None:
        try:
            portfolio = selectors.portfolio_get(options["portfolio"])
            day = options["date"] or selectors.today()
            result = services.proposals_generate(portfolio=portfolio, day=day)
        except PMSError as exc:
            raise command_error(exc, "nothing was written") from exc
        for p in [*result.created, *result.kept]:
            flag = "  HARD LIMIT BREACH" if p.breaks_hard_limit else ""
            self.stdout.write(
                f"#{p.pk:<6} {p.strategy.code:<10} {p.side:<4} {qty(p.quantity):>8} "
                f"{p.instrument.symbol:<10} @ {qty(p.price):<12} VaR99 "
                f"{money(p.var_99_before)} → {money(p.var_99_after)}  worst limit "
                f"{pct(p.utilization_after)}{flag}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"{portfolio.code} {result.day.isoformat()}: NAV {result.nav:,.2f}, "
                f"{result.signals} signal(s), {len(result.created)} proposal(s) created, "
                f"{len(result.kept)} kept, {result.removed} removed, "
                f"{len(result.skipped)} sleeve(s) skipped"
            )
        )
