"""The desk's two daily pipelines (SPEC §8), run per portfolio as Celery chains.

- EOD of D (21:00 UTC): mark-to-market → risk snapshot → attribution → warm caches, all of D.
- Pre-open of D (09:30 UTC): expire the proposals dated before D → signals of D → proposals of
  D → the morning pack of D → warm caches. Signals, proposals and the pack of D read the data up
  to D, which at the pre-open is the close of the previous business day (no close of D exists
  before its evening; the pack says when that close is not marked).

This module owns the ``PipelineRun`` rows and their lock; the tasks in each app's ``tasks.py``
are thin (one service call each, run through ``step_run``). A chain is
``pipeline_begin_task → one task per step → pipeline_finish_task``; what passes between them
is a *ticket* ``{"run": id, "token": …, "outcome": …}``.

1. ``run_begin`` takes the run row with ``SELECT … FOR UPDATE NOWAIT`` and decides: a date that
   is not a business day of the portfolio is recorded as skipped; a succeeded run is a no-op
   unless forced; a running run is refused (another start holding the row lock, too) and the
   refusal counted on the row — never queued behind it; otherwise the run starts, owned by the
   chain's token. The same token resumes its own run (Celery redelivers an unacknowledged message
   after a lost worker: tasks are acknowledged late); a run silent for ``STALE_AFTER`` may be
   taken over (its worker died and its message is gone).
2. ``step_run`` records each step's start, time and result; the services replace a day's rows,
   so a redelivered or re-run step writes the same rows again, never a second copy.
3. A step that raises fails the run naming the step and its error (a transient error once its
   retries are spent) and the chain stops there: later steps never run, earlier days' data is
   untouched. ``pipeline_finish_task`` marks the run succeeded.

Transient database and Redis errors retry with exponential backoff (``StepTask``).
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import time
import uuid
from dataclasses import dataclass
from functools import partial

import redis.exceptions
from celery import Task, chain, signature
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from pms_project.errors import PMSError
from portfolio.models import Portfolio
from portfolio.selectors import portfolio_is_open

from .choices import Pipeline, RunStatus
from .models import PipelineRun

logger = logging.getLogger(__name__)

# A running run that has not written for this long lost its worker and its message: a new start
# may take it over. Longer than any step (a 10,000-position MTM takes seconds).
STALE_AFTER = dt.timedelta(hours=1)

# The errors worth retrying: the database or Redis restarting or unreachable for a moment.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a lock held elsewhere (NOWAIT, timeout)
REFUSAL_WAIT_MS = 1000


@dataclass(frozen=True)
class Step:
    name: str
    task: str  # the Celery task's name: the chain names tasks, it does not import them


STEPS: dict[str, tuple[Step, ...]] = {
    Pipeline.EOD: (
        Step("mark_to_market", "portfolio.tasks.mark_to_market_task"),
        Step("risk_snapshot", "risk.tasks.risk_snapshot_task"),
        Step("attribution", "attribution.tasks.attribution_task"),
        Step("warm_caches", "portfolio.tasks.cache_warm_task"),
    ),
    Pipeline.PREOPEN: (
        Step("expire_proposals", "trades.tasks.proposals_expire_task"),
        Step("signals", "trades.tasks.signals_generate_task"),
        Step("proposals", "trades.tasks.proposals_generate_task"),
        Step("morning_pack", "briefing.tasks.morning_pack_task"),
        Step("warm_caches", "portfolio.tasks.cache_warm_task"),
    ),
}

# What run_begin decided; the steps run only for the first two.
STARTED, RESUMED, DONE, REFUSED, SKIPPED = "started", "resumed", "done", "refused", "skipped"


# --- Calendar ---------------------------------------------------------------------------------


def runs_on(portfolio: Portfolio, day: dt.date) -> bool:
    """Whether ``portfolio``'s pipelines run on ``day``: the one place the calendar is asked
    (the portfolio's own calendar; weekdays when it names none)."""
    return portfolio_is_open(portfolio, day)


def default_date(portfolio: Portfolio, pipeline: str, today: dt.date) -> dt.date:
    """The date a run without ``--date`` is for: the pre-open of today; the EOD of today, or of
    the last business day before it when today is not one (a weekend run marks Friday)."""
    if pipeline == Pipeline.PREOPEN:
        return today
    day = today
    while not runs_on(portfolio, day):
        day -= dt.timedelta(days=1)
    return day


# --- Begin, steps, finish ---------------------------------------------------------------------


def _ticket(run: PipelineRun, outcome: str) -> dict:
    return {"run": run.pk, "token": run.token, "outcome": outcome}


def active(ticket: dict | None) -> bool:
    return bool(ticket) and ticket["outcome"] in (STARTED, RESUMED)


def run_begin(
    *, portfolio: Portfolio, pipeline: str, day: dt.date, force: bool = False, token: str
) -> dict:
    """Start (or skip, refuse, resume) the run of ``pipeline`` for ``portfolio`` and ``day``;
    returns the ticket the chain's steps carry. See the module's docstring, step 1."""
    if pipeline not in STEPS:
        raise PMSError(f"unknown pipeline {pipeline!r}", field="pipeline")
    if not runs_on(portfolio, day):
        return _ticket(_skip(portfolio, pipeline, day), SKIPPED)
    run, _ = PipelineRun.objects.get_or_create(
        portfolio=portfolio, pipeline=pipeline, business_date=day
    )
    try:
        with transaction.atomic():
            run = PipelineRun.objects.select_for_update(nowait=True).get(pk=run.pk)
            outcome = _decide(run, force=force, token=token, now=timezone.now())
            if outcome == STARTED:
                run.forced = force and run.status == RunStatus.SUCCEEDED
                run.status, run.token = RunStatus.RUNNING, token
                run.attempts += 1
                run.started_at, run.finished_at = timezone.now(), None
                run.steps, run.failed_step, run.error, run.note = {}, "", "", ""
                run.save()
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        outcome = REFUSED  # another start holds the row at this instant
    if outcome == REFUSED:
        counted = _count_refusal(run)
        logger.warning(
            "%s %s of %s: refused, a run of that date is running%s",
            *_names(run),
            "" if counted else " (not counted: its row stayed locked)",
        )
    elif outcome == DONE:
        logger.info("%s %s of %s: already succeeded, nothing to do", *_names(run))
    return {"run": run.pk, "token": token, "outcome": outcome}


def _count_refusal(run: PipelineRun) -> bool:
    """Add the refusal to the row. Its lock is held for milliseconds (a start, a step's record),
    so wait for it — but never longer than REFUSAL_WAIT: a refused start does not queue."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{REFUSAL_WAIT_MS}ms"])
            PipelineRun.objects.filter(pk=run.pk).update(refusals=F("refusals") + 1)
        return True
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return False


def _decide(run: PipelineRun, *, force: bool, token: str, now: dt.datetime) -> str:
    if run.status == RunStatus.RUNNING:
        if run.token == token:
            return RESUMED
        if run.updated_at < now - STALE_AFTER:
            logger.warning(
                "%s %s of %s: taking over a run silent since %s", *_names(run), run.updated_at
            )
            return STARTED
        return REFUSED
    if run.status == RunStatus.SUCCEEDED and not force:
        return DONE
    return STARTED


def _skip(portfolio: Portfolio, pipeline: str, day: dt.date) -> PipelineRun:
    """Record that ``day`` is not a business day of ``portfolio`` (a run of that date that
    already succeeded or is running is left as it is)."""
    note = f"{day.isoformat()} ({day:%A}) is not a business day of {portfolio.code}"
    run, created = PipelineRun.objects.get_or_create(
        portfolio=portfolio,
        pipeline=pipeline,
        business_date=day,
        defaults={"status": RunStatus.SKIPPED, "note": note, "finished_at": timezone.now()},
    )
    if not created and run.status in (RunStatus.PENDING, RunStatus.FAILED):
        PipelineRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SKIPPED, note=note, finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run


def _names(run: PipelineRun) -> tuple[str, str, str]:
    return (run.portfolio.code, run.pipeline, run.business_date.isoformat())


def _owned(ticket: dict, *, lock: bool = False) -> PipelineRun | None:
    """The run of ``ticket`` while it is running under the ticket's token, else None."""
    rows = PipelineRun.objects.filter(pk=ticket["run"], token=ticket["token"])
    rows = rows.filter(status=RunStatus.RUNNING).select_related("portfolio")
    return (rows.select_for_update(of=("self",)) if lock else rows).first()


def _set_step(ticket: dict, step: str, **values) -> PipelineRun | None:
    with transaction.atomic():
        run = _owned(ticket, lock=True)
        if run is None:
            return None
        run.steps = {**run.steps, step: {**run.steps.get(step, {}), **values}}
        run.save(update_fields=["steps", "updated_at"])
        return run


def step_run(ticket: dict | None, step: str, call) -> dict | None:
    """Run one step of the ticket's run: ``call(portfolio, business_date)`` → a JSON-ready
    summary, stored with the step's time. A ticket that does not own a running run passes
    through untouched (a refused or no-op start, or a run taken over)."""
    if not active(ticket):
        return ticket
    run = _owned(ticket)
    if run is None:
        logger.warning(
            "run %s no longer belongs to this chain: step %s not run", ticket["run"], step
        )
        return {**ticket, "outcome": REFUSED}
    attempt = run.steps.get(step, {}).get("attempt", 0) + 1
    _set_step(
        ticket, step, status="running", started_at=timezone.now().isoformat(), attempt=attempt
    )
    started = time.perf_counter()
    result = call(run.portfolio, run.business_date)
    _set_step(
        ticket,
        step,
        status="succeeded",
        seconds=round(time.perf_counter() - started, 6),
        result=result,
    )
    return ticket


def error_text(exc: BaseException) -> str:
    if isinstance(exc, PMSError):
        return f"{exc.field}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


def run_fail(ticket: dict | None, step: str, exc: BaseException) -> None:
    """The run of ``ticket`` failed at ``step`` (its retries spent): status, step and error."""
    if not active(ticket):
        return
    with transaction.atomic():
        run = _owned(ticket, lock=True)
        if run is None:
            return
        now = timezone.now()
        record = dict(run.steps.get(step, {}), status="failed", error=error_text(exc))
        if "started_at" in record:
            started = dt.datetime.fromisoformat(record["started_at"])
            record["seconds"] = round((now - started).total_seconds(), 6)
        run.steps = {**run.steps, step: record}
        run.status, run.failed_step, run.finished_at = RunStatus.FAILED, step, now
        run.failures = {**run.failures, step: run.failures.get(step, 0) + 1}
        run.error = f"{step}: {error_text(exc)}"
        run.save()
    logger.error("%s %s of %s failed at %s: %s", *_names(run), step, error_text(exc))


def run_finish(ticket: dict | None) -> dict | None:
    """Every step succeeded: the run is succeeded (when this chain still owns it)."""
    if active(ticket):
        updated = PipelineRun.objects.filter(
            pk=ticket["run"], token=ticket["token"], status=RunStatus.RUNNING
        ).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now(), updated_at=timezone.now())
        if not updated:
            return {**ticket, "outcome": REFUSED}
    return ticket


class StepTask(Task):
    """The base of every pipeline step task: idempotent, so acknowledged late and requeued when
    its worker dies; transient errors retried with exponential backoff (2, 4, 8 … s, at most
    60 s, jittered, 5 times); anything else — or the retries spent — fails the run, naming the
    step (``step``, set on each task)."""

    step = ""
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 5

    def run_step(self, ticket: dict | None, call) -> dict | None:
        """``step_run``, failing the run at once unless a retry will follow: a transient
        error on a worker with retries left is retried (and ``on_failure`` records it when they
        are spent); in process (eager, no broker) there is no delayed retry, so it fails."""
        try:
            return step_run(ticket, self.step, call)
        except TRANSIENT_ERRORS as exc:
            if not self.request.is_eager and self.request.retries < self.max_retries:
                raise
            run_fail(ticket, self.step, exc)
            raise
        except Exception as exc:
            run_fail(ticket, self.step, exc)
            raise

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        run_fail(args[0] if args else None, self.step, exc)


# --- Chains -----------------------------------------------------------------------------------


def new_token() -> str:
    return uuid.uuid4().hex


def chain_for(
    portfolio: Portfolio, pipeline: str, day: dt.date, *, force: bool = False, token: str
) -> chain:
    """begin → the pipeline's steps → finish, as one Celery chain of named tasks."""
    for module in {s.task.rsplit(".", 1)[0] for s in STEPS[pipeline]}:
        importlib.import_module(module)  # registers the tasks where no worker autodiscovered them
    importlib.import_module("ops.tasks")
    return chain(
        signature(
            "ops.tasks.pipeline_begin_task",
            args=(portfolio.pk, pipeline, day.isoformat(), force, token),
        ),
        *(signature(step.task) for step in STEPS[pipeline]),
        signature("ops.tasks.pipeline_finish_task"),
    )


def dispatch(*, pipeline: str, day: dt.date | None = None, force: bool = False) -> list[dict]:
    """One chain per portfolio, queued once the runs' rows have committed. Returns, per
    portfolio, what was queued or why not (a day that is not a business day of it)."""
    from portfolio.selectors import today

    queued = []
    with transaction.atomic():
        for portfolio in Portfolio.objects.order_by("code"):
            when = day or today()
            if not runs_on(portfolio, when):
                run = _skip(portfolio, pipeline, when)
                queued.append({"portfolio": portfolio.code, "run": run.pk, "outcome": SKIPPED})
                continue
            run, _ = PipelineRun.objects.get_or_create(
                portfolio=portfolio, pipeline=pipeline, business_date=when
            )
            work = chain_for(portfolio, pipeline, when, force=force, token=new_token())
            # robust: one portfolio's chain failing (eagerly, without a broker) stops no other
            transaction.on_commit(partial(work.apply_async), robust=True)
            queued.append({"portfolio": portfolio.code, "run": run.pk, "outcome": "queued"})
    return queued


def run_inprocess(
    *, portfolio: Portfolio, pipeline: str, day: dt.date, force: bool = False
) -> tuple[PipelineRun, str]:
    """The same chain, run in this process (``chain.apply``: no broker, no worker). Returns the
    run and what its start decided; a failed step leaves the run failed, naming it."""
    work = chain_for(portfolio, pipeline, day, force=force, token=new_token())
    # Celery logs each task it applies at INFO; the run row (and the caller) tell the story.
    trace_logger = logging.getLogger("celery.app.trace")
    level = trace_logger.level
    trace_logger.setLevel(logging.WARNING)
    try:
        outcome = work.apply().get()["outcome"]
    except Exception:  # recorded on the run by StepTask.run_step
        outcome = "failed"
    finally:
        trace_logger.setLevel(level)
    run = PipelineRun.objects.get(portfolio=portfolio, pipeline=pipeline, business_date=day)
    return run, outcome
