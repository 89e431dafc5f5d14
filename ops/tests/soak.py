"""The soak's desk and its days: 60 business days of the desk's routine, each step sent through
the Redis broker to a real worker, as beat and the desk's people would (``test_soak.py``).

The market is the trades tests' (``fixtures_trades``: UP, DOWN, FGBL, EURUSD, 300 weekdays of
closes to Fri 2024-03-08, strategies TREND and MR); from Mon 2024-03-11 each weekday's closes
follow a seeded random walk, so the signals move and propose trades most mornings. The portfolio
``SOAK`` (flat, marked once on Friday: its go-live) keeps the US holiday calendar: Memorial Day
(Mon 2024-05-27) is not one of its business days, while the instruments' markets (weekdays) are
open and send their closes.

One business day D (``soak_day``), in the order of the schedule's slots:

1. (09:00) the closes of D dropped into the price folder as a CSV file and imported by the
   ingest task — in the soak's compressed day they arrive first, as the approvals need them: an
   approval that reduces a foreign-currency position realizes P&L at the FX close of its trade
   date, which must exist (see the report of issue 13);
2. (09:30) the pre-open chain of D (beat's ``preopen_dispatch_task``): expire → signals →
   proposals → pack → warm;
3. a second person (the approver, not the proposals' creator — the pipeline, here) approves the
   pending proposals of D, through the trades service; on every tenth day one is left pending,
   for the next pre-open to expire;
4. (21:00) the EOD chain of D (beat's ``eod_dispatch_task``): MTM → risk → attribution → warm.

On the holiday, the closes still arrive and both dispatches record a skipped run. A
subscription is booked at the start of the 30th business day, so NAV continuity carries a flow.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ops import tasks
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from pms_project.errors import PMSError
from portfolio import services as portfolio_services
from portfolio.models import Portfolio
from portfolio.tasks import ingest_prices
from portfolio.tests.factories import PortfolioFactory, UserFactory
from trades import services as trades_services
from trades.choices import ProposalStatus
from trades.models import TradeProposal
from trades.tests.fixtures_trades import LAST, N_DAYS, SPECS, build_trades_market, planted_close

CODE = "SOAK"
CALENDAR = "holidays:US"
GO_LIVE = LAST  # Fri 2024-03-08, the market's last planted close: the flat book's first mark
START = dt.date(2024, 3, 11)  # the Monday after it
BUSINESS_DAYS = 60
HOLIDAY = dt.date(2024, 5, 27)  # Memorial Day: the desk is closed, its markets are not
SEED = 20240311
# symbol: (daily drift, daily volatility) of the random walk
WALK = {
    "UP": (0.0005, 0.012),
    "DOWN": (-0.0005, 0.015),
    "FGBL": (0.0, 0.004),
    "EURUSD": (0.0, 0.003),
}
SUBSCRIPTION_DAY = 30  # index of the business day whose start brings a subscription
SUBSCRIPTION = Decimal("250000")
LEAVE_PENDING_EVERY = 10  # every tenth business day one proposal is left for the expiry
TERMINAL = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED)


def soak_weekdays() -> list[dt.date]:
    """The weekdays from START until BUSINESS_DAYS of them are business days of the desk."""
    days, day, business = [], START, 0
    while business < BUSINESS_DAYS:
        if day.weekday() < 5:
            days.append(day)
            business += day != HOLIDAY
        day += dt.timedelta(days=1)
    return days


def random_walk(days: list[dt.date], seed: int = SEED) -> dict[dt.date, dict[str, Decimal]]:
    """Each weekday's closes (4 decimals), walking on from the planted history's last close."""
    rng = random.Random(seed)
    level = {s: float(planted_close(s, N_DAYS - 1)) for s in SPECS}
    closes = {}
    for day in days:
        for symbol, (drift, vol) in WALK.items():
            level[symbol] *= math.exp(rng.gauss(drift, vol))
        closes[day] = {s: Decimal(f"{level[s]:.4f}") for s in SPECS}
    return closes


@dataclass
class SoakDesk:
    portfolio: Portfolio
    approver: object
    folder: Path
    closes: dict[dt.date, dict[str, Decimal]]
    timings: list[dict] = field(default_factory=list)
    approved: list[int] = field(default_factory=list)
    left_pending: dict[dt.date, int] = field(default_factory=dict)
    overrides: int = 0
    tasks_run: Counter = field(default_factory=Counter)


def soak_desk_build(folder: Path) -> SoakDesk:
    portfolio = PortfolioFactory(code=CODE, calendar=CALENDAR)
    build_trades_market(portfolio)
    # The go-live mark: the first pre-open's pack reads the previous close's NAV, and refuses
    # to run on a portfolio never marked.
    portfolio_services.mark_to_market(portfolio=portfolio, business_date=GO_LIVE)
    approver = UserFactory(username="soak-approver", groups=["approver"])
    return SoakDesk(portfolio, approver, folder, random_walk(soak_weekdays()))


def count_tasks(desk: SoakDesk):
    """A task_postrun receiver counting the tasks the worker ran, by name (connect it weakly
    off: the caller disconnects it)."""

    def counted(sender=None, **kwargs):
        desk.tasks_run[sender.name] += 1

    return counted


# --- Waiting on the worker ----------------------------------------------------------------------


def wait_run(portfolio: Portfolio, pipeline: str, day: dt.date, timeout: float = 120.0):
    """The run of ``pipeline`` for ``day`` once it has finished (succeeded, failed, skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = PipelineRun.objects.filter(
            portfolio=portfolio, pipeline=pipeline, business_date=day
        ).first()
        if run is not None and run.status in TERMINAL:
            return run
        time.sleep(0.02)
    raise AssertionError(f"{pipeline} of {day}: not finished in {timeout} s ({run!r})")


def wait_ingested(folder: Path, name: str, timeout: float = 60.0) -> Path:
    """The processed copy of the dropped file ``name`` once the ingest has moved it there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (folder / "processed").glob(f"*-{name}"):
            return path
        rejected = list((folder / "rejected").glob(f"*-{name}.reason.txt"))
        if rejected:
            raise AssertionError(rejected[0].read_text())
        time.sleep(0.02)
    raise AssertionError(f"{name}: not ingested in {timeout} s")


# --- One day --------------------------------------------------------------------------------------


def drop_closes(desk: SoakDesk, day: dt.date) -> str:
    """Write the closes of ``day`` as a writer would: a ``.part`` file renamed when complete."""
    name = f"closes-{day:%Y%m%d}.csv"
    rows = "".join(f"{day.isoformat()},{s},{c}\n" for s, c in desk.closes[day].items())
    part = desk.folder / f"{name}.part"
    part.write_text("date,symbol,close\n" + rows, encoding="utf-8")
    part.rename(desk.folder / name)
    return name


def ingest(desk: SoakDesk, day: dt.date) -> None:
    name = drop_closes(desk, day)
    ingest_prices.delay()
    wait_ingested(desk.folder, name)


def approve_pending(desk: SoakDesk, day: dt.date, *, leave_one: bool) -> int:
    """The approver decides the pending proposals of ``day`` (one left pending when asked);
    a hard-limit breach is approved with an audited override reason. Returns how many."""
    pending = list(
        TradeProposal.objects.filter(
            portfolio=desk.portfolio, date=day, status=ProposalStatus.PENDING
        ).order_by("pk")
    )
    if leave_one and len(pending) > 1:
        desk.left_pending[day] = pending.pop().pk
    for proposal in pending:
        assert proposal.created_by_id != desk.approver.pk  # four-eyes
        try:
            trades_services.proposal_approve(
                proposal_id=proposal.pk, user=desk.approver, note="soak: approved as proposed"
            )
        except PMSError as exc:
            if exc.field != "override_reason":
                raise
            desk.overrides += 1
            trades_services.proposal_approve(
                proposal_id=proposal.pk,
                user=desk.approver,
                note="soak: approved over a hard limit",
                override_reason="soak: the desk accepts the breach",
            )
        desk.approved.append(proposal.pk)
    return len(pending)


def soak_day(desk: SoakDesk, day: dt.date, index: int) -> dict:
    """Run one weekday of the routine (see the module's docstring); its timings."""
    business = day != HOLIDAY
    expected = RunStatus.SUCCEEDED if business else RunStatus.SKIPPED
    timing = {"date": day.isoformat(), "business_day": business}
    started = time.perf_counter()
    if business and index == SUBSCRIPTION_DAY:
        portfolio_services.cash_flow_record(
            portfolio=desk.portfolio, date=day, amount=SUBSCRIPTION, note="soak subscription"
        )
    mark = time.perf_counter()
    ingest(desk, day)
    timing["ingest_s"], mark = time.perf_counter() - mark, time.perf_counter()
    tasks.preopen_dispatch_task.delay(day=day.isoformat())
    run = wait_run(desk.portfolio, Pipeline.PREOPEN, day)
    assert run.status == expected, f"pre-open of {day}: {run.status} {run.error}"
    timing["preopen_s"], mark = time.perf_counter() - mark, time.perf_counter()
    # (not on the last day: no pre-open follows to expire it)
    leave_one = index % LEAVE_PENDING_EVERY == LEAVE_PENDING_EVERY - 1 and index < BUSINESS_DAYS - 1
    timing["approved"] = approve_pending(desk, day, leave_one=leave_one) if business else 0
    timing["approve_s"], mark = time.perf_counter() - mark, time.perf_counter()
    tasks.eod_dispatch_task.delay(day=day.isoformat())
    run = wait_run(desk.portfolio, Pipeline.EOD, day)
    assert run.status == expected, f"EOD of {day}: {run.status} {run.error}"
    timing["eod_s"] = time.perf_counter() - mark
    timing["total_s"] = time.perf_counter() - started
    desk.timings.append(timing)
    return timing
