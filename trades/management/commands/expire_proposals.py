"""``expire_proposals [--date D]``: expire the pending proposals dated before D (default today).

The pre-open's first step: a proposal of a past day stays decidable until then.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from pms_project.commands import iso_date
from portfolio import selectors
from trades import services


class Command(BaseCommand):
    help = (
        "Expire every pending trade proposal dated before --date (default today, UTC), in every "
        "portfolio; each expiry is audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="default today")

    def handle(self, *args, **options) -> None:
        today = options["date"] or selectors.today()
        count = services.proposals_expire(today=today)
        self.stdout.write(
            self.style.SUCCESS(f"{count} pending proposal(s) dated before {today} expired")
        )
