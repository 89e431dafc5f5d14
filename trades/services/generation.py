"""Proposals of a business date from the strategies' signals (SPEC §3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction

from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio import services as portfolio_services
from portfolio.models import Portfolio
from risk import pretrade

from .. import calculations as calc
from .. import selectors
from ..audit import audit_record
from ..choices import AuditAction, ProposalSource, Side
from ..models import Signal, TradeProposal
from .risk import store_impact
from .signals import Skip, signals_compute, signals_store


@dataclass(frozen=True)
class GenerationResult:
    day: dt.date
    nav: Decimal
    signals: int
    created: list[TradeProposal]
    kept: list[TradeProposal]  # pending ones the run proposed again unchanged
    removed: int  # pending generated ones of the day no longer proposed
    skipped: list[Skip]


def validate_day(portfolio: Portfolio, day: dt.date) -> dt.date:
    portfolio_services.validate_business_date(day, field="date")
    if day < portfolio.inception_date:
        raise PMSError(
            f"{day.isoformat()} is before the portfolio's inception "
            f"({portfolio.inception_date.isoformat()})",
            field="date",
        )
    return day


def proposals_generate(*, portfolio: Portfolio, day: dt.date, user=None) -> GenerationResult:
    """Signals of ``day``, then the proposals they size, for ``portfolio``, all or nothing.

    1. Signals: every active strategy with a generator, over its universe, closes up to D.
    2. Sizing (``calculations.size_proposals``) on the NAV of D, the closes and rates of D
       (each instrument's last close up to D), the volatility of its returns and the sleeve's
       quantity at the end of D.
    3. Under the portfolio lock (bookings and decisions of the portfolio queue behind it): a
       sleeve with a decided proposal of D, or a manual one pending, is left alone; a pending
       generated proposal proposed again unchanged is kept, otherwise it is replaced (deleted,
       and a new one created); one no longer proposed is deleted.
    4. The pre-trade check of every new proposal against the book now (one batch), stored on it.

    The proposals are created by ``user`` (who asked for the run; None for the pipeline), so
    that four-eyes keeps whoever generated them from approving them.
    """
    validate_day(portfolio, day)
    strategies = [s for s in selectors.signal_strategies() if s.risk_budget > 0]
    universes = selectors.universes(strategies)
    instruments = {i.symbol: i for u in universes.values() for i in u}
    history = selectors.market_history(
        list(instruments.values()), base=portfolio.base_currency, day=day
    )
    rows, skipped = signals_compute(strategies, universes, history.prices, day)
    nav = selectors.sizing_nav(portfolio, day)
    with transaction.atomic():
        portfolio_services.portfolio_lock(portfolio)
        signals = signals_store(day, strategies, rows)
        current = selectors.sleeve_quantities(portfolio, day)
        sizing = _size(signals, history, nav, current)
        existing = selectors.proposals_of_day(portfolio, day, lock=True)
        created, kept, replaced = [], [], []
        for k, signal in enumerate(signals):
            key = (signal.strategy_id, signal.instrument_id)
            if not sizing.keep[k]:
                skipped.append(_skip(signal, sizing.reason[k]))
                continue
            if key in existing.decided:
                skipped.append(_skip(signal, "a proposal of the day was already decided"))
                continue
            pending = existing.pending.get(key)
            if pending is not None and pending.source == ProposalSource.MANUAL:
                skipped.append(_skip(signal, f"manual proposal #{pending.pk} is pending"))
                continue
            proposal = _proposal(portfolio, signal, sizing, k, current.get(key), nav, user)
            if pending is not None and _same(pending, proposal):
                kept.append(pending)
                continue
            if pending is not None:
                replaced.append(pending.pk)
            created.append(proposal)
        proposed = {p.pk for p in kept} | set(replaced)
        stale = [
            p.pk
            for p in existing.pending.values()
            if p.source == ProposalSource.GENERATED and p.pk not in proposed
        ]
        TradeProposal.objects.filter(pk__in=[*replaced, *stale]).delete()
        impacts = pretrade.pretrade_impacts(
            portfolio,
            [
                pretrade.Trade(p.instrument, p.strategy.code, p.signed_quantity, p.price)
                for p in created
            ],
        )
        for proposal, impact in zip(created, impacts, strict=True):
            store_impact(proposal, impact)
        TradeProposal.objects.bulk_create(created, batch_size=1000)
        audit_record(
            actor=user,
            action=AuditAction.PROPOSALS_GENERATE,
            obj=portfolio,
            portfolio=portfolio,
            after={
                "date": day,
                "nav": nav,
                "signals": len(signals),
                "created": [p.pk for p in created],
                "kept": [p.pk for p in kept],
                "replaced": replaced,
                "removed": stale,
                "skipped": len(skipped),
            },
        )
    return GenerationResult(
        day=day,
        nav=nav,
        signals=len(signals),
        created=created,
        kept=kept,
        removed=len(replaced) + len(stale),
        skipped=skipped,
    )


def _skip(signal: Signal, reason: str) -> Skip:
    return Skip(signal.strategy.code, signal.instrument.symbol, reason)


def _size(signals: list[Signal], history, nav: Decimal, current: dict) -> calc.Sizing:
    """Targets and trades of every signal's sleeve, vectorized (see ``calculations``)."""
    symbols = [s.instrument.symbol for s in signals]
    prices = history.prices
    last_close = prices.ffill().iloc[-1] if len(prices) else pd.Series(dtype=float)
    # The rate of the last close's date, not of the last date read.
    last_fx = history.fx.where(prices.notna()).ffill().iloc[-1] if len(prices) else last_close
    vol = calc.annualized_vol(history.returns())
    return calc.size_proposals(
        signal=np.array([s.value for s in signals], dtype=float),
        risk_budget=np.array([float(s.strategy.risk_budget) for s in signals], dtype=float),
        nav=float(nav),
        vol=vol.reindex(symbols).to_numpy(dtype=float),
        price=last_close.reindex(symbols).to_numpy(dtype=float),
        multiplier=np.array([float(s.instrument.multiplier) for s in signals], dtype=float),
        fx=last_fx.reindex(symbols).to_numpy(dtype=float),
        current=np.array(
            [float(current.get((s.strategy_id, s.instrument_id), pcalc.ZERO)) for s in signals],
            dtype=float,
        ),
        min_fraction=settings.TRADES_MIN_TRADE_NAV_FRACTION,
    )


def _decimal(value: float, places: int) -> Decimal:
    """A float from the numerical code as a stored-scale decimal (its shortest repr: a close read
    as float8 comes back as the digits that were stored)."""
    return pcalc.q(Decimal(repr(float(value))), places)


def _proposal(
    portfolio: Portfolio, signal: Signal, sizing: calc.Sizing, k: int, held, nav, user
) -> TradeProposal:
    trade = sizing.trade[k]
    price = _decimal(sizing.price[k], pcalc.PRICE_PLACES)
    held = held if held is not None else pcalc.ZERO
    strategy = signal.strategy
    target = sizing.target[k]
    side = Side.BUY if trade > 0 else Side.SELL
    rationale = (
        f"{strategy.code} ({signal.generator}) signal {signal.value:+.2f}: {signal.rationale}. "
        f"Target {target:,.1f} contracts = signal × risk budget {strategy.risk_budget:.2%} × "
        f"NAV {nav:,.0f} / (vol {sizing.vol[k]:.2%} × price {price.normalize():,f} × "
        f"multiplier {signal.instrument.multiplier.normalize():,f} × fx {sizing.fx[k]:.6g}); "
        f"holding {held.normalize():,f}: {side} {abs(trade):,.0f}."
    )
    return TradeProposal(
        portfolio=portfolio,
        strategy=strategy,
        instrument=signal.instrument,
        date=signal.date,
        side=side,
        quantity=Decimal(int(abs(trade))),
        price=price,
        source=ProposalSource.GENERATED,
        rationale=rationale,
        signal=signal,
        signal_value=signal.value,
        target_quantity=_decimal(target, pcalc.QTY_PLACES),
        current_quantity=held,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def _same(pending: TradeProposal, proposal: TradeProposal) -> bool:
    return (pending.side, pending.quantity, pending.price) == (
        proposal.side,
        proposal.quantity,
        proposal.price,
    )
