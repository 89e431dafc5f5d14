"""The pure attribution maths (SPEC §5): Carino linking, TWR, statistics, period anchors and the
exact daily segment totals. No database.

Every expectation is computed here independently (plain ``math`` loops, a direct numpy
recomputation, or numbers written out by hand); none is taken from the module's own output.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution import calculations as calc
from portfolio import calculations as pcalc

from .reference import reference_linking

PURE = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
UNITS = 10**8  # 1e-8 units per currency unit


# --- Hypothesis strategies --------------------------------------------------------------------


@st.composite
def pnl_matrices(draw):
    """(pnl in cents as int, capital per day): days × segments, |r_t| ≤ 5 %; some days return
    exactly zero (all segments flat, or offsetting segments)."""
    n_days = draw(st.integers(1, 20))
    n_seg = draw(st.integers(1, 5))
    capital = draw(st.lists(st.integers(100_000, 10**9), min_size=n_days, max_size=n_days))
    rows = []
    for t in range(n_days):
        kind = draw(st.sampled_from(["random", "random", "random", "flat", "offsetting"]))
        bound = capital[t] * 100 // (20 * n_seg)  # cents; Σ_k |pnl| ≤ 5 % of capital
        if kind == "flat":
            rows.append([0] * n_seg)
        elif kind == "offsetting" and n_seg >= 2:
            x = draw(st.integers(-bound, bound))
            rows.append([x, -x] + [0] * (n_seg - 2))
        else:
            rows.append(draw(st.lists(st.integers(-bound, bound), min_size=n_seg, max_size=n_seg)))
    return np.array(rows, dtype=np.int64), np.array(capital, dtype=float)


def returns_of(cents: np.ndarray, capital: np.ndarray) -> np.ndarray:
    """r_t = Σ_k pnl_k,t / capital_t, as the SPEC builds it."""
    return np.array(
        [sum(float(v) / 100 for v in cents[t]) / capital[t] for t in range(len(capital))]
    )


# --- Carino linking ---------------------------------------------------------------------------


@PURE
@given(pnl_matrices())
def test_carino_linked_contributions_sum_to_the_twr(case):
    cents, capital = case
    pnl = cents / 100.0
    returns = returns_of(cents, capital)
    # Given the daily contributions c_k,t = pnl_k,t / capital_t
    contributions = calc.contributions(pnl, capital)
    assert contributions.shape == pnl.shape
    # When they are linked over the days
    linked = calc.linked_contributions(contributions, returns)
    # Then Σ_k C_k is the TWR Π(1 + r_t) − 1 to 1e-12, each C_k the reference one
    expected_twr = float(np.prod(1.0 + returns) - 1.0)
    assert abs(float(linked.sum()) - expected_twr) <= 1e-12
    assert abs(calc.twr(returns) - expected_twr) <= 1e-12
    reference, big_r = reference_linking(pnl.tolist(), capital.tolist())
    assert abs(big_r - expected_twr) <= 1e-12
    assert np.allclose(linked, reference, rtol=1e-9, atol=1e-13)


@PURE
@given(pnl_matrices())
def test_link_weights_and_attribute_give_exact_pnl_and_contributions_summing_to_the_twr(case):
    cents, capital = case
    returns = returns_of(cents, capital)
    n_days, n_seg = cents.shape
    # Given the segment totals in 1e-8 units (cents × 1e6), one entry per day and segment
    day_numbers = np.arange(19_800, 19_800 + n_days, dtype=np.int64)
    days = np.repeat(day_numbers, n_seg)
    keys = np.array([f"S{k}" for k in range(n_seg)] * n_days, dtype=object)
    units = (cents * 10**6).reshape(-1)
    # When they are attributed with the link weights a_t = k_t / (K × capital_t)
    weights = pd.Series(calc.link_weights(returns, capital), index=day_numbers)
    rows = calc.attribute(days, keys, units, weights=weights)
    # Then each segment's P&L is its exact integer sum, and Σ contributions = the TWR
    assert {r.key: r.units for r in rows} == {
        f"S{k}": sum(int(cents[t, k]) * 10**6 for t in range(n_days)) for k in range(n_seg)
    }
    assert all(isinstance(r.units, int) for r in rows)
    twr = float(np.prod(1.0 + returns) - 1.0)
    assert abs(sum(r.contribution for r in rows) - twr) <= 1e-12
    reference, _ = reference_linking((cents / 100.0).tolist(), capital.tolist())
    by_key = {r.key: r.contribution for r in rows}
    for k in range(n_seg):
        assert by_key[f"S{k}"] == pytest.approx(reference[k], rel=1e-9, abs=1e-13)
    # And the rows are sorted by contribution, largest first, then by key
    assert [r.key for r in rows] == [
        key for key, _ in sorted(by_key.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


@PURE
@given(
    st.lists(st.floats(-0.5, 2.0, allow_nan=False, exclude_min=True), min_size=1, max_size=10),
    st.integers(1, 4),
)
def test_periods_whose_growth_cancels_link_to_a_zero_twr(first_half, n_seg):
    # Given returns followed by their inverses (1 + r)(1 + r') = 1: R = 0 up to rounding
    returns = first_half + [1.0 / (1.0 + r) - 1.0 for r in first_half]
    rng = np.random.default_rng(len(first_half) * 10 + n_seg)
    split = rng.dirichlet(np.ones(n_seg), size=len(returns))  # segment shares of each day
    contributions = split * np.array(returns)[:, None]
    # When linked
    linked = calc.linked_contributions(contributions, np.array(returns))
    # Then Σ C_k equals the (near-zero) TWR to 1e-12
    assert abs(float(linked.sum()) - (float(np.prod(1.0 + np.array(returns))) - 1.0)) <= 1e-12
    assert abs(float(linked.sum())) <= 1e-12


def test_exact_zero_twr_uses_k_equal_one():
    # Given +100 % then −50 %: ln 2 − ln 2 = 0 exactly, so R = 0 and K = 1
    returns = np.array([1.0, -0.5])
    k, big_k = calc.carino_factors(returns)
    assert big_k == 1.0
    assert k[0] == pytest.approx(math.log(2.0), rel=1e-15)  # ln 2 / 1
    assert k[1] == pytest.approx(math.log(0.5) / -0.5, rel=1e-15)  # 2 ln 2
    # And two segments sharing each day 3:1 link to 0.75 and 0.25 of Σ_t k_t r_t = 0
    contributions = np.array([[0.75, 0.25], [-0.375, -0.125]])
    linked = calc.linked_contributions(contributions, returns)
    assert linked.sum() == pytest.approx(0.0, abs=1e-15)
    assert linked[0] == pytest.approx(0.75 * math.log(2) - 0.375 * 2 * math.log(2), abs=1e-15)


def test_every_day_flat_gives_zero_contributions():
    returns = np.zeros(3)
    k, big_k = calc.carino_factors(returns)
    assert k.tolist() == [1.0, 1.0, 1.0] and big_k == 1.0
    assert calc.linked_contributions(np.zeros((3, 2)), returns).tolist() == [0.0, 0.0]
    assert calc.twr(returns) == 0.0


def test_two_segments_three_days_by_hand():
    # Segments A and B; the capital at the start of each day is NAV(t−1) + flow(t):
    #   day 1: capital 1,000,000; P&L A +6,000, B +4,000 → r1 = 10,000 / 1,000,000 = 0.01
    #          NAV 1,010,000; day 2 opens with a subscription of 90,000
    #   day 2: capital 1,100,000; P&L A −3,300, B +1,100 → r2 = −2,200 / 1,100,000 = −0.002
    #          NAV 1,097,800
    #   day 3: capital 1,097,800; P&L A +500, B −500   → r3 = 0
    # R = 1.01 × 0.998 − 1 = 0.00798
    # k1 = ln(1.01) / 0.01 = 0.99503308531681
    # k2 = ln(0.998) / −0.002 = 1.00100133533654
    # k3 = 1 (a zero-return day)
    # K = ln(1.00798) / 0.00798 = 0.99603110056330
    # c_A = (0.006, −0.003, 500 / 1,097,800 = 0.000455456367...), c_B = (0.004, 0.001, −c_A3)
    # C_A = (k1 × 0.006 + k2 × (−0.003) + c_A3) / K = 0.0034362891592799
    # C_B = (k1 × 0.004 + k2 × 0.001 − c_A3) / K = 0.0045437108407200
    # C_A + C_B = 0.00798 = R
    pnl = np.array([[6_000.0, 4_000.0], [-3_300.0, 1_100.0], [500.0, -500.0]])
    capital = np.array([1_000_000.0, 1_100_000.0, 1_097_800.0])
    returns = np.array([0.01, -0.002, 0.0])

    k, big_k = calc.carino_factors(returns)
    assert k[0] == pytest.approx(0.99503308531681, abs=1e-13)
    assert k[1] == pytest.approx(1.00100133533654, abs=1e-13)
    assert k[2] == 1.0
    assert big_k == pytest.approx(0.99603110056330, abs=1e-13)
    c = calc.contributions(pnl, capital)
    assert c[:, 0] == pytest.approx([0.006, -0.003, 500 / 1_097_800], abs=1e-16)
    assert c[:, 1] == pytest.approx([0.004, 0.001, -500 / 1_097_800], abs=1e-16)
    assert calc.twr(returns) == pytest.approx(0.00798, abs=1e-15)

    linked = calc.linked_contributions(c, returns)
    assert linked[0] == pytest.approx(0.0034362891592799, abs=1e-15)
    assert linked[1] == pytest.approx(0.0045437108407200, abs=1e-15)
    assert linked.sum() == pytest.approx(0.00798, abs=1e-12)

    # The same through the per-currency link weights a_t = k_t / (K × capital_t)
    a = calc.link_weights(returns, capital)
    assert a == pytest.approx(
        [
            0.99503308531681 / (0.99603110056330 * 1_000_000),
            1.00100133533654 / (0.99603110056330 * 1_100_000),
            1.0 / (0.99603110056330 * 1_097_800),
        ],
        rel=1e-12,
    )
    rows = calc.attribute(
        np.array([1, 1, 2, 2, 3, 3]),
        np.array(["A", "B"] * 3, dtype=object),
        (pnl.reshape(-1) * UNITS).astype(np.int64),
        weights=pd.Series(a, index=[1, 2, 3]),
    )
    assert [(r.key, r.units) for r in rows] == [("B", 4_600 * UNITS), ("A", 3_200 * UNITS)]
    assert rows[0].contribution == pytest.approx(0.0045437108407200, abs=1e-15)
    assert rows[1].contribution == pytest.approx(0.0034362891592799, abs=1e-15)


# --- Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("capital", [[1_000_000.0, -5.0], [-1.0]])
def test_link_weights_refuse_a_negative_capital(capital):
    returns = np.zeros(len(capital))
    with pytest.raises(calc.AttributionInputError, match="capital"):
        calc.link_weights(returns, np.array(capital))


def test_a_day_without_capital_contributes_nothing():
    """Everything redeemed: the book's return of that day is 0, and so is every contribution."""
    weights = calc.link_weights(np.array([0.01, 0.0, 0.02]), np.array([1e6, 0.0, 5e5]))
    assert weights[1] == 0.0
    assert weights[0] > 0 and weights[2] > 0


@pytest.mark.parametrize("bad", [-1.0, -1.5, float("nan")])
def test_a_return_at_or_below_minus_100_percent_is_refused(bad):
    returns = np.array([0.01, bad, 0.02])
    with pytest.raises(calc.AttributionInputError):
        calc.carino_factors(returns)
    with pytest.raises(calc.AttributionInputError):
        calc.link_weights(returns, np.full(3, 1_000_000.0))
    with pytest.raises(calc.AttributionInputError):
        calc.linked_contributions(np.zeros((3, 1)), returns)


def test_attribute_refuses_a_total_outside_the_weighted_days():
    weights = pd.Series([1e-6], index=[10])
    with pytest.raises(calc.AttributionInputError):
        calc.attribute(
            np.array([11]), np.array(["A"], dtype=object), np.array([5]), weights=weights
        )
    assert (
        calc.attribute(np.empty(0), np.empty(0, dtype=object), np.empty(0), weights=weights) == []
    )


# --- TWR and statistics -----------------------------------------------------------------------


@PURE
@given(st.lists(st.floats(-0.2, 0.2, allow_nan=False), max_size=40))
def test_twr_is_the_compounded_return(returns):
    expected = 1.0
    for r in returns:
        expected *= 1.0 + r
    assert calc.twr(np.array(returns)) == pytest.approx(expected - 1.0, rel=1e-12, abs=1e-14)


def test_twr_by_hand():
    assert calc.twr(np.array([])) == 0.0
    assert calc.twr(np.array([0.1, -0.1])) == pytest.approx(-0.01, abs=1e-15)  # 1.1 × 0.9 − 1
    assert calc.twr(np.array([0.5, 0.5, -0.5])) == pytest.approx(0.125, abs=1e-15)


def direct_max_drawdown(returns) -> float:
    """Max fall of the index from its running peak, the index starting at 1 on the anchor."""
    index = np.concatenate([[1.0], np.cumprod(1.0 + np.asarray(returns, dtype=float))])
    worst, peak = 0.0, -np.inf
    for value in index:
        peak = max(peak, value)
        worst = max(worst, 1.0 - value / peak)
    return worst


@PURE
@given(
    st.lists(
        st.floats(-0.1, 0.1, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-9),
        min_size=2,
        max_size=60,
    ).filter(lambda r: len(set(r)) > 1)
)
def test_statistics_against_numpy(returns):
    r = np.array(returns)
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(r))]
    stats = calc.statistics(dates, r)
    std = np.std(r, ddof=1)
    assert stats.days == len(r)
    assert stats.twr == pytest.approx(float(np.prod(1 + r) - 1), rel=1e-12, abs=1e-15)
    assert stats.volatility == pytest.approx(math.sqrt(252) * std, rel=1e-12)
    assert stats.sharpe == pytest.approx(math.sqrt(252) * np.mean(r) / std, rel=1e-9, abs=1e-12)
    assert stats.max_drawdown == pytest.approx(direct_max_drawdown(r), rel=1e-9, abs=1e-15)
    assert stats.max_drawdown >= 0
    assert stats.hit_rate == sum(1 for x in returns if x > 0) / len(returns)
    best_date, best = stats.best_day
    worst_date, worst = stats.worst_day
    assert best == max(returns) and returns[dates.index(best_date)] == best
    assert worst == min(returns) and returns[dates.index(worst_date)] == worst


def test_statistics_by_hand():
    # returns +1 %, −2 %, +0.5 %, 0: index 1.01, 0.9898, 0.994749, 0.994749
    dates = [dt.date(2024, 4, d) for d in (1, 2, 3, 4)]
    r = [0.01, -0.02, 0.005, 0.0]
    stats = calc.statistics(dates, np.array(r))
    mean = (0.01 - 0.02 + 0.005 + 0.0) / 4  # −0.00125
    var = sum((x - mean) ** 2 for x in r) / 3
    assert stats.twr == pytest.approx(1.01 * 0.98 * 1.005 - 1, abs=1e-15)  # −0.005251
    assert stats.volatility == pytest.approx(math.sqrt(252 * var), rel=1e-12)
    assert stats.sharpe == pytest.approx(math.sqrt(252) * mean / math.sqrt(var), rel=1e-12)
    # peak 1.01 on day 1, trough 0.9898 on day 2: 1 − 0.9898 / 1.01 = 0.02
    assert stats.max_drawdown == pytest.approx(0.02, abs=1e-15)
    assert stats.hit_rate == 0.5
    assert stats.best_day == (dt.date(2024, 4, 1), 0.01)
    assert stats.worst_day == (dt.date(2024, 4, 2), -0.02)


def test_drawdown_counts_a_fall_from_the_anchor():
    # A first day's loss is a drawdown from the anchor's 1: 1 − 0.97 = 0.03
    assert calc.max_drawdown(np.array([-0.03, 0.01])) == pytest.approx(0.03, abs=1e-15)
    assert calc.max_drawdown(np.array([0.01, 0.02])) == 0.0
    assert calc.max_drawdown(np.array([])) == 0.0


def test_statistics_of_no_day():
    stats = calc.statistics([], np.array([]))
    assert stats.days == 0
    assert stats.twr == 0.0
    assert stats.volatility is None and stats.sharpe is None
    assert stats.max_drawdown == 0.0
    assert stats.hit_rate is None
    assert stats.best_day is None and stats.worst_day is None


@pytest.mark.parametrize("r", [0.004, -0.004, 0.0])
def test_statistics_of_one_day(r):
    day = dt.date(2024, 4, 1)
    stats = calc.statistics([day], np.array([r]))
    assert stats.days == 1
    assert stats.twr == pytest.approx(r, abs=1e-16)
    assert stats.volatility is None and stats.sharpe is None
    assert stats.max_drawdown == pytest.approx(max(0.0, -r), abs=1e-15)
    assert stats.hit_rate == (1.0 if r > 0 else 0.0)
    assert stats.best_day == (day, r) and stats.worst_day == (day, r)


@pytest.mark.parametrize(
    "returns",
    [[0.0] * 5, [0.002, 0.002], [0.01] * 10, [0.1] * 3, [-0.003] * 7],
    ids=["flat", "two-equal", "ten-at-1pct", "three-at-10pct", "seven-at-minus-0.3pct"],
)
def test_statistics_of_all_equal_returns_have_no_sharpe(returns):
    # The standard deviation of equal returns is 0: the volatility is 0 and the Sharpe ratio
    # (mean / 0) does not exist, whatever rounding the mean picks up on the way.
    dates = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(len(returns))]
    stats = calc.statistics(dates, np.array(returns))
    assert stats.volatility == pytest.approx(0.0, abs=1e-12)
    assert stats.sharpe is None


# --- Period anchors ---------------------------------------------------------------------------

INCEPTION = dt.date(2023, 6, 15)
ANCHORS = [
    # as_of Monday 2024-04-01: the previous business day, week, month and quarter end Fri 29 March
    ("1D", dt.date(2024, 4, 1), dt.date(2024, 3, 29)),
    ("WTD", dt.date(2024, 4, 1), dt.date(2024, 3, 29)),
    ("MTD", dt.date(2024, 4, 1), dt.date(2024, 3, 29)),
    ("QTD", dt.date(2024, 4, 1), dt.date(2024, 3, 29)),
    ("YTD", dt.date(2024, 4, 1), dt.date(2023, 12, 29)),  # 31 Dec 2023 was a Sunday
    ("ITD", dt.date(2024, 4, 1), INCEPTION),
    # as_of Thursday 2025-01-02: the year ended on Tuesday 2024-12-31
    ("YTD", dt.date(2025, 1, 2), dt.date(2024, 12, 31)),
    ("QTD", dt.date(2025, 1, 2), dt.date(2024, 12, 31)),
    ("MTD", dt.date(2025, 1, 2), dt.date(2024, 12, 31)),
    ("WTD", dt.date(2025, 1, 2), dt.date(2024, 12, 27)),  # the week began Mon 30 December
    ("1D", dt.date(2025, 1, 2), dt.date(2025, 1, 1)),  # Mon–Fri calendar, no holidays
    # June 2024 began on a Saturday: its MTD is anchored on Friday 31 May
    ("MTD", dt.date(2024, 6, 3), dt.date(2024, 5, 31)),
    ("QTD", dt.date(2024, 6, 3), dt.date(2024, 3, 29)),
    ("1D", dt.date(2024, 6, 3), dt.date(2024, 5, 31)),
    ("WTD", dt.date(2024, 6, 3), dt.date(2024, 5, 31)),
    # September 2024 began on a Sunday
    ("MTD", dt.date(2024, 9, 2), dt.date(2024, 8, 30)),
    ("MTD", dt.date(2024, 9, 30), dt.date(2024, 8, 30)),
    ("QTD", dt.date(2024, 9, 30), dt.date(2024, 6, 28)),
    # Mid-week days
    ("1D", dt.date(2024, 4, 3), dt.date(2024, 4, 2)),
    ("WTD", dt.date(2024, 4, 3), dt.date(2024, 3, 29)),
    ("WTD", dt.date(2024, 4, 5), dt.date(2024, 3, 29)),
    ("MTD", dt.date(2024, 5, 1), dt.date(2024, 4, 30)),  # 1 May 2024: a Wednesday
    ("MTD", dt.date(2024, 3, 29), dt.date(2024, 2, 29)),  # 1 March 2024: a Friday; leap year
    ("QTD", dt.date(2024, 3, 29), dt.date(2023, 12, 29)),
    ("QTD", dt.date(2024, 12, 31), dt.date(2024, 9, 30)),
    ("QTD", dt.date(2024, 7, 1), dt.date(2024, 6, 28)),
    ("YTD", dt.date(2024, 12, 31), dt.date(2023, 12, 29)),
    ("ITD", dt.date(2025, 1, 2), INCEPTION),
]


@pytest.mark.parametrize(("period", "as_of", "anchor"), ANCHORS)
def test_period_anchor(period, as_of, anchor):
    assert calc.period_anchor(period, as_of, inception=INCEPTION) == anchor
    # the same with the portfolio app's business-day calendar, which the report passes
    assert (
        calc.period_anchor(
            period, as_of, inception=INCEPTION, previous_business_day=pcalc.previous_business_day
        )
        == anchor
    )
    assert anchor < as_of
    if period != "ITD":
        assert anchor.weekday() < 5


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="MTH"):
        calc.period_anchor("MTH", dt.date(2024, 4, 1), inception=INCEPTION)


# --- Segment totals ---------------------------------------------------------------------------

SEGMENTS = pd.DataFrame(
    {
        "strategy": ["TREND", "CARRY", "TREND", "MANUAL"],
        "asset_class": ["EQUITY", "RATES", "COMMODITY", "EQUITY"],
        "instrument": ["ES", "FGBL", "GC", "NQ"],
        "currency": ["USD", "EUR", "USD", "USD"],
    },
    index=pd.Index([42, 7, 13, 3], name="id"),  # ids neither sorted nor contiguous
)
DAY0 = 19_800  # 2024-03-18 in days since 1970-01-01


def expected_totals(days, positions, units) -> dict[str, dict[tuple[int, str], int]]:
    out: dict[str, dict[tuple[int, str], int]] = {}
    for dim in calc.DIMENSIONS:
        sums: dict[tuple[int, str], int] = {}
        for d, p, u in zip(days, positions, units, strict=True):
            key = (int(d), SEGMENTS.loc[p, dim])
            sums[key] = sums.get(key, 0) + int(u)
        out[dim] = sums
    return out


@PURE
@given(
    st.lists(
        st.tuples(
            st.integers(DAY0, DAY0 + 4),
            st.sampled_from([42, 7, 13, 3]),
            st.integers(-(2**55), 2**55),
        ),
        max_size=60,
    )
)
def test_segment_totals_are_exact_integer_sums_in_day_and_key_order(entries):
    days = [e[0] for e in entries]
    positions = [e[1] for e in entries]
    units = [e[2] for e in entries]
    frames = calc.segment_totals(
        np.array(days, dtype=np.int64),
        np.array(positions, dtype=np.int64),
        np.array(units, dtype=np.int64),
        SEGMENTS,
    )
    assert set(frames) == set(calc.DIMENSIONS)
    expected = expected_totals(days, positions, units)
    for dim, frame in frames.items():
        assert list(frame.columns) == ["day", "key", "units"]
        got = {
            (int(d), k): int(u)
            for d, k, u in zip(frame["day"], frame["key"], frame["units"], strict=True)
        }
        assert got == expected[dim]
        assert len(frame) == len(expected[dim])
        order = list(zip(frame["day"].tolist(), frame["key"].tolist(), strict=True))
        assert order == sorted(order)


def test_segment_totals_by_hand_beyond_float_precision():
    # 2**53 + 1 is not a float: a float sum would lose the odd unit
    big = 2**53 + 1
    frames = calc.segment_totals(
        np.array([DAY0, DAY0, DAY0, DAY0 + 1, DAY0 + 1]),
        np.array([42, 13, 7, 3, 42]),
        np.array([big, 2, -5, 11, -big]),
        SEGMENTS,
    )
    strategy = frames["strategy"]
    assert strategy.to_dict("list") == {
        "day": [DAY0, DAY0, DAY0 + 1, DAY0 + 1],
        "key": ["CARRY", "TREND", "MANUAL", "TREND"],
        "units": [-5, big + 2, 11, -big],
    }
    assert strategy["units"].dtype == np.int64
    assert frames["currency"].to_dict("list") == {
        "day": [DAY0, DAY0, DAY0 + 1],
        "key": ["EUR", "USD", "USD"],
        "units": [-5, big + 2, 11 - big],
    }
    assert frames["instrument"]["key"].tolist() == ["ES", "FGBL", "GC", "ES", "NQ"]


def test_segment_totals_of_no_position_day():
    empty = np.empty(0, dtype=np.int64)
    frames = calc.segment_totals(empty, empty, empty, SEGMENTS)
    assert set(frames) == set(calc.DIMENSIONS)
    for frame in frames.values():
        assert list(frame.columns) == ["day", "key", "units"]
        assert len(frame) == 0


def test_segment_totals_refuse_an_unknown_position_and_an_overflowing_sum():
    with pytest.raises(calc.AttributionInputError, match="position"):
        calc.segment_totals(np.array([DAY0]), np.array([99]), np.array([1]), SEGMENTS)
    with pytest.raises(calc.AttributionInputError, match="too large"):
        calc.segment_totals(
            np.array([DAY0, DAY0]), np.array([42, 42]), np.array([2**61, 2**61]), SEGMENTS
        )


def test_day_numbers_round_trip():
    dates = [dt.date(1970, 1, 1), dt.date(2024, 3, 18), dt.date(2024, 2, 29)]
    numbers = calc.day_numbers(dates)
    assert numbers.tolist() == [0, 19_800, 19_782]
    assert [calc.day_of(n) for n in numbers] == dates


def test_the_exactness_bound_is_per_day_not_per_window():
    """Two days of 2**61 units each add exactly apart; on one day they could overflow."""
    segments = pd.DataFrame({dim: ["X"] for dim in calc.DIMENSIONS}, index=pd.Index([7], name="id"))
    big = 2**61
    totals = calc.segment_totals(np.array([1, 2]), np.array([7, 7]), np.array([big, big]), segments)
    assert totals["strategy"]["units"].tolist() == [big, big]
    with pytest.raises(calc.AttributionInputError, match="too large"):
        calc.segment_totals(np.array([1, 1]), np.array([7, 7]), np.array([big, big]), segments)


@PURE
@given(
    st.lists(
        st.tuples(
            st.sampled_from([42, 7, 13, 3]),
            st.integers(-(2**55), 2**55),
            st.floats(-1.0, 1.0, allow_nan=False),
        ),
        max_size=4,
        unique_by=lambda e: e[0],
    )
)
def test_position_sums_by_segment_add_exact_pnl_and_linked_sums_per_segment(entries):
    positions = np.array([e[0] for e in entries], dtype=np.int64)
    units = np.array([e[1] for e in entries], dtype=np.int64)
    linked = np.array([e[2] for e in entries], dtype=float)
    out = calc.position_sums_by_segment(positions, units, linked, SEGMENTS)
    assert set(out) == set(calc.DIMENSIONS)
    for dim, (keys, unit_sums, linked_sums) in out.items():
        want_units: dict[str, int] = {}
        want_linked: dict[str, float] = {}
        for p, u, c in entries:
            key = SEGMENTS.loc[p, dim]
            want_units[key] = want_units.get(key, 0) + u
            want_linked[key] = want_linked.get(key, 0.0) + c
        assert list(keys) == sorted(want_units)
        assert dict(zip(keys, unit_sums.tolist(), strict=True)) == want_units
        assert unit_sums.dtype == np.int64
        for key, value in zip(keys, linked_sums.tolist(), strict=True):
            assert value == pytest.approx(want_linked[key], abs=1e-15)


def test_combine_adds_the_stored_and_the_recomputed_parts_of_a_segment():
    # The same segment from the stored totals and from a stale day's positions, beyond floats
    big = 2**53 + 1
    rows = calc.combine(
        np.array(["TREND", "CARRY", "TREND"], dtype=object),
        np.array([big, -5, 2]),
        np.array([0.002, -0.001, 0.0005]),
    )
    assert [(r.key, r.units) for r in rows] == [("TREND", big + 2), ("CARRY", -5)]
    assert rows[0].contribution == pytest.approx(0.0025, abs=1e-18)
    assert rows[1].contribution == -0.001
    assert calc.combine(np.empty(0, dtype=object), np.empty(0), np.empty(0)) == []


def test_position_sums_by_segment_refuse_an_unknown_position_and_an_overflowing_sum():
    with pytest.raises(calc.AttributionInputError, match="position"):
        calc.position_sums_by_segment(np.array([99]), np.array([1]), np.array([0.0]), SEGMENTS)
    with pytest.raises(calc.AttributionInputError, match="too large"):
        calc.position_sums_by_segment(
            np.array([42, 13]), np.array([2**61, 2**61]), np.array([0.0, 0.0]), SEGMENTS
        )
