"""The soak (issue 13): 60 consecutive business days of the desk's routine through a real Celery
worker and the Redis broker — the price ingest, the pre-open chain, a second person's approvals,
the EOD chain, every day (``soak.py``) — and then the book is exactly what its ledger says, the
NAV is continuous to the cent, every business day has one of each output and one succeeded run
of each pipeline, every approval executed once, and ``manage.py verify`` passes.

The figures (days, chains, tasks, proposals, executions, wall time per day, rows per table) are
printed and written to ``logs/reliability/soak.json`` for docs/RELIABILITY.md.
"""

from __future__ import annotations

import io
import json
import secrets
import statistics
import time
from collections import Counter

import pytest
from celery.signals import task_postrun
from django.apps import apps
from django.core.management import call_command

from briefing.models import MorningPack
from ops.checks import config
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from portfolio.choices import ExecutionSource
from portfolio.models import CashFlow, Execution, NavSnapshot
from portfolio.selectors import ledger_differences
from risk.models import RiskSnapshot
from tests.figures import write_figures
from trades.choices import ProposalStatus
from trades.models import TradeProposal
from trades.tests.fixtures_trades import restore_desk_groups

from . import soak
from .desk import restore_schedules
from .worker_support import BROKER_URL

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The tables whose rows the figures count (app label, model).
COUNTED = [
    ("portfolio", "Price"),
    ("portfolio", "Execution"),
    ("portfolio", "Position"),
    ("portfolio", "PositionSnapshot"),
    ("portfolio", "NavSnapshot"),
    ("portfolio", "CashFlow"),
    ("trades", "Signal"),
    ("trades", "TradeProposal"),
    ("trades", "AuditEvent"),
    ("risk", "RiskSnapshot"),
    ("risk", "Alert"),
    ("attribution", "AttributionResult"),
    ("attribution", "AttributionDay"),
    ("attribution", "SegmentPnl"),
    ("briefing", "MorningPack"),
    ("ops", "PipelineRun"),
]


@pytest.fixture
def soak_settings(settings, tmp_path):
    """The drop folder in the test's tmp dir with no settle time; production settings for the
    final ``verify`` (HTTPS behind a proxy, a real key, the worker's broker)."""
    restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups
    restore_schedules()  # and the beat schedules, which the final verify checks
    settings.PMS_PRICE_DROP_DIR = tmp_path / "incoming"
    settings.PMS_PRICE_DROP_SETTLE_SECONDS = 0
    settings.SECRET_KEY = secrets.token_urlsafe(config.SECRET_KEY_MIN_LENGTH)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = config.HSTS_MIN_SECONDS
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CELERY_BROKER_URL = BROKER_URL
    (tmp_path / "incoming").mkdir()
    return settings


def test_sixty_business_days_through_a_real_worker_keep_the_book_exact(soak_settings, redis_worker):
    # given the soak's desk (no position yet) and its 61 weekdays, one of them a desk holiday
    desk = soak.soak_desk_build(soak_settings.PMS_PRICE_DROP_DIR)
    weekdays = soak.soak_weekdays()
    business = [d for d in weekdays if d != soak.HOLIDAY]
    counter = soak.count_tasks(desk)
    task_postrun.connect(counter, weak=False)
    # when every weekday's routine runs through the worker
    started = time.perf_counter()
    try:
        for day in weekdays:
            soak.soak_day(desk, day, len([d for d in business if d < day]))
    finally:
        task_postrun.disconnect(counter)
    wall = time.perf_counter() - started
    portfolio = desk.portfolio

    # then the stored positions are exactly the ledger's rebuild
    assert ledger_differences(portfolio) == []
    # and the NAV is continuous, exactly: NAV_t = NAV_{t-1} + pnl_t + flow_t from the capital
    navs = list(NavSnapshot.objects.filter(portfolio=portfolio).order_by("date"))
    previous = portfolio.initial_capital
    for snap in navs:
        assert snap.nav == previous + snap.daily_pnl + snap.flow, snap.date
        previous = snap.nav
    assert sum(s.flow for s in navs) == soak.SUBSCRIPTION
    assert CashFlow.objects.get(portfolio=portfolio).date == business[soak.SUBSCRIPTION_DAY]
    # and every business day has exactly one NAV, one risk snapshot and one morning pack
    assert [s.date for s in navs] == [soak.GO_LIVE, *business]
    for model in (RiskSnapshot, MorningPack):
        dates = model.objects.filter(portfolio=portfolio).values_list("date", flat=True)
        assert sorted(dates) == business, model.__name__
    # and one succeeded run of each pipeline per business day, a skipped one on the holiday,
    # each started once and never refused, and no other run
    for pipeline in (Pipeline.EOD, Pipeline.PREOPEN):
        runs = PipelineRun.objects.filter(portfolio=portfolio, pipeline=pipeline)
        assert {r.business_date: r.status for r in runs} == {
            **{d: RunStatus.SUCCEEDED for d in business},
            soak.HOLIDAY: RunStatus.SKIPPED,
        }
        assert runs.count() == len(weekdays)
        assert {(r.attempts, r.refusals) for r in runs if r.business_date != soak.HOLIDAY} == {
            (1, 0)
        }
    # and signals proposed trades on most mornings, each approved one executed exactly once
    proposals = TradeProposal.objects.filter(portfolio=portfolio)
    approved = proposals.filter(status=ProposalStatus.APPROVED)
    assert sorted(approved.values_list("pk", flat=True)) == sorted(desk.approved)
    days_with_trades = approved.values("date").distinct().count()
    assert days_with_trades >= len(business) // 2, days_with_trades
    executions = Execution.objects.filter(portfolio=portfolio)
    assert executions.count() == executions.filter(source=ExecutionSource.PROPOSAL).count()
    assert executions.count() == approved.count() == len(set(desk.approved))
    assert not approved.filter(execution__isnull=True).exists()
    linked = list(approved.values_list("execution_id", flat=True))
    assert sorted(linked) == sorted(executions.values_list("pk", flat=True))
    for proposal in approved.select_related("execution"):
        assert proposal.execution.quantity == proposal.signed_quantity
        assert proposal.execution.trade_date == proposal.date
    # and the proposals left pending were expired by the next pre-open, and nothing else was
    expired = proposals.filter(status=ProposalStatus.EXPIRED)
    assert sorted(expired.values_list("pk", flat=True)) == sorted(desk.left_pending.values())
    assert len(desk.left_pending) >= 3
    assert not proposals.filter(status__in=[ProposalStatus.PENDING, ProposalStatus.REJECTED])
    # and the system's own checks pass
    results = verify()
    assert [r for r in results if not r["ok"]] == []

    figures = soak_figures(desk, business, wall, results)
    write_figures("soak", figures, hidden=("days",))
    assert figures["chains_succeeded"] == 2 * len(business) == 2 * soak.BUSINESS_DAYS


def verify() -> list[dict]:
    """``manage.py verify --json``: it raises CommandError (exit 1) when a check fails."""
    out = io.StringIO()
    call_command("verify", "--json", stdout=out)
    return json.loads(out.getvalue())


def run_seconds(runs, pipeline: str) -> dict:
    """Per succeeded run: begin to finish, and the sum of its steps' own times (the rest is
    the hops between the chain's tasks through the broker)."""
    done = list(runs.filter(pipeline=pipeline, status=RunStatus.SUCCEEDED))
    spans = [(r.finished_at - r.started_at).total_seconds() for r in done]
    steps = [sum(s["seconds"] for s in r.steps.values()) for r in done]
    return {
        "run_mean_s": round(statistics.mean(spans), 3),
        "steps_mean_s": round(statistics.mean(steps), 3),
    }


def soak_figures(desk: soak.SoakDesk, business: list, wall: float, results: list[dict]) -> dict:
    portfolio = desk.portfolio
    per_day = [t["total_s"] for t in desk.timings if t["business_day"]]
    runs = PipelineRun.objects.filter(portfolio=portfolio)
    navs = NavSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    proposals = TradeProposal.objects.filter(portfolio=portfolio)

    def phase(name: str) -> dict:
        values = [t[f"{name}_s"] for t in desk.timings if t["business_day"]]
        return {"mean_s": round(statistics.mean(values), 3), "max_s": round(max(values), 3)}

    return {
        "seed": soak.SEED,
        "calendar": soak.CALENDAR,
        "first_day": business[0].isoformat(),
        "last_day": business[-1].isoformat(),
        "weekdays": len(desk.timings),
        "business_days": len(business),
        "holidays_skipped": [soak.HOLIDAY.isoformat()],
        "chains_succeeded": runs.filter(status=RunStatus.SUCCEEDED).count(),
        "chains_skipped": runs.filter(status=RunStatus.SKIPPED).count(),
        "chains_failed": runs.filter(status=RunStatus.FAILED).count(),
        "tasks_run_by_worker": dict(sorted(desk.tasks_run.items())),
        "price_files_ingested": len(list((desk.folder / "processed").iterdir())),
        "proposals": dict(
            Counter(proposals.values_list("status", flat=True)), total=proposals.count()
        ),
        "approvals_over_hard_limit": desk.overrides,
        "days_with_approvals": proposals.filter(status=ProposalStatus.APPROVED)
        .values("date")
        .distinct()
        .count(),
        "executions": Execution.objects.filter(portfolio=portfolio).count(),
        "nav_first": str(navs.first().nav),
        "nav_last": str(navs.last().nav),
        "verify": {
            "checks": len(results),
            "passed": sum(r["ok"] for r in results),
            "not_passed": sum(not r["ok"] for r in results),
        },
        "ledger_differences": 0,
        "wall_s": round(wall, 2),
        "per_business_day_s": {
            "mean": round(statistics.mean(per_day), 3),
            "median": round(statistics.median(per_day), 3),
            "p95": round(sorted(per_day)[int(0.95 * (len(per_day) - 1))], 3),
            "max": round(max(per_day), 3),
        },
        "per_phase_s": {name: phase(name) for name in ("preopen", "approve", "ingest", "eod")},
        "runs_s": {pipeline: run_seconds(runs, pipeline) for pipeline in Pipeline.values},
        "days": [
            {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()}
            for t in desk.timings
        ],
        "rows": {
            f"{label}.{name}": apps.get_model(label, name).objects.count()
            for label, name in COUNTED
        },
    }
