"""``run_pipeline eod|preopen [--date D] [--force] [--portfolio CODE]``: a pipeline, in process.

The same chain as the scheduled one (``ops.pipelines``: the same tasks, the same run row and
lock), applied in this process: no broker, no worker. For each portfolio (or the one named):

1. start the run of D (default: today for the pre-open; for the EOD today, or the last business
   day before it at a weekend) — a date that is not a business day is recorded as skipped, a
   succeeded one is left alone unless ``--force``, a running one is refused;
2. run the steps in order, printing each one's time and result;
3. exit 1 naming the failed step (and its error) if one failed, or if a start was refused.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import pipelines
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from pms_project.commands import command_error, iso_date
from pms_project.errors import PMSError
from portfolio import selectors
from portfolio.models import Portfolio


class Command(BaseCommand):
    help = (
        "Run the EOD (mark-to-market, risk snapshot, attribution, warm caches) or the pre-open "
        "pipeline (expire proposals, signals, proposals, morning pack, warm caches) of a "
        "business date in this process, for every portfolio or the one named. A date that "
        "already succeeded is not run again unless --force (which replaces its rows with "
        "identical ones); a run of the same date already running is refused."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("pipeline", choices=Pipeline.values)
        parser.add_argument(
            "--date",
            type=iso_date,
            metavar="YYYY-MM-DD",
            help="the business date (default: today, UTC; the EOD of a weekend is Friday's)",
        )
        parser.add_argument(
            "--force", action="store_true", help="run again a date that already succeeded"
        )
        parser.add_argument("--portfolio", metavar="CODE", help="only this portfolio")

    def handle(self, *args, **options) -> None:
        pipeline = options["pipeline"]
        try:
            portfolios = (
                [selectors.portfolio_get(options["portfolio"])]
                if options["portfolio"]
                else list(Portfolio.objects.order_by("code"))
            )
        except PMSError as exc:
            raise command_error(exc) from exc
        if not portfolios:
            raise CommandError("portfolio: no portfolio exists yet")
        problems = []
        for portfolio in portfolios:
            day = options["date"] or pipelines.default_date(portfolio, pipeline, selectors.today())
            run, outcome = pipelines.run_inprocess(
                portfolio=portfolio, pipeline=pipeline, day=day, force=options["force"]
            )
            problem = self._report(run, outcome)
            if problem:
                problems.append(problem)
        if problems:
            raise CommandError("; ".join(problems))

    def _report(self, run: PipelineRun, outcome: str) -> str | None:
        """Print the run; returns what went wrong, if anything."""
        head = f"{run.portfolio.code} {run.pipeline} {run.business_date.isoformat()}"
        if outcome == pipelines.SKIPPED:
            self.stdout.write(f"{head}: skipped — {run.note}")
            return None
        if outcome == pipelines.DONE:
            self.stdout.write(f"{head}: already succeeded; nothing run (--force runs it again)")
            return None
        if outcome == pipelines.REFUSED:
            return f"{head}: refused — a run of that date is running"
        for step in pipelines.STEPS[run.pipeline]:
            record = run.steps.get(step.name)
            if record is None:
                self.stdout.write(f"  {step.name:<17} not run")
                continue
            seconds = record.get("seconds")
            timing = f"{seconds:8.3f} s" if seconds is not None else " " * 10
            detail = record.get("error") or json.dumps(record.get("result"), default=str)
            self.stdout.write(f"  {step.name:<17} {record['status']:<9} {timing}  {detail}")
        if run.status == RunStatus.FAILED:
            return f"{head}: failed at {run.error}"  # the error starts with the step's name
        self.stdout.write(
            self.style.SUCCESS(
                f"{head}: {run.status}{' (forced)' if run.forced else ''} in {run.seconds:.2f} s"
            )
        )
        return None
