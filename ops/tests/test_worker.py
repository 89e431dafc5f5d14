"""The pipelines on real connections: through a real Celery worker and the Redis broker, and
two starts racing on two database connections.

Transactional tests (the worker's thread and the racing threads have their own database
connections, so the data must be committed): the desk is built in each, and the database is
flushed after it. The worker is Celery's embedded test worker (a thread of this process, solo
pool) consuming the Redis database after the suite's cache database, with the app reconfigured
for the test only: the suite otherwise runs tasks eagerly (``CELERY_BROKER_URL=``)."""

from __future__ import annotations

import threading
import time

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.conf import settings
from django.db import connection, transaction

from briefing.models import MorningPack
from ops import pipelines, tasks
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from pms_project.celery import app
from pms_project.settings import _next_redis_database
from portfolio.models import NavSnapshot
from risk.models import RiskSnapshot
from tests.concurrency import run_concurrently
from trades.choices import ProposalStatus
from trades.models import TradeProposal
from trades.tests.fixtures_trades import restore_desk_groups

from .desk import FRI, NEXT_MON, desk_build

# The broker's own database, as production derives it: the one after the suite's cache database
# (REDIS_URL), so two suites run side by side on their own cache databases never share a queue.
BROKER_URL = _next_redis_database(settings.REDIS_URL)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _groups():
    restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups


@pytest.fixture
def redis_worker():
    """A worker consuming the Redis broker, for one test; the app eager again afterwards."""
    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=BROKER_URL, task_always_eager=False)
    reset_connection_pools()  # an earlier test's pools point at the old (default) broker
    app.control.purge()  # nothing left over from an earlier run in our broker database

    def close_connection(**kwargs):
        # The worker thread's connection would outlive the test and block the database's drop.
        if threading.current_thread() is not threading.main_thread():
            connection.close()

    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield
    finally:
        task_postrun.disconnect(close_connection)
        app.conf.update(saved)
        reset_connection_pools()


def reset_connection_pools() -> None:
    """Drop the app's broker connection and producer pools (made lazily with the broker URL of
    their time, e.g. by an eager ``delay()`` of an earlier test), as Celery does after a fork.
    They live in kombu's registries, keyed by the broker URL: closed but left there, a later
    test on the same URL would get the closed pool ("Acquire on closed pool"), so the registries
    are emptied too."""
    kombu.pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def wait_for(pipeline: str, count: int, timeout: float = 90.0) -> list[PipelineRun]:
    """The ``count`` runs of ``pipeline`` once they have all finished (succeeded or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(PipelineRun.objects.filter(pipeline=pipeline).select_related("portfolio"))
        done = [r for r in runs if r.status in (RunStatus.SUCCEEDED, RunStatus.FAILED)]
        if len(done) == count:
            return done
        time.sleep(0.2)
    raise AssertionError(f"{pipeline}: {count} run(s) not finished in {timeout} s: {runs}")


def test_both_chains_run_through_a_real_worker_and_the_redis_broker(redis_worker):
    # given two portfolios marked to Thursday
    books = [desk_build("MACRO1"), desk_build("MACRO2")]
    # when beat's EOD dispatcher is sent through the broker (as the schedule does)
    tasks.eod_dispatch_task.delay(day=FRI.isoformat())
    # then the worker ran it, and it queued one chain per portfolio, which the worker ran
    eod = wait_for(Pipeline.EOD, 2)
    assert {r.portfolio.code: r.status for r in eod} == {
        "MACRO1": RunStatus.SUCCEEDED,
        "MACRO2": RunStatus.SUCCEEDED,
    }, [r.error for r in eod]
    for portfolio in books:
        assert NavSnapshot.objects.filter(portfolio=portfolio, date=FRI).exists()
        assert RiskSnapshot.objects.filter(portfolio=portfolio, date=FRI).exists()
    # when the pre-open of Monday follows
    tasks.preopen_dispatch_task.delay(day=NEXT_MON.isoformat())
    pre = wait_for(Pipeline.PREOPEN, 2)
    assert {r.status for r in pre} == {RunStatus.SUCCEEDED}, [r.error for r in pre]
    for run in pre:
        assert set(run.steps) == {s.name for s in pipelines.STEPS[Pipeline.PREOPEN]}
        assert run.steps["expire_proposals"]["result"] == {"expired": 1}
        pack = MorningPack.objects.get(portfolio=run.portfolio, date=NEXT_MON)
        assert pack.as_of == FRI
        pending = TradeProposal.objects.filter(
            portfolio=run.portfolio, status=ProposalStatus.PENDING
        )
        assert pending.count() == run.steps["proposals"]["result"]["created"] > 0
    # and a second dispatch of a succeeded date is a no-op (recorded by the worker too)
    tasks.eod_dispatch_task.delay(day=FRI.isoformat())
    time.sleep(1)
    again = wait_for(Pipeline.EOD, 2)
    assert [(r.pk, r.attempts, r.finished_at) for r in again] == [
        (r.pk, r.attempts, r.finished_at) for r in eod
    ]


def test_two_simultaneous_runs_one_runs_one_is_refused():
    portfolio = desk_build()

    def eod():
        return pipelines.run_inprocess(portfolio=portfolio, pipeline=Pipeline.EOD, day=FRI)[1]

    # when two EOD runs of Friday start at the same instant on two connections
    outcomes = run_concurrently(eod, eod)
    # then one ran the steps and the other was refused at once, the refusal on the row
    assert sorted(outcomes) == [pipelines.REFUSED, pipelines.STARTED], outcomes
    run = PipelineRun.objects.get(portfolio=portfolio, pipeline=Pipeline.EOD, business_date=FRI)
    assert run.status == RunStatus.SUCCEEDED and run.attempts == 1 and run.refusals == 1
    assert NavSnapshot.objects.filter(portfolio=portfolio, date=FRI).count() == 1


def test_a_start_meeting_the_row_locked_is_refused_not_queued_behind():
    """NOWAIT: a start that meets the run's row locked by another start is refused at once."""
    portfolio = desk_build()
    row = PipelineRun.objects.create(portfolio=portfolio, pipeline=Pipeline.EOD, business_date=FRI)
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            PipelineRun.objects.select_for_update().get(pk=row.pk)
            locked.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        ticket = pipelines.run_begin(
            portfolio=portfolio, pipeline=Pipeline.EOD, day=FRI, token="b" * 32
        )
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    # then refused at once: it waited at most the second it gives counting the refusal,
    # not the ten seconds the other start held the row (its refusal is logged, not counted)
    assert ticket["outcome"] == pipelines.REFUSED and waited < 2.0
    row.refresh_from_db()
    assert row.status == RunStatus.PENDING and row.refusals == 0 and row.attempts == 0
