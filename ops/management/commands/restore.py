"""``restore <folder> [--yes]``: replace the database with a backup, all or nothing.

1. check the backup before touching anything: every file's sha256 against its manifest, and no
   migration the code lacks (a schema newer than the code) — refused with exit 1 otherwise;
2. ask for a typed ``yes`` unless ``--yes`` (end of input or anything else: exit 1, nothing done);
3. ``pg_restore --clean --if-exists --single-transaction --exit-on-error --no-owner``: a failure
   rolls the whole restore back;
4. clear the cache, then compare every table's row count with the manifest: exit 1 naming each
   table that differs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ops import backups


class Command(BaseCommand):
    help = (
        "Restore a backup folder written by `backup` into the database, replacing its tables "
        "(all or nothing), after checking the files' sha256 and the migrations; asks for a "
        "typed 'yes' unless --yes."
    )
    # Where the confirmation is read from (tests pass their own).
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "folder", type=Path, help="a backup folder, e.g. backups/20261201T061500Z"
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, **options) -> None:
        try:
            verified = backups.backup_verify(options["folder"])
        except backups.BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = verified.manifest
        target = self._target()
        self.stdout.write(
            f"backup {verified.folder}: database {manifest['database']} at "
            f"{manifest['created_at']}, version {manifest['app_version']}, "
            f"{len(manifest['tables'])} tables, {sum(manifest['tables'].values()):,} rows; "
            f"{len(manifest['files'])} files match the manifest"
        )
        if not options["yes"]:
            self._confirm(target, options.get("stdin") or sys.stdin)
        started = time.monotonic()
        try:
            mismatches = backups.backup_restore(verified)
        except backups.BackupError as exc:
            raise CommandError(f"{exc} — nothing restored, {target} left as it was") from exc
        self.stdout.write(
            f"restored into {target} in {time.monotonic() - started:.1f} s; cache cleared"
        )
        if mismatches:
            raise CommandError(
                "row counts differ from the manifest: "
                + ", ".join(
                    f"{table} {expected} expected, {found} found"
                    for table, (expected, found) in sorted(mismatches.items())
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"row counts of all {len(manifest['tables'])} tables match the manifest"
            )
        )
        if verified.unapplied:
            self.stdout.write(
                f"{len(verified.unapplied)} migrations of this code are newer than the backup "
                f"({', '.join(verified.unapplied)}): run `manage.py migrate`"
            )

    def _target(self) -> str:
        params = connection.settings_dict
        where = params.get("HOST") or "local socket"
        if params.get("PORT"):
            where += f":{params['PORT']}"
        return f"database {params['NAME']} ({where})"

    def _confirm(self, target: str, stdin) -> None:
        self.stdout.write(
            f"This replaces every table of {target} with the backup. Type yes to continue: ",
            ending="",
        )
        self.stdout.flush()
        try:
            answer = stdin.readline()
            typed = stdin.isatty()
        except (OSError, ValueError):  # no readable input (closed, or captured)
            answer, typed = "", False
        if not typed:  # a piped answer is not echoed: end the prompt's line
            self.stdout.write("")
        if answer.strip() != "yes":
            raise CommandError("restore aborted: not confirmed (nothing changed)")
