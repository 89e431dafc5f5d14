"""``morning_pack``: print the morning pack of a business date in the terminal, generating it
first when there is none (or with ``--regenerate``). The figures are
``briefing.services.morning_pack_generate``'s; the layout is ``briefing.text``."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from briefing import services, text
from briefing.models import MorningPack
from pms_project.commands import command_error, iso_date
from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors


class Command(BaseCommand):
    help = (
        "Print the morning pack of a business date (default: today, or the last business day "
        "on a weekend), generating it from the close before it when none is stored yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--portfolio", metavar="CODE", help="portfolio code (optional when only one exists)"
        )
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="business date")
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="generate it again even when one is stored (replacing it)",
        )

    def handle(self, *args, **options) -> None:
        today = portfolio_selectors.today()
        day = options["date"]
        if day is None:
            day = today if pcalc.is_business_day(today) else pcalc.previous_business_day(today)
        try:
            portfolio = portfolio_selectors.portfolio_get(options["portfolio"])
            pack = (
                None
                if options["regenerate"]
                else MorningPack.objects.filter(portfolio=portfolio, date=day).first()
            )
            if pack is None:
                pack = services.morning_pack_generate(portfolio=portfolio, business_date=day)
                self.stderr.write(f"generated the morning pack of {day.isoformat()}")
        except PMSError as exc:
            raise command_error(exc) from exc
        self.stdout.write(text.render(pack.content), ending="")
