"""The pipelines under faults, with real processes (issue 13): a Celery worker (prefork, one pool
child) in a subprocess, a private redis-server as its broker (append-only, fsync always), two
beats, and the test database's PostgreSQL backends terminated. See ``process_worker.py`` for the
processes and the pause points that make a step observable.

Each case checks what a fault must not do: run a chain twice, count a day twice (one NAV, risk
snapshot and morning pack per day, proposals not duplicated), leave half a step written. The
final data is compared with a clean run's: the same chain re-run in process, forced, over it
(the services replace a day's rows, so a clean run writes exactly what a correct run left).

Transactional tests (the worker has its own connections): the desk is built in each test and
the database flushed after it. The worker, its broker and the fault directory last the module;
a test that kills the whole worker starts it again.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

from attribution.models import AttributionDay, SegmentPnl
from briefing.models import MorningPack
from ops import pipelines, tasks
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from pms_project.celery import app
from portfolio.models import NavSnapshot, Position, PositionSnapshot
from risk.models import RiskSnapshot
from tests.figures import write_figures
from tests.redis_server import RedisServer
from trades.choices import ProposalStatus
from trades.models import TradeProposal
from trades.tests.fixtures_trades import restore_desk_groups

from .desk import FRI, NEXT_MON, day_rows, desk_build, restore_schedules
from .process_worker import Beat, Faults, Worker, process_kill, wait_until
from .worker_support import reset_connection_pools

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

APPNAME = "pms-fault-worker"  # the worker's PostgreSQL backends, to terminate
VISIBILITY = 3  # seconds before Redis redelivers a message taken by a worker that died
DAYS = {Pipeline.EOD: FRI, Pipeline.PREOPEN: NEXT_MON}
CASES = [(pipeline, step.name) for pipeline in DAYS for step in pipelines.STEPS[pipeline]]
# Figures for docs/RELIABILITY.md, printed at the module's end (pytest -s): kills, redeliveries
# (a task started again: requeued, redelivered or retried) and seconds from a fault to the run
# finished, per kind of fault.
STATS: dict = {"kills": 0, "redeliveries": 0, "recovery_s": {}}


def recovered(kind: str, since: float) -> None:
    STATS["recovery_s"].setdefault(kind, []).append(round(time.monotonic() - since, 1))


class Rig:
    def __init__(self, folder, broker, worker):
        self.folder, self.broker, self.worker = folder, broker, worker
        self.faults = Faults(folder)


@pytest.fixture(scope="module")
def rig(django_db_setup, tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults")
    broker = RedisServer(persist_in=folder)  # keeps its queues across a SIGKILL
    broker.start()
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL or "",
        "CELERY_BROKER_URL": broker.url,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "PGAPPNAME": APPNAME,
        "PMS_FAULT_DIR": str(folder),
    }
    worker = Worker(folder, env)
    worker.start()
    try:
        yield Rig(folder, broker, worker)
    finally:
        worker.stop()
        broker.kill()
        write_figures("faults", STATS)


@pytest.fixture
def faults(rig):
    """The rig for one test: the worker up, the app sending to its broker, nothing left over."""
    restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups
    if not rig.worker.alive():
        rig.worker.start()
    rig.faults.reset()
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=rig.broker.url, task_always_eager=False)
    reset_connection_pools()
    try:
        yield rig
    finally:
        rig.faults.release_all()
        app.conf.update(saved)
        reset_connection_pools()


def start(portfolio, pipeline: str) -> None:
    pipelines.chain_for(portfolio, pipeline, DAYS[pipeline], token=pipelines.new_token()).delay()


def finished(portfolio, pipeline: str, timeout: float = 60) -> PipelineRun:
    def done():
        run = PipelineRun.objects.filter(
            portfolio=portfolio, pipeline=pipeline, business_date=DAYS[pipeline]
        ).first()
        return run if run and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None

    return wait_until(done, timeout, f"the {pipeline} run finished")


def prepared(pipeline: str):
    """A desk ready for ``pipeline``: the pre-open of Monday follows Friday's EOD (in process)."""
    portfolio = desk_build()
    if pipeline == Pipeline.PREOPEN:
        run, _ = pipelines.run_inprocess(portfolio=portfolio, pipeline=Pipeline.EOD, day=FRI)
        assert run.status == RunStatus.SUCCEEDED, run.error
    return portfolio


def paused_in(rig, pipeline: str, point: str):
    """A prepared desk whose chain, started on the worker, waits at ``point``: the desk and the
    process id of the pool child holding it."""
    portfolio = prepared(pipeline)
    rig.faults.arm(point)
    start(portfolio, pipeline)
    return portfolio, rig.faults.paused(point)


def assert_ran_once(run: PipelineRun, pipeline: str, *, again: set[str] = frozenset()) -> None:
    """Succeeded by its first start, every step recorded once and succeeded; the steps in
    ``again`` ran a second attempt (redelivered), the others one."""
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 1 and run.refusals == 0 and run.failures == {}
    assert set(run.steps) == {s.name for s in pipelines.STEPS[pipeline]}
    for name, record in run.steps.items():
        assert record["status"] == "succeeded", (name, record)
        assert record["attempt"] == (2 if name in again else 1), (name, record)


def assert_counted_once(portfolio, pipeline: str) -> dict:
    """One NAV, one risk snapshot, one morning pack per day; a snapshot per position; no
    duplicated proposal. The day's rows, for the comparison with a clean run."""
    day = DAYS[pipeline]
    assert NavSnapshot.objects.filter(portfolio=portfolio, date=FRI).count() == 1
    assert RiskSnapshot.objects.filter(portfolio=portfolio, date=FRI).count() == 1
    positions = Position.objects.filter(portfolio=portfolio)
    snapshots = PositionSnapshot.objects.filter(position__portfolio=portfolio, date=FRI)
    assert snapshots.count() == positions.count() == 2
    assert {(s.position_id, s.quantity) for s in snapshots} == {
        (p.pk, p.quantity) for p in positions
    }
    if pipeline == Pipeline.PREOPEN:
        assert MorningPack.objects.filter(portfolio=portfolio, date=day).count() == 1
        pending = TradeProposal.objects.filter(portfolio=portfolio, status=ProposalStatus.PENDING)
        keys = list(pending.values_list("instrument_id", "side", "strategy_id", "date"))
        assert len(keys) == len(set(keys)) > 0
    return day_rows(portfolio, day)


def assert_equals_clean_run(portfolio, pipeline: str, rows: dict) -> None:
    clean, outcome = pipelines.run_inprocess(
        portfolio=portfolio, pipeline=pipeline, day=DAYS[pipeline], force=True
    )
    assert outcome == pipelines.STARTED and clean.status == RunStatus.SUCCEEDED, clean.error
    assert day_rows(portfolio, DAYS[pipeline]) == rows


def redelivered(rig) -> int:
    return sum(count - 1 for count in rig.faults.executions().values() if count > 1)


# --- 1. A worker killed in each step ------------------------------------------------------------


@pytest.mark.parametrize(("pipeline", "step"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_the_pool_child_killed_in_each_step_the_chain_completes_once(faults, pipeline, step):
    # given the step's service has committed its rows and the step is not yet recorded done
    portfolio, pid = paused_in(faults, pipeline, f"step:{step}:after")
    assert pid in faults.worker.children()
    # when the pool child running it is killed
    assert process_kill(pid)
    STATS["kills"] += 1
    killed = time.monotonic()
    # then the worker requeues it (acks late, rejected on worker lost), a new child runs it again
    run = finished(portfolio, pipeline)
    recovered("pool child", killed)
    assert_ran_once(run, pipeline, again={step})
    executions = faults.faults.executions()
    task = next(s.task for s in pipelines.STEPS[pipeline] if s.name == step)
    assert executions[task] == 2
    assert all(n == 1 for name, n in executions.items() if name != task), executions
    STATS["redeliveries"] += redelivered(faults)
    # and no day is counted twice: the data is a clean run's
    assert_equals_clean_run(portfolio, pipeline, assert_counted_once(portfolio, pipeline))


def test_the_whole_worker_killed_a_new_worker_finishes_the_chain(faults):
    pipeline, step = Pipeline.EOD, "risk_snapshot"
    portfolio, _ = paused_in(faults, pipeline, f"step:{step}:before")
    # when the worker dies whole (main process and pool child: nothing requeues the message)
    STATS["kills"] += faults.worker.kill()
    # then a new worker gets the unacknowledged message once the visibility timeout has passed
    began = time.monotonic()
    faults.worker.start()
    run = finished(portfolio, pipeline, timeout=60)
    assert time.monotonic() - began < 45
    recovered("whole worker", began)
    assert_ran_once(run, pipeline, again={step})
    STATS["redeliveries"] += redelivered(faults)
    assert_equals_clean_run(portfolio, pipeline, assert_counted_once(portfolio, pipeline))


# --- 2. The broker restarted mid-chain ----------------------------------------------------------


def test_the_broker_restarted_between_two_steps_the_chain_finishes(faults):
    point = "step:mark_to_market:after"
    portfolio, _ = paused_in(faults, Pipeline.EOD, point)
    # when the broker is killed (SIGKILL) and started again with its append-only file
    faults.broker.kill()
    STATS["kills"] += 1
    killed = time.monotonic()
    faults.broker.start()
    faults.faults.release(point)
    # then the worker reconnects and the chain finishes, each step once in the run's record
    run = finished(portfolio, Pipeline.EOD, timeout=60)
    recovered("broker restart", killed)
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1, run.error
    assert set(run.steps) == {s.name for s in pipelines.STEPS[Pipeline.EOD]}
    assert all(r["status"] == "succeeded" for r in run.steps.values())
    # (its message, unacknowledged across the restart, may come back once: it changes nothing)
    time.sleep(VISIBILITY + 2)
    STATS["broker_restart_redeliveries"] = redelivered(faults)
    STATS["redeliveries"] += redelivered(faults)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1
    assert_equals_clean_run(portfolio, Pipeline.EOD, assert_counted_once(portfolio, Pipeline.EOD))


# --- 3. Two beats ---------------------------------------------------------------------------------


def test_two_beats_on_one_schedule_make_one_run_per_date(faults):
    portfolio = desk_build()
    # given the desk's schedules, the EOD one due every 2 s for Friday, the others disabled
    restore_schedules()
    every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.exclude(name="eod-pipeline").update(enabled=False)
    PeriodicTask.objects.filter(name="eod-pipeline").update(
        crontab=None, interval=every, kwargs=json.dumps({"day": FRI.isoformat()})
    )
    PeriodicTasks.update_changed()
    beats = [Beat(faults.folder, faults.worker.env, f"beat{n}") for n in (1, 2)]
    try:
        for beat in beats:
            beat.start()
        # when both send it, twice each at least
        wait_until(lambda: all(b.sent() >= 2 for b in beats), 40, "two sends from each beat")
    finally:
        for beat in beats:
            beat.stop()
    sent = sum(b.sent() for b in beats)
    wait_until(
        lambda: faults.faults.executions().get("ops.tasks.eod_dispatch_task", 0) == sent,
        30,
        "every dispatch run",
    )
    # then Friday ran once: one start, the later dispatches no-ops or refusals counted on the row
    run = finished(portfolio, Pipeline.EOD)
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1, run.error
    assert PipelineRun.objects.count() == 1
    assert faults.faults.executions()["portfolio.tasks.mark_to_market_task"] == sent
    STATS["beat_dispatches"], STATS["beat_refusals"] = sent, run.refusals
    assert_counted_once(portfolio, Pipeline.EOD)


# --- 4. A task queued in a transaction rolled back ------------------------------------------------


def test_a_task_queued_in_a_rolled_back_transaction_never_runs(faults):
    portfolio = desk_build()
    queue = faults.broker.client(timeout=2)
    # when the dispatcher and a chain are queued on commit in a transaction that rolls back
    with pytest.raises(RuntimeError), transaction.atomic():
        tasks.eod_dispatch_task.delay_on_commit(day=FRI.isoformat())
        pipelines.dispatch(pipeline=Pipeline.EOD, day=FRI)
        raise RuntimeError("rolled back")
    time.sleep(2)
    # then nothing reached the broker and the worker ran nothing
    assert queue.llen("celery") == 0 and faults.faults.executions() == {}
    assert not PipelineRun.objects.exists()
    # while the same dispatch committed runs (the worker was listening)
    with transaction.atomic():
        pipelines.dispatch(pipeline=Pipeline.EOD, day=FRI)
    assert finished(portfolio, Pipeline.EOD).status == RunStatus.SUCCEEDED


# --- 5. PostgreSQL connections killed during the EOD ---------------------------------------------


def terminate_worker_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [APPNAME],
        )
        return cursor.fetchone()[0]


def test_the_database_connection_killed_in_mark_to_market_the_step_retries(faults):
    point = "step:mark_to_market:before"
    portfolio, _ = paused_in(faults, Pipeline.EOD, point)
    # when the worker's backend is terminated before the service's first query
    assert terminate_worker_backends() >= 1
    killed = time.monotonic()
    faults.faults.release(point)
    # then the step's transient-error retry runs it again on a new connection, and it finishes
    run = finished(portfolio, Pipeline.EOD)
    recovered("database connection", killed)
    assert_ran_once(run, Pipeline.EOD, again={"mark_to_market"})
    STATS["redeliveries"] += redelivered(faults)
    rows = assert_counted_once(portfolio, Pipeline.EOD)
    assert_equals_clean_run(portfolio, Pipeline.EOD, rows)


def test_the_database_connection_killed_inside_attribution_writes_nothing_half(faults):
    portfolio = prepared(Pipeline.EOD)
    inside = 'sql:INSERT INTO "attribution_attributionday"'
    retry = "step:attribution:before"
    before = (SegmentPnl.objects.count(), AttributionDay.objects.count())
    faults.faults.arm(inside)
    start(portfolio, Pipeline.EOD)
    # given the step inside its transaction, the day's segment totals copied, not committed
    faults.faults.paused(inside)
    faults.faults.arm(retry)
    # when the worker's backend is terminated there
    assert terminate_worker_backends() >= 1
    faults.faults.release(inside)
    # then the transaction is gone whole: at the retry, nothing of the first attempt is stored
    faults.faults.paused(retry)
    assert (SegmentPnl.objects.count(), AttributionDay.objects.count()) == before
    run = PipelineRun.objects.get(portfolio=portfolio, pipeline=Pipeline.EOD)
    assert run.status == RunStatus.RUNNING and run.steps["attribution"]["attempt"] == 2
    faults.faults.release(retry)
    run = finished(portfolio, Pipeline.EOD)
    assert_ran_once(run, Pipeline.EOD, again={"attribution"})
    assert AttributionDay.objects.filter(portfolio=portfolio).count() > 0
    STATS["redeliveries"] += redelivered(faults)
    assert_equals_clean_run(portfolio, Pipeline.EOD, assert_counted_once(portfolio, Pipeline.EOD))
