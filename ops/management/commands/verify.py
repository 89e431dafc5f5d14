"""``verify [--json] [--strict]``: the named checks of a running system (SPEC §9).

1. Run every check of ``ops.checks`` (configuration, database, cache, broker, schedules, the
   domain services on tiny cases, data integrity per portfolio, docs); a check that raises is a
   failure naming the exception, and the others still run.
2. Print a table (colour only on a terminal) and a summary line, or with ``--json`` a list of
   ``{name, group, ok, level, detail}``.
3. Exit 0 when nothing failed; otherwise a ``CommandError`` naming the failed checks (exit 1).

The ``check --deploy`` essentials and a missing broker are warnings on a development system
(``DEBUG`` on: the embedded demo) and failures with production settings or ``--strict``.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.checks import FAIL, PASS, WARN, CheckResult, run_checks


class Command(BaseCommand):
    help = (
        "Run the system's named checks (configuration, database, migrations, cache, broker, "
        "schedules, services, data integrity, docs); exit 1 when one fails. Configuration "
        "checks only warn when DEBUG is on, unless --strict."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the results as JSON")
        parser.add_argument(
            "--strict",
            action="store_true",
            help="production severity even with DEBUG on: warnings fail",
        )

    def handle(self, *args, **options) -> None:
        production = options["strict"] or not settings.DEBUG
        results = run_checks(production=production)
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in results], indent=2))
        else:
            self._table(results, production=production)
        failed = [r.name for r in results if r.status == FAIL]
        if failed:
            # CommandError: exit status 1 and the names on stderr (stdout stays parseable JSON).
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")

    def _table(self, results: list[CheckResult], *, production: bool) -> None:
        # Django's style colours only when stdout is a terminal (and NO_COLOR is unset).
        paint = {PASS: self.style.SUCCESS, FAIL: self.style.ERROR, WARN: self.style.WARNING}
        name_w = max(len(r.name) for r in results)
        group_w = max(len(r.group) for r in results)
        self.stdout.write(f"{'check':<{name_w}}  {'group':<{group_w}}  status  detail")
        self.stdout.write(f"{'-' * name_w}  {'-' * group_w}  ------  {'-' * 6}")
        for r in results:
            status = paint[r.status](f"{r.status:<6}")
            self.stdout.write(f"{r.name:<{name_w}}  {r.group:<{group_w}}  {status}  {r.detail}")
        counts = {s: sum(r.status == s for r in results) for s in (PASS, WARN, FAIL)}
        mode = "production" if production else "development (configuration warns)"
        line = (
            f"{len(results)} checks: {counts[PASS]} passed, {counts[WARN]} warnings, "
            f"{counts[FAIL]} failed — {mode}"
        )
        self.stdout.write(paint[FAIL if counts[FAIL] else PASS](line))
