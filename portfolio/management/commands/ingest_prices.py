"""``ingest_prices [--folder PATH]``: the daily price ingest, run by hand.

The same function as the 09:00 task (``services.ingest_drop_folder``): every complete ``*.csv``
file of the drop folder imported and moved to ``processed/``, or moved to ``rejected/`` with its
reason. Prints the report; exits 1 when a file was rejected, so a script or an operator notices.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.errors import PMSError
from portfolio import services


class Command(BaseCommand):
    help = (
        "Import the CSV files of closes (date,symbol,close) dropped in the price drop folder "
        "(PMS_PRICE_DROP_DIR), each all or nothing, and move them to processed/ or rejected/. "
        "Exit status 1 when any file was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--folder", type=Path, help="the drop folder (default: the PMS_PRICE_DROP_DIR setting)"
        )

    def handle(self, *args, **options) -> None:
        try:
            report = services.ingest_drop_folder(options["folder"])
        except PMSError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc
        self.stdout.write(f"drop folder: {report.folder}")
        for f in report.imported:
            self.stdout.write(
                self.style.SUCCESS(
                    f"imported  {f.name}: {f.closes} closes of {f.symbols} symbols, "
                    f"{f.first.isoformat()} to {f.last.isoformat()} → {f.stored_as}"
                )
            )
        for f in report.rejected:
            self.stdout.write(self.style.ERROR(f"rejected  {f.name}: {f.message} → {f.stored_as}"))
        for f in report.skipped:
            self.stdout.write(f"skipped   {f.name}: {f.reason}")
        if not (report.imported or report.rejected or report.skipped):
            self.stdout.write("nothing to import")
        if report.rejected:
            names = ", ".join(f.name for f in report.rejected)
            raise CommandError(f"{len(report.rejected)} file(s) rejected: {names}")
