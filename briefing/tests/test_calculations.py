"""The pack's own arithmetic: market moves over 1D, 1W and 1M, and the rankings (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from briefing import calculations as calc

D = dt.date


def frame(rows: dict[dt.date, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (D(2024, 3, 31), D(2024, 2, 29)),  # leap February
        (D(2023, 3, 31), D(2023, 2, 28)),
        (D(2024, 1, 15), D(2023, 12, 15)),  # across the year
        (D(2024, 5, 31), D(2024, 4, 30)),
        (D(2024, 7, 10), D(2024, 6, 10)),
    ],
)
def test_one_month_before_clamps_to_the_shorter_month(day, expected):
    assert calc.one_month_before(day) == expected


def test_moves_by_hand():
    # Given closes with a gap (no close on Fri 5 April for X) and Y missing its last day
    closes = frame(
        {
            D(2024, 3, 8): {"X": 80.0, "Y": 10.0},  # a month and a day before the as-of date
            D(2024, 3, 11): {"X": 90.0, "Y": 11.0},
            D(2024, 4, 2): {"X": 95.0, "Y": 12.0},  # exactly a week before
            D(2024, 4, 4): {"X": 98.0, "Y": 12.5},
            D(2024, 4, 5): {"X": np.nan, "Y": 12.0},
            D(2024, 4, 9): {"X": 100.0, "Y": np.nan},
        }
    )
    moves = calc.market_moves(closes, D(2024, 4, 9))
    x, y = moves["X"], moves["Y"]
    # X: 1D against the previous close (4 April: the gap is skipped), 1W against 2 April,
    # 1M against the last close on or before 9 March (8 March)
    assert x.close_date == D(2024, 4, 9)
    assert x.moves == pytest.approx({"1D": 100 / 98 - 1, "1W": 100 / 95 - 1, "1M": 100 / 80 - 1})
    # Y's last close is 5 April: its moves are measured from there
    assert y.close_date == D(2024, 4, 5)
    assert y.moves == pytest.approx({"1D": 12 / 12.5 - 1, "1W": 12 / 12 - 1, "1M": 12 / 10 - 1})


def test_moves_without_a_base_are_none_and_later_closes_are_ignored():
    closes = frame(
        {
            D(2024, 4, 8): {"NEW": 50.0, "BAD": 0.0, "NONE": np.nan},
            D(2024, 4, 9): {"NEW": 55.0, "BAD": 5.0, "NONE": np.nan},
            D(2024, 4, 10): {"NEW": 99.0, "BAD": 9.0, "NONE": 1.0},  # after the as-of date
        }
    )
    moves = calc.market_moves(closes, D(2024, 4, 9))
    assert moves["NEW"].moves == pytest.approx({"1D": 0.1, "1W": None, "1M": None})
    assert moves["BAD"].moves == {"1D": None, "1W": None, "1M": None}  # a zero base
    assert moves["NONE"] == calc.Move(None, {"1D": None, "1W": None, "1M": None})


def test_a_single_close_has_no_move():
    moves = calc.market_moves(frame({D(2024, 4, 9): {"X": 1.0}}), D(2024, 4, 9))
    assert moves["X"] == calc.Move(D(2024, 4, 9), {"1D": None, "1W": None, "1M": None})


def test_top_by_abs_ranks_by_magnitude_keeping_ties_in_order():
    rows = [{"k": "a", "v": Decimal("-5")}, {"k": "b", "v": Decimal("3")}, {"k": "c", "v": 5}]
    rows += [{"k": f"z{i}", "v": Decimal(i)} for i in range(20)]
    top = calc.top_by_abs(rows, "v")
    assert len(top) == calc.TOP_N == 10
    assert [r["k"] for r in top[:4]] == ["z19", "z18", "z17", "z16"]
    assert [r["k"] for r in calc.top_by_abs(rows[:3], "v", 2)] == ["a", "c"]
