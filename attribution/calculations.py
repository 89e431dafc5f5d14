"""Performance attribution, pure numpy/pandas (SPEC §5): no Django, no ORM.

Inputs are arrays of days and of P&L in *units* of 1e-8 of the base currency (int64), as
PostgreSQL converts the NUMERIC(28, 8) amounts exactly: sums of P&L stay exact integers, and only
the ratios (contributions, returns) are floats.

- Contribution of segment k on day t: c_k,t = pnl_k,t / (NAV(t−1) + flow(t)), so Σ_k c_k,t = r_t.
- TWR over the days: R = Π(1 + r_t) − 1; flows happen at the start of their day and are never
  performance (they are in the denominator, not in the P&L).
- Carino linking: k_t = ln(1 + r_t) / r_t (1 when r_t = 0), K = ln(1 + R) / R (1 when R = 0),
  C_k = Σ_t (k_t / K) c_k,t, so that Σ_k C_k = R. C_k is linear in the days:
  C_k = Σ_t a_t pnl_k,t with a_t = k_t / (K × (NAV(t−1) + flow(t))).
- Statistics of the daily returns: annualized volatility √252 × std (ddof 1), Sharpe (rf = 0)
  √252 × mean / std, the maximum drawdown of the TWR index (which starts at 1 on the anchor), hit
  rate (share of days with r > 0), best and worst day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd

UNITS_PER_CURRENCY = 10**8
TRADING_DAYS = 252
# Σ|pnl| below this keeps every partial int64 sum exact (2**63 ≈ 9.2e18 units = 92 bn).
_INT64_SAFE = float(2**62)

DIMENSIONS = ("strategy", "asset_class", "instrument", "currency")
PERIODS = ("1D", "WTD", "MTD", "QTD", "YTD", "ITD")


class AttributionInputError(ValueError):
    """The inputs cannot be attributed (a non-positive capital base, amounts too large)."""


# --- Periods ----------------------------------------------------------------------------------


def _previous_weekday(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def period_anchor(
    period: str, as_of: dt.date, *, inception: dt.date, previous_business_day=_previous_weekday
) -> dt.date:
    """The date a standard period is measured from: it covers the business days after it, up to
    and including ``as_of``. 1D: the previous business day; WTD, MTD, QTD, YTD: the last
    business day of the previous week, month, quarter, year; ITD: the inception date."""
    if period == "1D":
        return previous_business_day(as_of)
    if period == "WTD":
        return previous_business_day(as_of - dt.timedelta(days=as_of.weekday()))
    if period == "MTD":
        return previous_business_day(as_of.replace(day=1))
    if period == "QTD":
        return previous_business_day(as_of.replace(month=3 * ((as_of.month - 1) // 3) + 1, day=1))
    if period == "YTD":
        return previous_business_day(as_of.replace(month=1, day=1))
    if period == "ITD":
        return inception
    raise ValueError(f"unknown period {period!r}")


# --- Returns, linking, statistics -------------------------------------------------------------


def twr(returns: np.ndarray) -> float:
    """Π(1 + r_t) − 1 (0 over no day)."""
    returns = np.asarray(returns, dtype=float)
    return float(np.expm1(np.log1p(returns).sum())) if len(returns) else 0.0


def _check_returns(returns: np.ndarray) -> None:
    if len(returns) and (np.isnan(returns).any() or (returns <= -1.0).any()):
        raise AttributionInputError("a daily return at or below −100 % cannot be linked")


def carino_factors(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """(k_t, K): k_t = ln(1 + r_t) / r_t and K = ln(1 + R) / R, each 1 where its return is 0."""
    r = np.asarray(returns, dtype=float)
    _check_returns(r)
    log_growth = np.log1p(r)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(r == 0.0, 1.0, log_growth / np.where(r == 0.0, 1.0, r))
    total_log = float(log_growth.sum())
    big_r = math.expm1(total_log)
    big_k = 1.0 if big_r == 0.0 else total_log / big_r
    return k, big_k


def link_weights(returns: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """a_t = k_t / (K × capital_t) per currency unit of P&L, capital_t = NAV(t−1) + flow(t):
    the linked contribution of a segment is Σ_t a_t × pnl_k,t.

    A day that starts with no capital (everything redeemed) has a return of 0 by the book's
    convention, so nothing of it is contributed: a_t = 0. A negative capital cannot be
    attributed."""
    capital = np.asarray(capital, dtype=float)
    if len(capital) and (capital < 0).any():
        raise AttributionInputError("the capital at the start of a day is negative")
    k, big_k = carino_factors(returns)
    with np.errstate(divide="ignore"):
        return np.where(capital == 0.0, 0.0, k / (big_k * np.where(capital == 0.0, 1.0, capital)))


def contributions(pnl: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """Daily contributions c_k,t = pnl_k,t / capital_t of a days × segments P&L matrix."""
    return np.asarray(pnl, dtype=float) / np.asarray(capital, dtype=float)[:, None]


def linked_contributions(contributions_matrix: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """Carino-linked C_k = Σ_t (k_t / K) c_k,t of a days × segments matrix."""
    k, big_k = carino_factors(returns)
    return (k / big_k) @ np.asarray(contributions_matrix, dtype=float)


def twr_index(returns: np.ndarray) -> np.ndarray:
    """The TWR index after each day, from 1 at the anchor: Π_{s ≤ t}(1 + r_s)."""
    return np.exp(np.cumsum(np.log1p(np.asarray(returns, dtype=float))))


def max_drawdown(returns: np.ndarray) -> float:
    """The largest fall of the TWR index from its running peak, the anchor's 1 included, as a
    positive fraction (0.05 = 5 % below the peak); 0 when it never falls."""
    if not len(returns):
        return 0.0
    index = np.concatenate([[1.0], twr_index(returns)])
    peak = np.maximum.accumulate(index)
    return float(np.max(1.0 - index / peak))


@dataclasses.dataclass(frozen=True)
class Statistics:
    days: int
    twr: float
    volatility: float | None
    sharpe: float | None
    max_drawdown: float
    hit_rate: float | None
    best_day: tuple[dt.date, float] | None
    worst_day: tuple[dt.date, float] | None


def statistics(dates: list[dt.date], returns: np.ndarray) -> Statistics:
    """The period's statistics (SPEC §5); volatility and Sharpe need two days and Sharpe a
    non-zero standard deviation, else None."""
    r = np.asarray(returns, dtype=float)
    n = len(r)
    # Equal returns have no dispersion; np.std would give rounding noise (1e-18), not 0.
    std = None if n < 2 else 0.0 if (r == r[0]).all() else float(np.std(r, ddof=1))
    best = int(np.argmax(r)) if n else None
    worst = int(np.argmin(r)) if n else None
    return Statistics(
        days=n,
        twr=twr(r),
        volatility=None if std is None else math.sqrt(TRADING_DAYS) * std,
        sharpe=(None if not std else math.sqrt(TRADING_DAYS) * float(np.mean(r)) / std),
        max_drawdown=max_drawdown(r),
        hit_rate=float(np.count_nonzero(r > 0)) / n if n else None,
        best_day=None if best is None else (dates[best], float(r[best])),
        worst_day=None if worst is None else (dates[worst], float(r[worst])),
    )


# --- Segment totals ---------------------------------------------------------------------------


def check_exact(groups: np.ndarray, units: np.ndarray) -> None:
    """Refuse amounts whose int64 sums within a group could overflow: Σ|P&L| of one group (a
    day, or a segment over a period) at or above 2**62 units, 46 bn of the base currency."""
    if not len(units):
        return
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    bound = np.bincount(inverse.ravel(), weights=np.abs(units.astype(np.float64)))
    if float(bound.max()) >= _INT64_SAFE:
        raise AttributionInputError("the P&L is too large to add exactly in 1e-8 units")


def _segment_codes(positions: np.ndarray, segments: pd.DataFrame, dimensions):
    """Per dimension: (dimension, each entry's segment code, the sorted segment keys)."""
    rows = segments.index.get_indexer(np.asarray(positions))
    if len(rows) and (rows < 0).any():
        raise AttributionInputError("a position-day names a position without segments")
    for dim in dimensions:
        codes, keys = pd.factorize(segments[dim].to_numpy(), sort=True)
        yield dim, (codes[rows] if len(rows) else np.empty(0, dtype=np.int64)), keys


def segment_totals(
    days: np.ndarray,
    positions: np.ndarray,
    units: np.ndarray,
    segments: pd.DataFrame,
    dimensions=DIMENSIONS,
) -> dict[str, pd.DataFrame]:
    """Daily P&L per segment of every dimension from the position-days.

    ``days``, ``positions``, ``units``: one entry per position-day (day as int days since
    1970-01-01, position id, P&L in 1e-8 units). ``segments``: indexed by position id, one column
    per dimension naming the position's segment. Returns, per dimension, a frame with columns
    ``day``, ``key``, ``units`` (exact int64 sums), one row per (day, key) with a position-day.
    One vectorized groupby per dimension over the position-days; no loop over positions.
    """
    days = np.asarray(days, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    check_exact(days, units)
    out = {}
    for dim, seg, keys in _segment_codes(positions, segments, dimensions):
        combined = days * len(keys) + seg
        sums = pd.Series(units).groupby(combined, sort=True).sum()
        key_index = sums.index.to_numpy()
        out[dim] = pd.DataFrame(
            {
                "day": key_index // max(len(keys), 1),
                "key": np.asarray(keys, dtype=object)[key_index % max(len(keys), 1)]
                if len(keys)
                else np.empty(0, dtype=object),
                "units": sums.to_numpy(dtype=np.int64),
            }
        )
    return out


@dataclasses.dataclass(frozen=True)
class SegmentRow:
    key: str
    units: int  # Σ P&L over the period, 1e-8 units
    contribution: float


def combine(keys: np.ndarray, units: np.ndarray, linked: np.ndarray) -> list[SegmentRow]:
    """Per segment: the exact P&L over the period and its linked contribution.

    ``keys``, ``units``, ``linked``: partial sums of segments (one entry per segment and
    source — a day, a position, the stored totals of a range — several entries may name one
    segment): P&L in 1e-8 units and Σ_t a_t pnl_t in the base currency's contribution. Rows
    sorted by contribution, largest first (then by key)."""
    units = np.asarray(units, dtype=np.int64)
    if not len(units):
        return []
    codes, uniques = pd.factorize(np.asarray(keys, dtype=object), sort=True)
    check_exact(codes, units)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    pnl = np.add.reduceat(units[order], starts)  # exact int64 sums per segment
    contribution = np.bincount(
        codes, weights=np.asarray(linked, dtype=float), minlength=len(uniques)
    )
    rows = [
        SegmentRow(key=str(key), units=int(u), contribution=float(c))
        for key, u, c in zip(uniques, pnl.tolist(), contribution.tolist(), strict=True)
    ]
    rows.sort(key=lambda row: (-row.contribution, row.key))
    return rows


def attribute(
    days: np.ndarray, keys: np.ndarray, units: np.ndarray, *, weights: pd.Series
) -> list[SegmentRow]:
    """``combine`` of daily segment totals held in memory: C_k = Σ_t a_t pnl_k,t.

    ``days``, ``keys``, ``units``: the daily segment totals (one entry per day and segment);
    ``weights``: a_t of ``link_weights`` indexed by day. (The report has PostgreSQL add
    a_t × pnl over the stored rows instead; this is the same sum over arrays.)"""
    units = np.asarray(units, dtype=np.int64)
    if not len(units):
        return []
    a = weights.reindex(np.asarray(days)).to_numpy(dtype=float)
    if np.isnan(a).any():
        raise AttributionInputError("a segment total falls on a day outside the period")
    return combine(keys, units, a * units / UNITS_PER_CURRENCY)


def position_sums_by_segment(
    positions: np.ndarray,
    units: np.ndarray,
    linked: np.ndarray,
    segments: pd.DataFrame,
    dimensions=DIMENSIONS,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per dimension, (keys, units, linked) summed per segment from per-position sums over a
    period (what PostgreSQL adds up from the position-days: Σ pnl in 1e-8 units and
    Σ a_t pnl). One vectorized groupby per dimension over the positions; exact int64 P&L."""
    positions = np.asarray(positions, dtype=np.int64)
    units = np.asarray(units, dtype=np.int64)
    linked = np.asarray(linked, dtype=float)
    out = {}
    for dim, seg, keys in _segment_codes(positions, segments, dimensions):
        check_exact(seg, units)
        present = np.flatnonzero(np.bincount(seg, minlength=len(keys)))
        unit_sums = np.zeros(len(keys), dtype=np.int64)
        np.add.at(unit_sums, seg, units)
        linked_sums = np.bincount(seg, weights=linked, minlength=len(keys))
        out[dim] = (
            np.asarray(keys, dtype=object)[present],
            unit_sums[present],
            linked_sums[present],
        )
    return out


def day_numbers(dates: list[dt.date]) -> np.ndarray:
    """Days since 1970-01-01, as PostgreSQL packs them."""
    return np.array([d.toordinal() - _EPOCH for d in dates], dtype=np.int64)


def day_of(number: int) -> dt.date:
    return dt.date.fromordinal(int(number) + _EPOCH)


_EPOCH = dt.date(1970, 1, 1).toordinal()
