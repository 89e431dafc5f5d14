"""``backup [--dir backups]``: the database, a CSV per PMS table and a manifest, in
``<dir>/<UTC timestamp>/`` (``ops.backups`` says what each file is and why).

1. pick the client tool matching the server (the embedded PostgreSQL's own, else PATH's);
2. dump, count and export from one snapshot into a hidden temporary folder;
3. write the manifest (row counts, sha256 of every file, migrations, version, time, database)
   and rename the folder to its timestamp — on any failure, exit 1 naming it and leave nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import backups


class Command(BaseCommand):
    help = (
        "Back up the database into <dir>/<UTC timestamp>/: database.dump (pg_dump -Fc), a CSV "
        "per PMS table and manifest.json (row counts, sha256 of each file, migrations, app "
        "version). `restore <folder>` loads it back."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dir",
            type=Path,
            default=settings.BASE_DIR / "backups",
            help="the folder of backups (default: backups/ in the project folder)",
        )

    def handle(self, *args, **options) -> None:
        try:
            folder, manifest = backups.backup_create(parent=options["dir"])
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        counts = manifest["tables"]
        csv_rows = sum(counts[table] for table in manifest["csv_tables"])
        self.stdout.write(
            f"database {manifest['database']}: {len(counts)} tables, "
            f"{sum(counts.values()):,} rows; {len(manifest['csv_tables'])} CSV files "
            f"({csv_rows:,} rows); dump {(folder / backups.DUMP).stat().st_size:,} bytes"
        )
        self.stdout.write(self.style.SUCCESS(f"backup written to {folder}"))
