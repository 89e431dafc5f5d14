"""``generate_signals [--date D] [--strategy CODE …]``: store the signals of a business date.

Every active strategy with a signal generator (or those named) runs its generator over its
instruments' closes up to D (``trades.services.signals_generate``); re-running D replaces D's
signals. Prints one line per signal and the instruments that got none, with the reason.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from pms_project.commands import command_error, iso_date
from pms_project.errors import PMSError
from portfolio import selectors
from trades import services


class Command(BaseCommand):
    help = (
        "Compute and store the signals of a business date (default today, UTC) for every "
        "active strategy with a generator, or for the strategies named, from the closes up to "
        "that date. Re-running a date replaces its signals."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=iso_date, metavar="YYYY-MM-DD", help="default today")
        parser.add_argument(
            "--strategy", action="append", metavar="CODE", help="only this strategy (repeatable)"
        )

    def handle(self, *args, **options) -> None:
        day = options["date"] or selectors.today()
        try:
            run = services.signals_generate(day=day, strategy_codes=options["strategy"])
        except PMSError as exc:
            raise command_error(exc, "nothing was written") from exc
        for s in sorted(run.signals, key=lambda s: (s.strategy.code, s.instrument.symbol)):
            self.stdout.write(
                f"{s.strategy.code:<10} {s.instrument.symbol:<10} {s.value:+.2f}  {s.rationale}"
            )
        for skip in run.skipped:
            self.stdout.write(f"{skip.strategy:<10} {skip.symbol:<10}  —    {skip.reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{day.isoformat()}: {len(run.signals)} signal(s) stored, "
                f"{len(run.skipped)} instrument(s) without one"
            )
        )
