"""Proposal sizing (SPEC §3): arrays in, arrays out. No Django, no ORM, no I/O.

- Annualized volatility of an instrument: the sample standard deviation (ddof = 1) of its last
  ``VOL_WINDOW`` (60) daily returns of price × fx in the base currency — the returns the risk app
  measures, each instrument over its own trading days — times √252. At least ``VOL_MIN_RETURNS``
  (20) returns, else no volatility and no proposal.
- target = signal × risk_budget × NAV / (annualized vol × price × multiplier × fx): the position
  whose annual volatility in base currency is |signal| × risk_budget × NAV.
- proposal = target − current quantity, rounded to whole contracts (halves away from zero).
- A proposal of zero contracts, or worth less than ``min_fraction`` × NAV
  (|proposal| × price × multiplier × fx), is skipped.

Everything is vectorized over the (strategy, instrument) rows: no Python loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .generators import packed

TRADING_DAYS = 252
VOL_WINDOW = 60
VOL_MIN_RETURNS = 20


def annualized_vol(returns: pd.DataFrame, window: int = VOL_WINDOW) -> pd.Series:
    """Per column: std (ddof = 1) of its last ``window`` returns × √252; NaN with fewer than
    ``VOL_MIN_RETURNS`` returns."""
    if returns.shape[1] == 0:
        return pd.Series(dtype=float)
    values, count = packed(returns)
    tail = values[-window:]
    usable = np.minimum(count, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(tail, axis=0) / usable
        sq = np.nansum((tail - mean) ** 2, axis=0)
        vol = np.sqrt(sq / (usable - 1)) * np.sqrt(TRADING_DAYS)
    vol = np.where(usable >= VOL_MIN_RETURNS, vol, np.nan)
    return pd.Series(vol, index=returns.columns, dtype=float)


def round_contracts(x: np.ndarray) -> np.ndarray:
    """Whole contracts, halves away from zero (2.5 → 3, −2.5 → −3)."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


@dataclass(frozen=True)
class Sizing:
    price: np.ndarray  # the inputs, as used
    fx: np.ndarray
    vol: np.ndarray
    target: np.ndarray  # contracts, unrounded
    trade: np.ndarray  # whole contracts, signed
    notional: np.ndarray  # |trade| × price × multiplier × fx, base currency
    keep: np.ndarray  # bool: a proposal is made
    reason: list[str]  # why a row is skipped ("" when kept)


def size_proposals(
    *,
    signal: np.ndarray,
    risk_budget: np.ndarray,
    nav: float,
    vol: np.ndarray,
    price: np.ndarray,
    multiplier: np.ndarray,
    fx: np.ndarray,
    current: np.ndarray,
    min_fraction: float,
) -> Sizing:
    """Targets, trades and the rows kept, for arrays aligned on the (strategy, instrument) rows.

    A row with a NaN input (no volatility, no close, no FX rate) or a zero volatility is
    skipped, its reason named.
    """
    signal, vol, price, fx = (np.asarray(a, dtype=float) for a in (signal, vol, price, fx))
    unit = price * np.asarray(multiplier, dtype=float) * fx  # one contract in base currency
    with np.errstate(invalid="ignore", divide="ignore"):
        target = signal * np.asarray(risk_budget, dtype=float) * nav / (vol * unit)
    trade = round_contracts(target - np.asarray(current, dtype=float))
    notional = np.abs(trade) * unit
    minimum = min_fraction * nav
    reasons = np.full(len(signal), "", dtype=object)
    conditions = [
        (np.isnan(signal), "no signal"),
        (np.isnan(price), "no close"),
        (np.isnan(fx), "no FX rate to the base currency"),
        (np.isnan(vol), f"fewer than {VOL_MIN_RETURNS} returns for the volatility"),
        (vol == 0, "zero volatility"),
        (~np.isfinite(target), "no finite target"),
        (trade == 0, "already at target"),
        (notional < minimum, f"below the minimum trade of {min_fraction:.2%} of NAV"),
    ]
    for mask, reason in reversed(conditions):  # the first condition that holds wins
        reasons[np.asarray(mask, dtype=bool)] = reason
    keep = reasons == ""
    return Sizing(price, fx, vol, target, np.where(keep, trade, 0.0), notional, keep, list(reasons))
