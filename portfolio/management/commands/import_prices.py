"""``import_prices <csv>``: load EOD closes (``date,symbol,close``), all or nothing.

Parsing and loading are ``services.prices_load_csv``, shared with the drop folder's ingest
(``ingest_prices``); this command only prints the outcome.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.errors import PMSError
from portfolio import services


class Command(BaseCommand):
    help = (
        "Load EOD closes from a CSV file (date,symbol,close). All or nothing: a malformed row, "
        "a weekend or future date or an unknown symbol (all named) rejects the whole file. "
        "A close already stored for (symbol, date) is replaced."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="path of the CSV file")

    def handle(self, *args, **options) -> None:
        try:
            loaded = services.prices_load_csv(options["csv"])
        except PMSError as exc:
            # The message already names the line and the column.
            raise CommandError(exc.message) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"prices: {loaded.closes} closes loaded for {loaded.symbols} symbols, "
                f"{loaded.first.isoformat()} to {loaded.last.isoformat()}"
            )
        )
