"""The average-cost ledger and marking as pure functions (no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from decimal import InvalidOperation, getcontext, localcontext

import pytest

from portfolio import calculations as calc

DAY1, DAY2, DAY3 = dt.date(2024, 3, 4), dt.date(2024, 3, 5), dt.date(2024, 3, 6)


def fx_const(rate: str):
    return lambda day: D(rate)


def run(trades, multiplier="1", fx="1"):
    return calc.replay(
        [calc.Trade(day, D(q), D(p)) for day, q, p in trades],
        multiplier=D(multiplier),
        fx=fx_const(fx),
    )


# Each case: given executions (date, signed qty, price), multiplier, fx → quantity, avg cost,
# realized P&L in base currency, opened date.
LEDGER_CASES = [
    pytest.param([(DAY1, "10", "100")], "1", "1", "10", "100", "0", DAY1, id="open long"),
    pytest.param(
        [(DAY1, "10", "100"), (DAY2, "30", "120")],
        "1",
        "1",
        "40",
        "115",
        "0",
        DAY1,
        id="add re-weights avg cost",
    ),
    pytest.param(
        [(DAY1, "10", "100"), (DAY2, "-4", "110")],
        "1",
        "1",
        "6",
        "100",
        "40",
        DAY1,
        id="partial reduce realizes",
    ),
    pytest.param(
        [(DAY1, "-10", "100"), (DAY2, "4", "90")],
        "1",
        "1",
        "-6",
        "100",
        "40",
        DAY1,
        id="covering a short realizes signed as the position",
    ),
    pytest.param(
        [(DAY1, "-10", "100"), (DAY2, "4", "110")],
        "1",
        "1",
        "-6",
        "100",
        "-40",
        DAY1,
        id="covering a short at a loss",
    ),
    pytest.param(
        [(DAY1, "10", "100"), (DAY2, "-15", "110")],
        "1",
        "1",
        "-5",
        "110",
        "100",
        DAY2,
        id="crossing zero closes and reopens at the execution price",
    ),
    pytest.param(
        [(DAY1, "10", "100"), (DAY2, "-10", "90")],
        "1",
        "1",
        "0",
        "100",
        "-100",
        DAY1,
        id="full close",
    ),
    pytest.param(
        [(DAY1, "2", "4000"), (DAY2, "-1", "4010.5")],
        "50",
        "1",
        "1",
        "4000",
        "525",
        DAY1,
        id="multiplier scales realized",
    ),
    pytest.param(
        [(DAY1, "100", "20"), (DAY2, "-100", "21")],
        "10",
        "1.1",
        "0",
        "20",
        "1100",
        DAY1,
        id="foreign currency converts realized at the trade date's rate",
    ),
    pytest.param(
        [(DAY1, "3", "10"), (DAY2, "3", "11"), (DAY3, "3", "12")],
        "1",
        "1",
        "9",
        "11",
        "0",
        DAY1,
        id="three adds",
    ),
]


@pytest.mark.parametrize(("trades", "mult", "fx", "qty", "avg", "realized", "opened"), LEDGER_CASES)
def test_average_cost_ledger(trades, mult, fx, qty, avg, realized, opened):
    state = run(trades, multiplier=mult, fx=fx)
    assert state.quantity == D(qty)
    assert state.avg_cost == D(avg)
    assert state.realized_pnl == D(realized)
    assert state.opened_date == opened


def test_fx_is_asked_for_the_trade_date_only_when_realizing():
    asked = []

    def fx(day):
        asked.append(day)
        return D("1.25")

    state = calc.replay(
        [
            calc.Trade(DAY1, D(5), D(10)),
            calc.Trade(DAY2, D(5), D(12)),
            calc.Trade(DAY3, D(-2), D(13)),
        ],
        multiplier=D(1),
        fx=fx,
    )
    assert asked == [DAY3]
    assert state.realized_pnl == D("5.00")  # (13 − 11) × 2 × 1.25


def test_mark_gives_unrealized_exposure_and_daily():
    state = calc.LedgerState(quantity=D(-4), avg_cost=D(100), realized_pnl=D(30))
    m = calc.mark(state, price=D(95), fx=D("1.1"), multiplier=D(10), previous_total=D(100))
    assert m.exposure == D("-4180.00000000")  # −4 × 10 × 95 × 1.1
    assert m.unrealized == D("220.00000000")  # (95 − 100) × −4 × 10 × 1.1
    assert m.total_pnl == D("250.00000000")
    assert m.daily_pnl == D("150.00000000")


def test_quantizing_a_large_storable_value_never_raises_in_the_default_context():
    # Given Python's default 28-digit context (where the book used to call money())
    assert getcontext().prec == 28
    # Then an amount rounding to the largest that NUMERIC(28, 8) holds quantizes...
    largest = D("99999999999999999999.999999994")
    assert calc.money(largest) == D("99999999999999999999.99999999")
    # ... as does a 22-digit amount that no column holds (it needs 30 digits at 8 places): the
    # fuzzer's 9,999,999,999,999,999 contracts × 125,000 raised decimal.InvalidOperation here
    exposure = D(9_999_999_999_999_999) * D(125_000)
    assert calc.money(exposure) == D("1249999999999999875000.00000000")
    # And a caller's narrower context neither narrows the quantization nor is changed by it
    with localcontext(prec=10):
        assert calc.q(D("123456789012.123456789"), calc.QTY_PLACES) == D("123456789012.12345679")
        assert getcontext().prec == 10
    # Only a result of more than 50 digits raises
    with pytest.raises(InvalidOperation):
        calc.money(D("1E+42"))


def test_mark_sums_large_amounts_without_rounding():
    # realized + unrealized needs 29 digits: exact in the 50-digit context, whatever the caller's
    state = calc.LedgerState(
        quantity=D(1), avg_cost=D(0), realized_pnl=D("99999999999999999999.99999999")
    )
    m = calc.mark(state, price=D("0.00000001"), fx=D(1), multiplier=D(1), previous_total=D(0))
    assert m.total_pnl == D("100000000000000000000.00000000")
    state = calc.LedgerState(
        quantity=D(1), avg_cost=D(0), realized_pnl=D("99999999999999999999.99999998")
    )
    m = calc.mark(state, price=D("0.00000001"), fx=D(1), multiplier=D(1), previous_total=D(-1))
    assert m.total_pnl == D("99999999999999999999.99999999")
    assert m.daily_pnl == D("100000000000000000000.99999999")


def test_fx_rate_uses_inverse_pair_when_direct_missing():
    assert calc.fx_rate_from_pair(direct_close=D("1.08"), inverse_close=D(2)) == D("1.08")
    assert calc.fx_rate_from_pair(direct_close=None, inverse_close=D(4)) == D("0.25")
    assert calc.fx_rate_from_pair(direct_close=None, inverse_close=None) is None


def test_daily_return_counts_flows_at_the_start_of_the_day():
    # 1,000,000 + 500,000 subscription at the open; ends at 1,530,000 → +2 %.
    r = calc.daily_return(nav=D(1530000), previous_nav=D(1000000), flow=D(500000))
    assert r == pytest.approx(0.02, abs=1e-15)


def test_business_days():
    days = list(calc.business_days(dt.date(2024, 3, 1), dt.date(2024, 3, 5)))
    assert days == [dt.date(2024, 3, 1), dt.date(2024, 3, 4), dt.date(2024, 3, 5)]
    assert calc.previous_business_day(dt.date(2024, 3, 4)) == dt.date(2024, 3, 1)


@pytest.mark.parametrize(
    ("quantity", "price", "fx", "expected"),
    [
        (D("1000"), D("100"), D("1.1"), None),
        (D("1E+16"), D("1E+5"), D(1), "exposure"),  # 1E+21 of exposure
        (D("1"), D("1"), D("1E+12"), "fx"),  # a rate wider than NUMERIC(24, 12)
    ],
)
def test_a_mark_says_which_value_does_not_fit_its_column(quantity, price, fx, expected):
    state = calc.LedgerState(quantity=quantity, avg_cost=price)
    m = calc.mark(state, price=price, fx=fx, multiplier=D(1), previous_total=D(0))
    assert m.unstorable() == expected
