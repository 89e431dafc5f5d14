"""Proposal sizing (SPEC §3) on hand-computed cases, no database."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trades.calculations import (
    TRADING_DAYS,
    VOL_MIN_RETURNS,
    VOL_WINDOW,
    annualized_vol,
    round_contracts,
    size_proposals,
)


def sizing(**overrides):
    """One row: signal 0.5, budget 2 %, NAV 10,000,000, vol 20 %, price 4,000, ×50, fx 1.1,
    holding 3, minimum 0.1 % of NAV."""
    row = {
        "signal": [0.5],
        "risk_budget": [0.02],
        "vol": [0.20],
        "price": [4000.0],
        "multiplier": [50.0],
        "fx": [1.1],
        "current": [3.0],
    }
    row.update({k: [v] for k, v in overrides.items() if k in row})
    return size_proposals(
        **{k: np.array(v, dtype=float) for k, v in row.items()},
        nav=overrides.get("nav", 10_000_000.0),
        min_fraction=overrides.get("min_fraction", 0.001),
    )


def test_the_sizing_formula_on_a_hand_computed_case():
    """target = 0.5 × 0.02 × 10,000,000 / (0.20 × 4,000 × 50 × 1.1) = 100,000 / 44,000
    = 2.2727… contracts; holding 3, the proposal is round(−0.7272…) = −1 contract, worth
    1 × 4,000 × 50 × 1.1 = 220,000 ≥ 10,000 (0.1 % of NAV): kept."""
    s = sizing()
    assert s.target[0] == pytest.approx(100_000 / 44_000, rel=1e-15)
    assert s.trade[0] == -1.0
    assert s.notional[0] == pytest.approx(220_000.0)
    assert bool(s.keep[0]) and s.reason[0] == ""


def test_a_short_signal_targets_a_short_position():
    """signal −1 on the same inputs: target −4.545…, from 3 held the trade is −7.545… → −8."""
    s = sizing(signal=-1.0)
    assert s.target[0] == pytest.approx(-200_000 / 44_000)
    assert s.trade[0] == -8.0


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"signal": math.nan}, "no signal"),
        ({"price": math.nan}, "no close"),
        ({"fx": math.nan}, "no FX rate"),
        ({"vol": math.nan}, f"fewer than {VOL_MIN_RETURNS} returns"),
        ({"vol": 0.0}, "zero volatility"),
        ({"current": 2.4}, "already at target"),  # 2.27 − 2.4 = −0.13 → 0 contracts
        ({"min_fraction": 0.05}, "below the minimum trade of 5.00% of NAV"),  # 220k < 500k
    ],
)
def test_rows_are_skipped_with_their_reason(overrides, reason):
    s = sizing(**overrides)
    assert not s.keep[0]
    assert s.trade[0] == 0.0
    assert reason in s.reason[0]


def test_rows_are_sized_independently():
    """Three rows at once give what each gives alone (vectorized, no row leaks into another)."""
    together = size_proposals(
        signal=np.array([0.5, -1.0, np.nan]),
        risk_budget=np.array([0.02, 0.02, 0.01]),
        nav=10_000_000.0,
        vol=np.array([0.2, 0.2, 0.3]),
        price=np.array([4000.0, 4000.0, 100.0]),
        multiplier=np.array([50.0, 50.0, 1000.0]),
        fx=np.array([1.1, 1.1, 1.0]),
        current=np.array([3.0, 3.0, 0.0]),
        min_fraction=0.001,
    )
    assert list(together.trade) == [-1.0, -8.0, 0.0]
    assert list(together.keep) == [True, True, False]


@pytest.mark.parametrize(
    ("x", "rounded"),
    [(2.5, 3.0), (-2.5, -3.0), (2.49, 2.0), (-0.5, -1.0), (0.49, 0.0), (7.0, 7.0)],
)
def test_whole_contracts_round_halves_away_from_zero(x, rounded):
    assert round_contracts(np.array([x]))[0] == rounded


def test_annualized_vol_is_the_sample_deviation_of_the_last_60_returns():
    """Given 100 returns for A, 30 for B (the rest NaN) and 10 for C, then A's vol is
    std(last 60, ddof = 1) × √252 computed directly, B uses its 30, C has too few (NaN)."""
    rng = np.random.default_rng(7)
    a = rng.normal(0, 0.01, 100)
    b = np.r_[np.full(70, np.nan), rng.normal(0, 0.02, 30)]
    c = np.r_[np.full(90, np.nan), rng.normal(0, 0.01, 10)]
    returns = pd.DataFrame({"A": a, "B": b, "C": c})
    vol = annualized_vol(returns)
    assert vol["A"] == pytest.approx(np.std(a[-VOL_WINDOW:], ddof=1) * math.sqrt(TRADING_DAYS))
    assert vol["B"] == pytest.approx(np.std(b[-30:], ddof=1) * math.sqrt(TRADING_DAYS))
    assert math.isnan(vol["C"])
