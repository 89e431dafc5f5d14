"""The signal generators on planted price paths (no database), and the registry."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from trades import generators
from trades.generators import MEAN_REVERSION_WINDOW, MONTH, YEAR, packed


def frame(columns: dict[str, list[float]]) -> pd.DataFrame:
    n = max(len(v) for v in columns.values())
    index = pd.Index([dt.date(2020, 1, 1) + dt.timedelta(days=i) for i in range(n)])
    return pd.DataFrame(
        {k: [np.nan] * (n - len(v)) + list(v) for k, v in columns.items()}, index=index
    )


def geometric(n: int, daily: float, start: float = 100.0) -> list[float]:
    return [start * (1 + daily) ** t for t in range(n)]


# --- Momentum -----------------------------------------------------------------------------------


def test_momentum_is_the_sign_of_the_12_minus_1_month_return():
    """Given a rising path, a falling path, and one that rose for a year then fell for the last
    month (12-1 return still positive), when momentum runs, then +1, −1, +1, and each value is
    sign(P₀/P₂₅₂ − P₀/P₂₁) computed by hand."""
    n = YEAR + 40
    rose_then_fell = geometric(n - MONTH, 0.002) + geometric(MONTH, -0.004, 100 * 1.002 ** (n - 22))
    closes = frame(
        {"UP": geometric(n, 0.001), "DOWN": geometric(n, -0.001), "TURN": rose_then_fell}
    )
    result = generators.get("momentum")(closes)
    for symbol in closes.columns:
        p = closes[symbol].to_numpy()
        by_hand = np.sign((p[-1] / p[-1 - YEAR] - 1) - (p[-1] / p[-1 - MONTH] - 1))
        assert result.loc[symbol, "value"] == by_hand
    assert list(result["value"]) == [1.0, -1.0, 1.0]
    assert "12-month return" in result.loc["UP", "rationale"]
    assert result.loc["DOWN", "rationale"].endswith("short")


def test_momentum_reads_each_instrument_over_its_own_closes():
    """Given an instrument with a close every other day (the others trade daily), when momentum
    runs, then its 252 observations back are 252 of its own closes, not 252 rows of the frame."""
    n = 2 * YEAR + 10
    sparse = [100.0 + t if t % 2 == 0 else np.nan for t in range(n)]
    closes = frame({"DAILY": geometric(n, 0.001), "SPARSE": sparse})
    result = generators.get("momentum")(closes)
    own = closes["SPARSE"].dropna().to_numpy()
    expected = np.sign(own[-1] / own[-1 - YEAR] - own[-1] / own[-1 - MONTH])
    assert result.loc["SPARSE", "value"] == expected == 1.0
    # The same number whatever else is read with it.
    alone = generators.get("momentum")(closes[["SPARSE"]])
    assert alone.loc["SPARSE", "value"] == result.loc["SPARSE", "value"]


def test_momentum_needs_253_closes():
    """Given 252 closes (one short), then no signal (NaN) and the rationale says why."""
    result = generators.get("momentum")(frame({"NEW": geometric(YEAR, 0.001)}))
    assert np.isnan(result.loc["NEW", "value"])
    assert "253" in result.loc["NEW", "rationale"]
    longer = generators.get("momentum")(frame({"NEW": geometric(YEAR + 1, 0.001)}))
    assert longer.loc["NEW", "value"] == 1.0


# --- Mean reversion -----------------------------------------------------------------------------


def test_mean_reversion_is_minus_the_z_score_against_the_20_day_mean():
    """Given a last close a little above its 20-day mean, then the signal is −z by hand (mean
    and ddof = 1 deviation of the last 20 closes, the last included); far above, −1 (clipped);
    far below, +1."""
    base = [100.0 + 0.5 * np.sin(t) for t in range(40)]
    near = [*base[:-1], 100.2]
    high = [*base[:-1], 130.0]
    low = [*base[:-1], 70.0]
    closes = frame({"NEAR": near, "HIGH": high, "LOW": low})
    result = generators.get("mean_reversion")(closes)
    window = np.array(near[-MEAN_REVERSION_WINDOW:])
    z = (window[-1] - window.mean()) / window.std(ddof=1)
    assert -1 < -z < 0
    assert result.loc["NEAR", "value"] == pytest.approx(-z, rel=1e-12)
    assert result.loc["HIGH", "value"] == -1.0
    assert result.loc["LOW", "value"] == 1.0
    assert "z = " in result.loc["NEAR", "rationale"]


def test_mean_reversion_without_movement_or_history_gives_no_signal():
    """Given flat closes (zero deviation) or 19 closes, then NaN with the reason."""
    closes = frame({"FLAT": [50.0] * 30, "SHORT": [50.0 + t for t in range(19)]})
    result = generators.get("mean_reversion")(closes)
    assert np.isnan(result.loc["FLAT", "value"])
    assert "do not move" in result.loc["FLAT", "rationale"]
    assert np.isnan(result.loc["SHORT", "value"])
    assert "fewer than 20" in result.loc["SHORT", "rationale"]


# --- Helpers and registry -----------------------------------------------------------------------


def test_packed_moves_each_columns_closes_to_the_bottom_in_order():
    closes = frame({"A": [1.0, np.nan, 3.0, 4.0], "B": [np.nan, np.nan, 7.0, np.nan]})
    values, count = packed(closes)
    assert list(count) == [3, 1]
    assert list(values[-3:, 0]) == [1.0, 3.0, 4.0]
    assert values[-1, 1] == 7.0
    assert np.isnan(values[:-1, 1]).all()


def test_a_desk_registers_its_own_generator(monkeypatch):
    """Given a function registered as "carry", then the registry lists and returns it; a second
    function under a taken name is refused."""
    monkeypatch.setattr(generators, "_REGISTRY", dict(generators._REGISTRY))

    @generators.register("carry")
    def carry(closes: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"value": 0.5, "rationale": "carry"}, index=closes.columns)

    assert generators.names() == ["carry", "mean_reversion", "momentum"]
    assert generators.get("carry") is carry
    with pytest.raises(ValueError, match="already registered"):
        generators.register("carry")(lambda closes: closes)
