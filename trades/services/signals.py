"""Signals of a date: each generating strategy's generator over its universe's closes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import transaction

from pms_project.errors import PMSError
from portfolio import services as portfolio_services
from portfolio.models import Instrument, Strategy

from .. import generators, selectors
from ..models import Signal


@dataclass(frozen=True)
class Skip:
    strategy: str
    symbol: str
    reason: str


@dataclass(frozen=True)
class SignalRun:
    day: dt.date
    signals: list[Signal]
    skipped: list[Skip]


def fresh_closes(closes: pd.DataFrame, day: dt.date) -> tuple[pd.DataFrame, set[str]]:
    """``closes`` without the instruments whose last close is older than STALE_AFTER_DAYS before
    ``day`` (or that have none), and the symbols left out."""
    cutoff = day - dt.timedelta(days=selectors.STALE_AFTER_DAYS)
    if closes.empty:
        return closes, set(closes.columns)
    present = closes.notna().to_numpy()
    last_row = len(closes) - 1 - np.argmax(present[::-1], axis=0)  # of each column's last close
    stale = {
        symbol
        for j, symbol in enumerate(closes.columns)
        if not present[:, j].any() or closes.index[last_row[j]] < cutoff
    }
    return closes.drop(columns=sorted(stale)), stale


def signals_compute(
    strategies: list[Strategy],
    universes: dict[int, list[Instrument]],
    closes: pd.DataFrame,
    day: dt.date,
) -> tuple[list[Signal], list[Skip]]:
    """Unsaved ``Signal`` rows of ``day`` for every strategy (one generator call per strategy,
    vectorized over its instruments), and the (strategy, instrument) pairs with none."""
    fresh, stale = fresh_closes(closes, day)
    rows: list[Signal] = []
    skipped: list[Skip] = []
    for strategy in strategies:
        universe = universes[strategy.id]
        skipped += [
            Skip(strategy.code, i.symbol, "no close in the last week")
            for i in universe
            if i.symbol in stale
        ]
        symbols = [i.symbol for i in universe if i.symbol not in stale]
        if not symbols:
            continue
        result = generators.get(strategy.generator)(fresh.loc[:, symbols])
        values = result["value"].reindex(symbols).to_numpy(dtype=float)
        rationales = result["rationale"].reindex(symbols)
        by_symbol = {i.symbol: i for i in universe}
        for symbol, value in zip(symbols, values, strict=True):
            reason = str(rationales.get(symbol) or "no signal")
            if not np.isfinite(value):
                skipped.append(Skip(strategy.code, symbol, reason))
                continue
            rows.append(
                Signal(
                    strategy=strategy,
                    instrument=by_symbol[symbol],
                    date=day,
                    value=float(np.clip(value, -1.0, 1.0)),
                    generator=strategy.generator,
                    rationale=reason,
                )
            )
    return rows, skipped


def signals_store(day: dt.date, strategies: list[Strategy], rows: list[Signal]) -> list[Signal]:
    """Replace the signals of ``day`` of ``strategies`` with ``rows`` (an upsert, so the ids of
    signals that proposals point at survive a re-run), in two queries."""
    with transaction.atomic():
        stored = Signal.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["strategy", "instrument", "date"],
            update_fields=["value", "generator", "rationale", "created_at"],
        )
        keep = [s.pk for s in stored]
        Signal.objects.filter(date=day, strategy__in=strategies).exclude(pk__in=keep).delete()
    return stored


def signals_generate(*, day: dt.date, strategy_codes: list[str] | None = None) -> SignalRun:
    """Compute and store the signals of ``day`` for every active strategy with a generator (or
    those named), from the closes up to ``day``."""
    portfolio_services.validate_business_date(day, field="date")
    strategies = selectors.signal_strategies(strategy_codes)
    unknown = sorted(set(strategy_codes or ()) - {s.code for s in strategies})
    if unknown:
        raise PMSError(
            f"not an active strategy with a signal generator: {', '.join(unknown)}",
            field="strategy",
        )
    universes = selectors.universes(strategies)
    instruments = {i.id: i for u in universes.values() for i in u}
    closes = selectors.closes(list(instruments.values()), day=day)
    rows, skipped = signals_compute(strategies, universes, closes, day)
    return SignalRun(day, signals_store(day, strategies, rows), skipped)
