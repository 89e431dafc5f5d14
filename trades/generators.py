"""Signal generators (SPEC §3) and the registry a desk extends. Pure pandas/numpy, no Django.

A generator takes the closes of its instruments up to the signal date — a dates × instrument
frame of floats, oldest first, NaN where an instrument has no close — and returns, for every
instrument it can judge, a value in [−1, 1] and a one-line rationale: a frame indexed like the
frame's columns with the columns ``value`` (float; NaN = no signal) and ``rationale`` (str).
Each instrument is read over its own closes (its own trading days), so an instrument's signal
does not depend on which others are computed with it. The work is vectorized over instruments.

A desk adds its own generator by registering one function::

    from trades.generators import register

    @register("carry")
    def carry(closes: pd.DataFrame) -> pd.DataFrame: ...

in a module named in the ``PMS_SIGNAL_MODULES`` environment variable (comma-separated dotted
paths), which the trades app imports at start-up; strategies then name it as their generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Generator = Callable[[pd.DataFrame], pd.DataFrame]

_REGISTRY: dict[str, Generator] = {}

# Observations (closes) in a month and a year of trading days.
MONTH = 21
YEAR = 252
MEAN_REVERSION_WINDOW = 20


def register(name: str) -> Callable[[Generator], Generator]:
    """Register ``fn`` under ``name`` (what ``Strategy.generator`` holds)."""

    def decorator(fn: Generator) -> Generator:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"a signal generator named {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return decorator


def get(name: str) -> Generator:
    return _REGISTRY[name]


def names() -> list[str]:
    return sorted(_REGISTRY)


# --- Helpers ----------------------------------------------------------------------------------


def packed(closes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each column's closes moved to the bottom of the array in their order, NaNs on top, and the
    number of closes per column: row −1 is each instrument's last close, row −1 − k the close k
    observations before it, whatever dates the other instruments trade on."""
    values = closes.to_numpy(dtype=float)
    present = ~np.isnan(values)
    order = np.argsort(present, axis=0, kind="stable")  # False (NaN) first, closes in order
    return np.take_along_axis(values, order, axis=0), present.sum(axis=0)


def _result(closes: pd.DataFrame, value: np.ndarray, rationale: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"value": value, "rationale": rationale}, index=closes.columns)


def _pct(x: float) -> str:
    return f"{x:+.2%}"


# --- Built-in generators ----------------------------------------------------------------------


@register("momentum")
def momentum(closes: pd.DataFrame) -> pd.DataFrame:
    """Time-series momentum: the sign of the 12-month minus the 1-month return.

    With P₀ the last close, P₂₁ and P₂₅₂ the closes 21 and 252 observations before it:
    R₁₂ = P₀ / P₂₅₂ − 1 and R₁ = P₀ / P₂₁ − 1, and R₁₂ − R₁ = P₀ (1/P₂₅₂ − 1/P₂₁) has the sign of
    P₂₁ / P₂₅₂ − 1, the "12-1" return that skips the last month. Needs 253 closes.
    """
    values, count = packed(closes)
    n = len(values)
    value = np.full(values.shape[1], np.nan)
    rationale = ["fewer than 253 closes"] * values.shape[1]
    if n > YEAR:
        last, month_ago, year_ago = values[-1], values[-1 - MONTH], values[-1 - YEAR]
        enough = count > YEAR
        with np.errstate(invalid="ignore", divide="ignore"):
            r12, r1 = last / year_ago - 1.0, last / month_ago - 1.0
            value = np.where(enough, np.sign(r12 - r1), np.nan)
        for j in np.flatnonzero(enough):
            side = {1.0: "long", -1.0: "short"}.get(float(value[j]), "flat")
            rationale[j] = (
                f"12-month return {_pct(r12[j])} minus 1-month return {_pct(r1[j])} "
                f"= {_pct(r12[j] - r1[j])}: {side}"
            )
    return _result(closes, value, rationale)


@register("mean_reversion")
def mean_reversion(closes: pd.DataFrame) -> pd.DataFrame:
    """Mean reversion: minus the z-score of the last close against the mean of the last 20
    closes (itself included; sample standard deviation, ddof = 1), clipped to [−1, 1]."""
    values, count = packed(closes)
    w = MEAN_REVERSION_WINDOW
    value = np.full(values.shape[1], np.nan)
    rationale = [f"fewer than {w} closes"] * values.shape[1]
    if len(values) >= w:
        window = values[-w:]
        mean = window.mean(axis=0)
        std = window.std(axis=0, ddof=1)
        enough = (count >= w) & (std > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (window[-1] - mean) / std
            value = np.where(enough, np.clip(-z, -1.0, 1.0), np.nan)
        for j in np.flatnonzero(count >= w):
            if not enough[j]:
                rationale[j] = f"the last {w} closes do not move"
                continue
            rationale[j] = (
                f"close {window[-1, j]:,.6g} vs {w}-day mean {mean[j]:,.6g} "
                f"(sd {std[j]:,.4g}): z = {z[j]:+.2f}, signal {value[j]:+.2f}"
            )
    return _result(closes, value, rationale)
