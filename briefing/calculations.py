"""The morning pack's own arithmetic, pure (no Django): market moves over 1D, 1W and 1M, and the
rankings of the positions section. Every other number of the pack comes from the owning apps."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

HORIZONS = ("1D", "1W", "1M")
TOP_N = 10


@dataclass(frozen=True)
class Move:
    close_date: dt.date | None  # the last close on or before the as-of date
    moves: dict[str, float | None]  # horizon → close / base close − 1 (None: no base close)


def one_month_before(day: dt.date) -> dt.date:
    """The same day of the previous month, or its last day when shorter (31 March → 29 Feb)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def base_dates(as_of: dt.date) -> dict[str, dt.date]:
    """The day each horizon's base close is taken on or before: 1W a week before the as-of date,
    1M a calendar month before (1D is the close before the last one, see ``market_moves``)."""
    return {"1W": as_of - dt.timedelta(days=7), "1M": one_month_before(as_of)}


def market_moves(closes: pd.DataFrame, as_of: dt.date) -> dict:
    """Per column of ``closes`` (dates × instruments, floats, NaN where no close): the moves of
    the last close on or before ``as_of`` against the close before it (1D), the last close on
    or before a week earlier (1W) and a month earlier (1M), as fractions (0.01 = +1 %).

    A move whose base is missing, not positive or not before the last close is None; an
    instrument with no close at all up to ``as_of`` has no close date and no move."""
    bases = base_dates(as_of)
    dates = np.array(list(closes.index), dtype=object)
    out = {}
    for column in closes.columns:
        series = closes[column].to_numpy(dtype=float)
        known = np.flatnonzero(~np.isnan(series) & (dates <= as_of))
        if not len(known):
            out[column] = Move(None, dict.fromkeys(HORIZONS))
            continue
        last = int(known[-1])
        moves: dict[str, float | None] = {"1D": None}
        if len(known) > 1:
            moves["1D"] = _move(series[last], series[int(known[-2])])
        for horizon, base_day in bases.items():
            before = known[(dates[known] <= base_day) & (known < last)]
            moves[horizon] = _move(series[last], series[int(before[-1])]) if len(before) else None
        out[column] = Move(dates[last], {h: moves[h] for h in HORIZONS})
    return out


def _move(close: float, base: float) -> float | None:
    if not np.isfinite(base) or base <= 0 or not np.isfinite(close):
        return None
    return float(close / base - 1.0)


def top_by_abs(rows: list[dict], key: str, n: int = TOP_N) -> list[dict]:
    """The ``n`` rows with the largest |row[key]| (a Decimal or number), largest first; ties in
    the order given."""
    return sorted(rows, key=lambda row: -abs(row[key]))[:n]
