"""Risk arithmetic (SPEC §4) as pure functions: no database, every figure checked by hand or by a
direct numpy recomputation written here."""

from __future__ import annotations

import datetime as dt
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import calculations as calc

NAN = float("nan")
Z95, Z99 = NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(0.99)
D = pd.bdate_range("2024-01-01", periods=12)  # D[0] = Mon 2024-01-01
PROPERTY = settings(max_examples=50, deadline=None)


def frame(rows, columns, start="2024-01-01") -> pd.DataFrame:
    rows = np.asarray(rows, dtype=float)
    return pd.DataFrame(rows, index=pd.bdate_range(start, periods=len(rows)), columns=columns)


def random_window(seed: int, scenarios: int, instruments: int):
    rng = np.random.default_rng(seed)
    names = [f"I{i}" for i in range(instruments)]
    window = frame(rng.normal(0.0, 0.01, (scenarios, instruments)), names)
    exposures = pd.Series(rng.uniform(-1e6, 1e6, instruments), index=names)
    return window, exposures


# --- VaR and ES by hand -------------------------------------------------------------------------

# Given 2 instruments, e = (1000, −500), 10 scenarios of round returns:
#   P&L = 1000·rA − 500·rB = 0, −25, 35, 0, −20, 0, −45, 20, −5, 20
#   sorted x(0..9) = −45, −25, −20, −5, 0, 0, 0, 20, 20, 35; mean −2
# numpy linear percentile q: h = (n − 1)·q/100 = 9·q/100, i = ⌊h⌋,
#   value = x(i) + (h − i)·(x(i+1) − x(i))
#   q = 5   → h = 0.45  → −45 + 0.45·20  = −36    → VaR95 = 36
#   q = 1   → h = 0.09  → −45 + 0.09·20  = −43.2  → VaR99 = 43.2
#   q = 2.5 → h = 0.225 → −45 + 0.225·20 = −40.5  → ES = −mean(P&L ≤ −40.5) = −mean(−45) = 45
# eᵀΣe = var(P&L, ddof=1) = Σ(x + 2)² / 9 = (4+529+1369+4+324+4+1849+484+9+484) / 9 = 5060/9
TWO_INSTRUMENTS = [
    [0.01, 0.02],
    [-0.02, 0.01],
    [0.03, -0.01],
    [0.00, 0.00],
    [-0.01, 0.02],
    [0.02, 0.04],
    [-0.03, 0.03],
    [0.01, -0.02],
    [0.00, 0.01],
    [0.02, 0.00],
]
# Given 1 instrument, e = 1000, returns 1 %, −3 %, 3 %, 1 %, −2 %: P&L = 10, −30, 30, 10, −20
#   sorted −30, −20, 10, 10, 30; mean 0; n − 1 = 4
#   q = 5 → h = 0.2 → −30 + 0.2·10 = −28; q = 1 → h = 0.04 → −29.6; q = 2.5 → h = 0.1 → −29
#   ES = −mean(P&L ≤ −29) = 30; σ² = (100 + 900 + 900 + 100 + 400)/4 = 600
ONE_INSTRUMENT = [[0.01], [-0.03], [0.03], [0.01], [-0.02]]

HAND_CASES = [
    pytest.param(
        TWO_INSTRUMENTS, {"A": 1000.0, "B": -500.0}, 36.0, 43.2, 45.0, 5060 / 9, id="2 x 10"
    ),
    pytest.param(ONE_INSTRUMENT, {"A": 1000.0}, 28.0, 29.6, 30.0, 600.0, id="1 x 5"),
]


@pytest.mark.parametrize(("rows", "exposures", "var95", "var99", "es", "variance"), HAND_CASES)
def test_value_at_risk_by_hand(rows, exposures, var95, var99, es, variance):
    """Given a small window and exposures, when value_at_risk runs, then each figure is the hand
    value above (parametric = z × σ_P&L, z from NormalDist, σ with ddof = 1)."""
    window = frame(rows, list(exposures))
    result = calc.value_at_risk(window, pd.Series(exposures))
    assert result.scenarios == len(rows)
    assert (result.first, result.last) == (dt.date(2024, 1, 1), window.index[-1].date())
    assert result.var_95 == pytest.approx(var95, rel=1e-12)
    assert result.var_99 == pytest.approx(var99, rel=1e-12)
    assert result.es_975 == pytest.approx(es, rel=1e-12)
    assert result.parametric_var_95 == pytest.approx(Z95 * math.sqrt(variance), rel=1e-12)
    assert result.parametric_var_99 == pytest.approx(Z99 * math.sqrt(variance), rel=1e-12)
    assert result.insufficient_history is True
    assert result.amounts()["var_95"] == result.var_95


# n = 41: h(2.5) = 40·0.025 = 1 exactly → the threshold is x(1) itself; "≤" keeps it in the tail.
TAIL_41 = [-50.0, -30.0, *range(0, 39)]
# n = 50: h(2.5) = 1.225 → −30 + 0.225·(0 + 30) = −23.25: the tail is {−50, −30} → ES 40.
TAIL_50 = [-50.0, -30.0, *range(0, 48)]
TAIL_CASES = [
    pytest.param(TAIL_41, 30.0, 40.0, id="n=41 integer index: x(1) in tail"),
    pytest.param(TAIL_50, 23.25, 40.0, id="n=50: two points in tail"),
    pytest.param([-7.0], 7.0, 7.0, id="one scenario"),
    pytest.param([5.0, 5.0, 5.0], -5.0, -5.0, id="all gains: negative VaR"),
]


@pytest.mark.parametrize(("pnl", "var975", "es"), TAIL_CASES)
def test_expected_shortfall_tail(pnl, var975, es):
    """Given a P&L vector, when ES 97.5 is computed, then it is −mean(P&L ≤ −VaR_0.975)."""
    pnl = np.array(pnl, dtype=float)
    assert calc.historical_var(pnl, 0.975) == pytest.approx(var975, rel=1e-12)
    assert calc.expected_shortfall(pnl) == pytest.approx(es, rel=1e-12)


def test_value_at_risk_equals_direct_numpy_on_random_book():
    """Given 50 instruments × 250 scenarios and exposures of both signs (passed in another
    order than the window's columns), when value_at_risk runs, then every figure equals the
    direct numpy formula of SPEC §4."""
    window, exposures = random_window(seed=20240101, scenarios=250, instruments=50)
    result = calc.value_at_risk(window, exposures.iloc[::-1])
    r, e = window.to_numpy(), exposures.to_numpy()
    pnl = r @ e
    sigma = np.cov(r, rowvar=False, ddof=1)
    assert result.scenarios == 250 and result.insufficient_history is False
    assert result.var_95 == pytest.approx(-np.percentile(pnl, 5), rel=1e-9)
    assert result.var_99 == pytest.approx(-np.percentile(pnl, 1), rel=1e-9)
    assert result.es_975 == pytest.approx(-pnl[pnl <= np.percentile(pnl, 2.5)].mean(), rel=1e-9)
    assert result.parametric_var_95 == pytest.approx(Z95 * math.sqrt(e @ sigma @ e), rel=1e-9)
    assert result.parametric_var_99 == pytest.approx(Z99 * math.sqrt(e @ sigma @ e), rel=1e-9)
    assert result.var_99 > result.var_95 > 0


@PROPERTY
@given(
    seed=st.integers(0, 2**32 - 1),
    scenarios=st.integers(2, 80),
    instruments=st.integers(1, 12),
    level=st.sampled_from([0.95, 0.975, 0.99]),
)
def test_parametric_var_of_pnl_equals_covariance_form(seed, scenarios, instruments, level):
    """Given any window shape, when parametric VaR is computed from the P&L variance, then it
    equals z × √(eᵀ Σ e) with Σ = np.cov(ddof=1) to 1e-10 relative."""
    window, exposures = random_window(seed, scenarios, instruments)
    r, e = window.to_numpy(), exposures.to_numpy()
    fast = calc.parametric_var(calc.scenario_pnl(r, e), level)
    assert fast == pytest.approx(calc.parametric_var_cov(r, e, level), rel=1e-10)


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), scenarios=st.integers(1, 120), k=st.floats(0.01, 100))
def test_var_ordering_and_homogeneity(seed, scenarios, k):
    """Given any book, then VaR99 ≥ VaR95, ES97.5 ≥ VaR97.5, and scaling exposures by k > 0
    scales every figure by k."""
    window, exposures = random_window(seed, scenarios, 3)
    base = calc.value_at_risk(window, exposures)
    scaled = calc.value_at_risk(window, exposures * k)
    pnl = calc.scenario_pnl(window.to_numpy(), exposures.to_numpy())
    assert base.var_99 >= base.var_95 - 1e-9
    assert base.es_975 >= calc.historical_var(pnl, 0.975) - 1e-9
    for name, value in base.amounts().items():
        if value is not None:
            assert scaled.amounts()[name] == pytest.approx(k * value, rel=1e-9, abs=1e-9)


# --- Scenario counts ----------------------------------------------------------------------------


def test_value_at_risk_without_scenarios():
    """Given an empty window, then every figure is None, 0 scenarios, insufficient history."""
    result = calc.value_at_risk(
        pd.DataFrame(columns=["A", "B"], dtype=float), pd.Series({"A": 1.0})
    )
    assert result.scenarios == 0
    assert (result.first, result.last) == (None, None)
    assert result.amounts() == dict.fromkeys(result.amounts(), None)
    assert result.insufficient_history is True


def test_value_at_risk_with_one_scenario():
    """Given one scenario with P&L −7, then VaR = ES = 7 and the parametric VaR is None (a
    sample variance needs two)."""
    result = calc.value_at_risk(frame([[-0.007]], ["A"]), pd.Series({"A": 1000.0}))
    assert result.scenarios == 1 and result.first == result.last == dt.date(2024, 1, 1)
    assert (result.var_95, result.var_99, result.es_975) == pytest.approx((7.0, 7.0, 7.0))
    assert (result.parametric_var_95, result.parametric_var_99) == (None, None)


@pytest.mark.parametrize(("scenarios", "insufficient"), [(59, True), (60, False), (61, False)])
def test_insufficient_history_threshold(scenarios, insufficient):
    """Given 59 / 60 / 61 scenarios, then insufficient_history flips at MIN_SCENARIOS = 60."""
    assert calc.MIN_SCENARIOS == 60
    window, exposures = random_window(7, scenarios, 2)
    result = calc.value_at_risk(window, exposures)
    assert result.scenarios == scenarios
    assert result.insufficient_history is insufficient
    assert result.parametric_var_95 is not None


# --- FX and returns -----------------------------------------------------------------------------

# Given USDEUR (direct) on D0, D1 and EURUSD / EURGBP (inverse) on D1, D2 / D0 only:
FX_DIRECT = pd.DataFrame({"USD": [0.9, 0.91]}, index=D[:2])
FX_INVERSE = pd.DataFrame({"USD": [NAN, 1.25, 1.2], "GBP": [0.8, NAN, NAN]}, index=D[:3])


@pytest.mark.parametrize(
    ("day", "ccy", "expected"),
    [
        pytest.param(0, "USD", 0.9, id="direct only"),
        pytest.param(1, "USD", 0.91, id="both: direct wins over 1/1.25"),
        pytest.param(2, "USD", 1 / 1.2, id="inverse only: 1/close"),
        pytest.param(0, "GBP", 1.25, id="currency only in the inverse pair"),
        pytest.param(1, "GBP", NAN, id="no rate: NaN"),
    ],
)
def test_fx_to_base(day, ccy, expected):
    """When fx_to_base combines the pairs, then each (date, currency) rate is as tabled."""
    got = calc.fx_to_base(FX_DIRECT, FX_INVERSE).loc[D[day], ccy]
    assert got == pytest.approx(expected, rel=1e-15, nan_ok=True)


def test_base_values_multiply_by_rate_or_give_nan():
    """Given a EUR, a USD (no USD rate on D1) and a JPY (no JPY rate at all) instrument in a EUR
    book, then the EUR one × 1, the USD one × rate with NaN on D1, the JPY one NaN, never 1.0."""
    closes = pd.DataFrame(
        {"EQ_EUR": [10.0, 11.0, 12.0], "EQ_USD": [100.0, 110.0, 120.0], "EQ_JPY": [1e3] * 3},
        index=D[:3],
    )
    currencies = pd.Series({"EQ_JPY": "JPY", "EQ_USD": "USD", "EQ_EUR": "EUR"})
    fx = pd.DataFrame({"USD": [0.9, 0.8, 0.7]}, index=[D[0], D[2], D[5]])
    got = calc.base_values(closes, currencies, fx, "EUR")
    assert list(got.columns) == list(closes.columns) and list(got.index) == list(D[:3])
    np.testing.assert_array_equal(got["EQ_EUR"], [10.0, 11.0, 12.0])
    np.testing.assert_allclose(got["EQ_USD"], [90.0, NAN, 96.0], rtol=1e-15)
    assert got["EQ_JPY"].isna().all()


def test_daily_returns_of_price_times_fx():
    """Given a USD close 100 → 110 and USDEUR 0.9 → 0.8, then the EUR return is
    (110·0.8)/(100·0.9) − 1 = 88/90 − 1, and the first date has no row."""
    closes = pd.DataFrame({"X": [100.0, 110.0]}, index=D[:2])
    fx = pd.DataFrame({"USD": [0.9, 0.8]}, index=D[:2])
    returns = calc.daily_returns(calc.base_values(closes, pd.Series({"X": "USD"}), fx, "EUR"))
    assert list(returns.index) == [D[1]]
    assert returns.loc[D[1], "X"] == pytest.approx(88 / 90 - 1, rel=1e-12)


def test_daily_returns_sort_dates_first():
    """Given closes listed newest first, then returns are still row to row in date order."""
    closes = pd.DataFrame({"X": [121.0, 110.0, 100.0]}, index=D[2::-1])
    returns = calc.daily_returns(closes)
    assert list(returns.index) == [D[1], D[2]]
    np.testing.assert_allclose(returns["X"], [0.1, 0.1], rtol=1e-12)


# --- Common dates ---------------------------------------------------------------------------------


def common_date_returns() -> pd.DataFrame:
    # A: closes D0..D9 except D6; B: closes from D3 only (the union of dates holds D6 through B).
    # Each column's return runs over its own dates: A has none on D6 (no close) and D7's spans
    # the gap, 107/105 − 1; B has none up to D3 (its first close). Common: D4, D5, D7, D8, D9.
    a = pd.Series(
        [100.0 + i for i in range(10) if i != 6], index=D[[i for i in range(10) if i != 6]]
    )
    b = pd.Series([50.0 + i for i in range(3, 10)], index=D[3:10])
    return calc.daily_returns(pd.concat({"A": a, "B": b}, axis=1, sort=True))


def test_missing_close_has_no_return_and_the_next_spans_the_gap():
    """Given A lacking D6's close and B starting at D3, then A has no return on D6 (never a
    zero), D7's is 107/105 − 1 over A's own previous close, and B has none up to D3."""
    returns = common_date_returns()
    assert list(returns.index) == list(D[1:10])
    assert returns["A"].isna().to_dict() == {d: d == D[6] for d in D[1:10]}
    assert returns["B"].isna().to_dict() == {d: d <= D[3] for d in D[1:10]}
    assert returns.loc[D[7], "A"] == pytest.approx(107 / 105 - 1, rel=1e-12)
    assert returns.loc[D[8], "A"] == pytest.approx(108 / 107 - 1, rel=1e-12)
    assert returns.loc[D[4], "B"] == pytest.approx(54 / 53 - 1, rel=1e-12)
    assert list(calc.common_returns(returns).index) == [D[i] for i in (4, 5, 7, 8, 9)]


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), days=st.integers(2, 30))
def test_returns_of_a_column_do_not_depend_on_the_others(seed, days):
    """Given closes with random holes, then a column's returns read with other columns equal its
    returns read alone (over its own dates)."""
    rng = np.random.default_rng(seed)
    closes = frame(rng.uniform(50, 150, (days, 3)), ["A", "B", "C"])
    closes = closes.mask(rng.random((days, 3)) < 0.3)
    together = calc.daily_returns(closes)
    for column in closes.columns:
        alone = calc.daily_returns(closes[[column]].dropna())[column].dropna()
        pd.testing.assert_series_equal(
            together[column].dropna(), alone, rtol=1e-12, check_freq=False
        )


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        pytest.param(3, [7, 8, 9], id="last 3 common dates"),
        pytest.param(5, [4, 5, 7, 8, 9], id="exactly all"),
        pytest.param(100, [4, 5, 7, 8, 9], id="more than the history: all"),
        pytest.param(calc.N_SCENARIOS, [4, 5, 7, 8, 9], id="default 250"),
        pytest.param(0, [], id="none asked"),
    ],
)
def test_scenario_window_takes_last_common_dates(n, expected):
    """When scenario_window asks for n dates, then it gets the last n common dates, oldest first."""
    window = calc.scenario_window(common_date_returns(), n)
    assert list(window.index) == [D[i] for i in expected]
    assert not window.isna().any().any()


# --- Stress: shocks -----------------------------------------------------------------------------

ASSET_CLASSES = pd.Series({"AAPL": "equity", "MSFT": "equity", "UST10": "bond", "GOLD": "cmdty"})
CLASS_SHOCKS = pd.DataFrame(
    {"equity": [-0.2, -0.1], "bond": [0.05, -0.03]}, index=["crash", "rates_up"]
)
OWN_SHOCKS = pd.DataFrame({"MSFT": [-0.3, NAN]}, index=["crash", "rates_up"])


@pytest.mark.parametrize(
    ("scenario", "instrument", "expected"),
    [
        pytest.param("crash", "AAPL", -0.2, id="class shock"),
        pytest.param("crash", "MSFT", -0.3, id="own shock beats its class"),
        pytest.param("rates_up", "MSFT", -0.1, id="no own shock in scenario: class"),
        pytest.param("crash", "UST10", 0.05, id="other class"),
        pytest.param("crash", "GOLD", 0.0, id="unlisted class: 0"),
        pytest.param("rates_up", "GOLD", 0.0, id="unlisted class, other scenario: 0"),
    ],
)
def test_shock_matrix(scenario, instrument, expected):
    """When shock_matrix builds scenario × instrument returns, then each cell is as tabled."""
    shocks = calc.shock_matrix(ASSET_CLASSES, CLASS_SHOCKS, OWN_SHOCKS)
    assert list(shocks.columns) == list(ASSET_CLASSES.index)
    assert list(shocks.index) == ["crash", "rates_up"]
    assert shocks.loc[scenario, instrument] == expected


@pytest.mark.parametrize("own", [None, pd.DataFrame()], ids=["no own shocks", "empty frame"])
def test_shock_matrix_without_instrument_shocks(own):
    """Given no per-instrument shocks, then MSFT takes its class shock in every scenario."""
    shocks = calc.shock_matrix(ASSET_CLASSES, CLASS_SHOCKS, own)
    assert shocks["MSFT"].tolist() == [-0.2, -0.1]
    assert shocks["GOLD"].tolist() == [0.0, 0.0]


def test_stress_pnl_for_several_scenarios():
    """Given exposures AAPL 1000, MSFT 2000, UST10 −500, none for GOLD and one for an instrument
    not in the matrix, then P&L = shocks @ e per scenario:
    crash −200 − 600 − 25 + 0 = −825; rates_up −100 − 200 + 15 + 0 = −285."""
    shocks = calc.shock_matrix(ASSET_CLASSES, CLASS_SHOCKS, OWN_SHOCKS)
    exposures = pd.Series({"UST10": -500.0, "MSFT": 2000.0, "AAPL": 1000.0, "TSLA": 9e9})
    pnl = calc.stress_pnl(shocks, exposures)
    assert list(pnl.index) == ["crash", "rates_up"]
    np.testing.assert_allclose(pnl.to_numpy(), [-825.0, -285.0], rtol=1e-12)


# --- Stress: worst historical windows -----------------------------------------------------------

HISTORY = pd.bdate_range("2022-01-03", periods=300)
CRASH, RALLY, RUN = 100, 50, 200  # the −10 % / −5 % day, the +8 % / +4 % day, 5 days of −2 %


def planted_history() -> pd.DataFrame:
    # Calm days draw from ±0.02 %, so no calm window of ≤ 20 days moves a 1500 book by > 6.
    # Days 180..199 lose 0.01 % each and days 205..224 gain 0.01 %, so among the 20-day windows
    # holding the whole run the one starting at day 185 (15 losing days) is strictly the worst.
    rng = np.random.default_rng(42)
    r = rng.uniform(-2e-4, 2e-4, (300, 2))
    r[180:200] = -1e-4
    r[205:225] = 1e-4
    r[RUN : RUN + 5] = -0.02
    r[CRASH] = [-0.10, -0.05]
    r[RALLY] = [0.08, 0.04]
    return pd.DataFrame(r, index=HISTORY, columns=["A", "B"])


LONG = pd.Series({"A": 1000.0, "B": 500.0})
RUN_PNL = 1500 * (0.98**5 - 1)  # both instruments −2 % for 5 days: −144.1188…
WORST_CASES = [
    # 1 day: the crash, 1000·(−0.10) + 500·(−0.05) = −125.
    pytest.param(LONG, 1, CRASH, CRASH, -125.0, id="long 1d: crash day"),
    pytest.param(LONG, 5, RUN, RUN + 4, RUN_PNL, id="long 5d: the run"),
    pytest.param(LONG, 20, 185, RUN + 4, 1500 * (0.98**5 * 0.9999**15 - 1), id="long 20d"),
    # Short the same book: the worst day is the rally, −1000·0.08 − 500·0.04 = −100.
    pytest.param(-LONG, 1, RALLY, RALLY, -100.0, id="short 1d: rally day"),
]


@pytest.mark.parametrize(("exposures", "days", "start", "end", "pnl"), WORST_CASES)
def test_worst_windows_find_the_planted_shock(exposures, days, start, end, pnl):
    """Given 300 calm days with a planted crash, rally and 5-day run, when worst_windows runs,
    then the window of each length has the tabled dates and Σ e_i × (Π(1 + r) − 1)."""
    found = {w.days: w for w in calc.worst_windows(planted_history(), exposures)}
    assert sorted(found) == [1, 5, 20]
    window = found[days]
    assert (window.start, window.end) == (HISTORY[start].date(), HISTORY[end].date())
    assert window.pnl == pytest.approx(pnl, rel=1e-9)


def test_worst_windows_short_book_longer_windows_hold_the_rally():
    """Given the short book, then the worst 5- and 20-day windows contain the rally day."""
    for window in calc.worst_windows(planted_history(), -LONG, (5, 20)):
        assert window.start <= HISTORY[RALLY].date() <= window.end
        assert window.pnl < -90


@pytest.mark.parametrize(
    ("length", "expected_days"),
    [(0, []), (3, [1]), (5, [1, 5]), (19, [1, 5]), (20, [1, 5, 20])],
)
def test_worst_windows_omit_lengths_longer_than_history(length, expected_days):
    """Given a history of `length` days, then only windows of at most that many days appear."""
    returns = frame(np.full((length, 1), -0.01), ["A"])
    assert [w.days for w in calc.worst_windows(returns, pd.Series({"A": 1.0}))] == expected_days


def test_worst_windows_tie_goes_to_earliest():
    """Given returns 0, −5 %, 0, −5 %, 0 (exact ties), then the 1-day winner is D1 and the 2-day
    winner is D0..D1, each with P&L −50 on 1000."""
    returns = frame([[0.0], [-0.05], [0.0], [-0.05], [0.0]], ["A"])
    one, two = calc.worst_windows(returns, pd.Series({"A": 1000.0}), (1, 2))
    assert (one.start, one.end, one.pnl) == (D[1].date(), D[1].date(), pytest.approx(-50.0))
    assert (two.start, two.end, two.pnl) == (D[0].date(), D[1].date(), pytest.approx(-50.0))


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), days=st.integers(1, 40), instruments=st.integers(1, 4))
def test_worst_windows_equal_brute_force(seed, days, instruments):
    """Given any small history, then each worst window equals a plain loop over every window."""
    returns, exposures = random_window(seed, days, instruments)
    e = exposures.to_numpy()
    found = calc.worst_windows(returns, exposures)
    assert [w.days for w in found] == [n for n in (1, 5, 20) if n <= days]
    for window in found:
        pnls = [
            float(e @ (np.prod(1 + returns.to_numpy()[k : k + window.days], axis=0) - 1))
            for k in range(days - window.days + 1)
        ]
        k = pnls.index(min(pnls))
        assert window.start == returns.index[k].date()
        assert window.end == returns.index[k + window.days - 1].date()
        assert window.pnl == pytest.approx(pnls[k], rel=1e-9, abs=1e-6)


# --- Limits, drawdown, growth index -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "utilization", "status"),
    [
        pytest.param(0.01, 0.5, "ok", id="well below soft"),
        pytest.param(0.015 - 1e-12, (0.015 - 1e-12) / 0.02, "ok", id="just below soft"),
        pytest.param(0.015, 0.75, "warning", id="exactly soft"),
        pytest.param(0.02 - 1e-12, (0.02 - 1e-12) / 0.02, "warning", id="just below hard"),
        pytest.param(0.02, 1.0, "breach", id="exactly hard"),
        pytest.param(0.03, 1.5, "breach", id="above hard"),
        pytest.param(-0.01, -0.5, "ok", id="negative"),
        pytest.param(None, None, "unavailable", id="None"),
        pytest.param(NAN, None, "unavailable", id="NaN"),
        pytest.param(math.inf, None, "unavailable", id="inf"),
    ],
)
def test_limit_status(value, utilization, status):
    """Given soft 1.5 % and hard 2 %, then (value / hard, status) is as tabled."""
    got_utilization, got_status = calc.limit_status(value, soft=0.015, hard=0.02)
    assert got_status == status
    assert got_utilization == (None if utilization is None else pytest.approx(utilization))


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        pytest.param([1.0, 1.2, 0.9], 0.25, id="peak then fall: 1 − 0.9/1.2"),
        pytest.param([1.0, 0.5, 0.8], 0.2, id="below the first value"),
        pytest.param([1.0, 1.2, 0.9, 1.3], 0.0, id="new high"),
        pytest.param([1.0, 1.2, 1.2], 0.0, id="at the peak"),
        pytest.param([], 0.0, id="empty"),
        pytest.param([1.0], 0.0, id="inception only"),
        pytest.param([0.0, -1.0], 0.0, id="no positive peak"),
    ],
)
def test_drawdown(index, expected):
    """Given an index, then drawdown = 1 − last / peak, at least 0."""
    assert calc.drawdown(np.array(index)) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        pytest.param([], [1.0], id="empty: inception only"),
        pytest.param([0.1, -0.5], [1.0, 1.1, 0.55], id="compounded"),
        pytest.param([0.2, -0.25, 0.0], [1.0, 1.2, 0.9, 0.9], id="flat day"),
    ],
)
def test_growth_index(returns, expected):
    """Given daily returns, then the index is 1 followed by Π(1 + r_t)."""
    np.testing.assert_allclose(calc.growth_index(np.array(returns)), expected, rtol=1e-15)


def test_drawdown_of_growth_index():
    """Given +20 % then −25 %, then the growth index ends 0.9 under a 1.2 peak: drawdown 25 %."""
    assert calc.drawdown(calc.growth_index([0.2, -0.25])) == pytest.approx(0.25)
