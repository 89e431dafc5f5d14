"""Data integrity, per portfolio: what the stored book says agrees with itself.

Each check covers every portfolio and names the ones that fail; a desk without portfolios passes
(nothing to contradict). The reads are a fixed number of queries per portfolio.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from attribution.models import AttributionResult
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from portfolio import calendars, selectors
from portfolio.choices import PositionStatus
from portfolio.models import CashFlow, NavSnapshot, Portfolio, Position, PositionSnapshot
from risk.models import RiskSnapshot

from .base import check

GROUP = "integrity"
CENT = Decimal("0.01")
# Names shown per failing portfolio, and portfolios named in a failure.
SHOWN = 3


def _per_portfolio(problems_of) -> tuple[bool, str]:
    """Run ``problems_of(portfolio) -> list[str]`` on every portfolio; one line naming the
    failing ones and their first problems."""
    portfolios = list(Portfolio.objects.order_by("code"))
    if not portfolios:
        return True, "no portfolio"
    failing = []
    for portfolio in portfolios:
        problems = problems_of(portfolio)
        if problems:
            more = f" (+{len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
            failing.append(f"{portfolio.code}: {'; '.join(problems[:SHOWN])}{more}")
    if failing:
        return False, " | ".join(failing[:SHOWN])
    return True, f"{len(portfolios)} portfolio(s) consistent"


def _last_marked(portfolio: Portfolio) -> dt.date | None:
    return (
        NavSnapshot.objects.filter(portfolio=portfolio)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )


@check("positions_match_ledger", GROUP)
def positions_match_ledger() -> tuple[bool, str]:
    """Every stored position equals the replay of its executions (quantity, average cost,
    realized P&L): a position written around the services shows here."""
    return _per_portfolio(selectors.ledger_differences)


def _nav_problems(portfolio: Portfolio) -> list[str]:
    rows = NavSnapshot.objects.filter(portfolio=portfolio).order_by("date")
    previous, problems, flows, last = portfolio.initial_capital, [], Decimal(0), None
    for day, nav, pnl, flow in rows.values_list("date", "nav", "daily_pnl", "flow"):
        gap = nav - (previous + pnl + flow)
        if abs(gap) > CENT:
            problems.append(f"{day}: NAV {nav} ≠ {previous} + {pnl} + {flow} (off {gap})")
        previous, flows, last = nav, flows + flow, day
    if last is not None:
        booked = CashFlow.objects.filter(portfolio=portfolio, date__lte=last).aggregate(
            s=Sum("amount")
        )["s"] or Decimal(0)
        if abs(booked - flows) > CENT:
            problems.append(f"snapshot flows {flows} ≠ cash flows booked {booked} to {last}")
    return problems


@check("nav_continuity", GROUP)
def nav_continuity() -> tuple[bool, str]:
    """NAV_t = NAV_{t−1} + P&L_t + flow_t within a cent (from the initial capital), and the
    snapshots' flows add up to the cash flows booked."""
    return _per_portfolio(_nav_problems)


def _unmarked(portfolio: Portfolio) -> list[str]:
    last = _last_marked(portfolio)
    open_positions = Position.objects.filter(
        portfolio=portfolio, status=PositionStatus.OPEN
    ).exclude(quantity=0)
    if last is None:
        return (
            [f"{open_positions.count()} open position(s), never marked"] if open_positions else []
        )
    # A position opened after the last mark is marked by the next EOD, not missing.
    due = open_positions.filter(opened_date__lte=last)
    marked = set(
        PositionSnapshot.objects.filter(position__portfolio=portfolio, date=last).values_list(
            "position_id", flat=True
        )
    )
    return [
        f"{symbol}/{strategy} has no mark on {last}"
        for pid, symbol, strategy in due.values_list(
            "id", "instrument__symbol", "strategy__code"
        ).order_by("instrument__symbol")
        if pid not in marked
    ]


@check("open_positions_marked", GROUP)
def open_positions_marked() -> tuple[bool, str]:
    return _per_portfolio(_unmarked)


def _calendar_gaps(portfolio: Portfolio) -> list[str]:
    dates = list(
        NavSnapshot.objects.filter(portfolio=portfolio)
        .order_by("date")
        .values_list("date", flat=True)
    )
    if not dates:
        return []
    problems = []
    if len(dates) != len(set(dates)):
        problems.append("more than one snapshot for a day")
    expected = calendars.sessions(portfolio.calendar, dates[0], dates[-1])
    missing = sorted(set(expected) - set(dates))
    extra = sorted(set(dates) - set(expected))
    if missing:
        problems.append(f"{len(missing)} business day(s) without NAV, first {missing[0]}")
    if extra:
        problems.append(f"{len(extra)} NAV(s) on closed days, first {extra[0]}")
    return problems


@check("nav_every_business_day", GROUP)
def nav_every_business_day() -> tuple[bool, str]:
    """One NAV snapshot per business day of the portfolio's calendar since the first."""
    return _per_portfolio(_calendar_gaps)


def _eod_outputs_missing(portfolio: Portfolio) -> list[str]:
    last = _last_marked(portfolio)
    if last is None:
        return []
    missing = []
    if not RiskSnapshot.objects.filter(portfolio=portfolio, date=last).exists():
        missing.append(f"no risk snapshot on {last}")
    if not AttributionResult.objects.filter(portfolio=portfolio, as_of=last).exists():
        missing.append(f"no attribution as of {last}")
    return missing


@check("risk_attribution_current", GROUP)
def risk_attribution_current() -> tuple[bool, str]:
    """The EOD chain's outputs exist for the last marked day (the chain did not stop half-way)."""
    return _per_portfolio(_eod_outputs_missing)


def _pipeline_problems(portfolio: Portfolio) -> list[str]:
    problems = []
    for pipeline in (Pipeline.EOD, Pipeline.PREOPEN):
        run = (
            PipelineRun.objects.filter(portfolio=portfolio, pipeline=pipeline)
            .exclude(status=RunStatus.SKIPPED)
            .order_by("-business_date")
            .first()
        )
        if run is None:
            problems.append(f"no {pipeline} run")
        elif run.status not in (RunStatus.SUCCEEDED, RunStatus.RUNNING):
            step = f" at {run.failed_step}" if run.failed_step else ""
            problems.append(f"{pipeline} {run.business_date} {run.status}{step}")
    return problems


@check("last_pipeline_runs", GROUP)
def last_pipeline_runs() -> tuple[bool, str]:
    """The last EOD and pre-open run of each portfolio (weekends skipped aside) succeeded, or is
    running now."""
    return _per_portfolio(_pipeline_problems)
