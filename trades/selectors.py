"""Reads for the trades app: strategies' universes, the market history behind signals and
sizing, the sleeves' quantities, proposals, signals and the audit trail.

Each function issues a fixed number of queries whatever the number of strategies, instruments
or proposals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet, Sum

from portfolio import calendars
from portfolio import selectors as portfolio_selectors
from portfolio.models import Execution, Instrument, Portfolio, Strategy
from risk import selectors as risk_selectors

from .choices import ProposalStatus
from .models import AuditEvent, Signal, TradeProposal

# Closes read behind a signal: the 12-1 momentum needs 253 closes (a year of trading days);
# two calendar years leave room for exchange holidays and gaps.
HISTORY_DAYS = 2 * 366
# A last close older than this (calendar days before the signal date) gives no signal: a
# strategy must not trade on a price that stopped updating.
STALE_AFTER_DAYS = 7


def signal_strategies(codes: list[str] | None = None) -> list[Strategy]:
    """Active strategies with a signal generator (all, or those named), their instruments
    prefetched."""
    strategies = Strategy.objects.filter(active=True).exclude(generator="")
    if codes:
        strategies = strategies.filter(code__in=codes)
    return list(strategies.prefetch_related("instruments").order_by("code"))


def universes(strategies: list[Strategy]) -> dict[int, list[Instrument]]:
    """Each strategy's instruments: the active ones it names, else every active instrument of its
    asset class, else every active instrument (an inactive instrument is never proposed: a desk
    deactivates one to stop trading it). One query (besides the prefetch)."""
    active = list(Instrument.objects.filter(active=True).order_by("symbol"))
    out = {}
    for strategy in strategies:
        named = sorted((i for i in strategy.instruments.all() if i.active), key=lambda i: i.symbol)
        if named:
            out[strategy.id] = named
        elif strategy.asset_class:
            out[strategy.id] = [i for i in active if i.asset_class == strategy.asset_class]
        else:
            out[strategy.id] = active
    return out


def closes(instruments: list[Instrument], *, day: dt.date) -> pd.DataFrame:
    """The closes of ``instruments`` (own currency) up to ``day``, dates × symbol. One query."""
    frame = portfolio_selectors.closes_frame(
        [i.id for i in instruments], start=day - dt.timedelta(days=HISTORY_DAYS), end=day
    )
    symbols = {i.id: i.symbol for i in instruments}
    frame = frame.reindex(columns=list(symbols)).rename(columns=symbols)
    # Each instrument over its own trading days: a close on its market's holiday is not one.
    return calendars.mask_closed(frame, {i.symbol: i.calendar for i in instruments})


def market_history(
    instruments: list[Instrument], *, base: str, day: dt.date
) -> risk_selectors.MarketHistory:
    """Closes (own currency) and rates to ``base`` of ``instruments`` up to ``day``, by symbol."""
    infos = {
        i.symbol: risk_selectors.InstrumentInfo(
            i.id, i.symbol, i.asset_class, i.currency, i.calendar
        )
        for i in instruments
    }
    return risk_selectors.market_history(
        base=base, instruments=infos, start=day - dt.timedelta(days=HISTORY_DAYS), end=day
    )


def sizing_nav(portfolio: Portfolio, day: dt.date) -> Decimal:
    """The NAV proposals of ``day`` are sized on: the last NAV snapshot up to ``day`` (initial
    capital before the first) plus the flows after it up to ``day`` (a flow of D happens at the
    start of D)."""
    nav, since = portfolio_selectors.nav_before(portfolio, day + dt.timedelta(days=1))
    return nav + portfolio_selectors.flows_between(portfolio, since, day)


def sleeve_quantities(portfolio: Portfolio, day: dt.date) -> dict[tuple[int, int], Decimal]:
    """(strategy id, instrument id) → contracts held at the end of ``day`` (the ledger as of D)."""
    rows = (
        Execution.objects.filter(portfolio=portfolio, trade_date__lte=day)
        .values("strategy_id", "instrument_id")
        .annotate(quantity=Sum("quantity"))
    )
    return {(r["strategy_id"], r["instrument_id"]): r["quantity"] for r in rows}


@dataclass(frozen=True)
class ProposalsOfDay:
    pending: dict[tuple[int, int], TradeProposal]  # (strategy id, instrument id) → the pending one
    decided: set[tuple[int, int]]  # sleeves with a decided proposal of the day


def proposals_of_day(portfolio: Portfolio, day: dt.date, *, lock: bool = False) -> ProposalsOfDay:
    """The proposals of ``day`` by sleeve; ``lock`` locks the pending ones (FOR UPDATE)."""
    pending_qs = TradeProposal.objects.filter(
        portfolio=portfolio, date=day, status=ProposalStatus.PENDING
    )
    if lock:
        pending_qs = pending_qs.select_for_update()
    pending = {(p.strategy_id, p.instrument_id): p for p in pending_qs}
    decided = set(
        TradeProposal.objects.filter(portfolio=portfolio, date=day)
        .exclude(status=ProposalStatus.PENDING)
        .values_list("strategy_id", "instrument_id")
    )
    return ProposalsOfDay(pending, decided)


def proposal_list(portfolio: Portfolio) -> QuerySet[TradeProposal]:
    return TradeProposal.objects.filter(portfolio=portfolio).select_related(
        "portfolio", "strategy", "instrument", "created_by", "decided_by"
    )


def signal_list() -> QuerySet[Signal]:
    return Signal.objects.select_related("strategy", "instrument")


def audit_list(portfolio: Portfolio) -> QuerySet[AuditEvent]:
    """The portfolio's events and those of no portfolio (an instrument's intraday mark, closes
    loaded), newest first."""
    return AuditEvent.objects.filter(
        Q(portfolio=portfolio) | Q(portfolio__isnull=True)
    ).select_related("content_type", "portfolio")


def audit_of(obj) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).order_by("at", "id")


def signalled_instrument_ids(*, start: dt.date, end: dt.date) -> set[int]:
    """The instruments any strategy signalled on a day from ``start`` to ``end``."""
    return set(
        Signal.objects.filter(date__gte=start, date__lte=end).values_list(
            "instrument_id", flat=True
        )
    )


def pending_proposals(portfolio: Portfolio, *, upto: dt.date) -> QuerySet[TradeProposal]:
    """The proposals of ``portfolio`` dated up to ``upto`` still waiting for a decision."""
    return (
        TradeProposal.objects.filter(
            portfolio=portfolio, status=ProposalStatus.PENDING, date__lte=upto
        )
        .select_related("strategy", "instrument", "created_by")
        .order_by("date", "id")
    )
