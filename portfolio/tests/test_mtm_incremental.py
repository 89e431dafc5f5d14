"""Mark-to-market continued from the previous snapshots gives the full replay's numbers.

The reference is the replay from inception, reached two ways: the same run with every stored
state withdrawn (the path of rows written before migration 0007), and ``selectors.ledger_rebuild``
(the ledger replayed by the code the book's consistency check uses).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolio import calculations as calc
from portfolio import selectors, services
from portfolio.models import NavSnapshot, PositionSnapshot
from portfolio.tests.factories import InstrumentFactory, PortfolioFactory, StrategyFactory

DAYS = list(calc.business_days(dt.date(2024, 3, 4), dt.date(2024, 3, 15)))  # two weeks
# symbol → (currency, multiplier, base price); NKD is in JPY, converted through the inverse pair.
INSTRUMENTS = {
    "ES": ("USD", D(50), D(5000)),
    "FESX": ("EUR", D(10), D(4800)),
    "EURUSD": ("USD", D(125000), D("1.08")),  # an FX instrument traded as such
    "NKD": ("JPY", D(500), D(39000)),
}
SLEEVES = [
    ("ES", "TREND"),
    ("FESX", "TREND"),
    ("EURUSD", "CARRY"),
    ("NKD", "TREND"),
    ("ES", "CARRY"),
]
# The property's days: few, so that bookings and marks often fall on and around the same ones.
PLAN_DAYS = 6
STATE_FIELDS = ("quantity", "avg_cost", "realized_pnl", "opened_date", "closed_date")
ROW_FIELDS = (
    "position_id",
    "price",
    "fx",
    "exposure",
    "unrealized",
    "total_pnl",
    "daily_pnl",
    *STATE_FIELDS,
)


def close(symbol: str, k: int) -> D:
    """A deterministic close: the base price moved by up to ±1.1 % a day."""
    base = INSTRUMENTS[symbol][2]
    return calc.q(base * (1 + D((k * 7 + len(symbol) * 3) % 23 - 11) / 1000), calc.PRICE_PLACES)


@pytest.fixture
def desk(db):
    """A USD portfolio's market: the four instruments, the pairs (EURUSD direct, USDJPY inverse),
    two strategies, and a close of every instrument and pair on every day of the two weeks."""
    instruments = {
        symbol: InstrumentFactory(
            symbol=symbol,
            currency=ccy,
            multiplier=mult,
            asset_class="FX" if symbol == "EURUSD" else "EQUITY",
        )
        for symbol, (ccy, mult, _) in INSTRUMENTS.items()
    }
    InstrumentFactory(symbol="USDJPY", currency="JPY", asset_class="FX")
    rows = [services.PriceRow(s, d, close(s, k)) for s in INSTRUMENTS for k, d in enumerate(DAYS)]
    rows += [services.PriceRow("USDJPY", d, D(150) + D(k) / 4) for k, d in enumerate(DAYS)]
    services.prices_load(rows)
    strategies = {code: StrategyFactory(code=code) for code in ("TREND", "CARRY")}
    return {"instruments": instruments, "strategies": strategies}


def book(desk, portfolio, sleeve: int, k: int, qty: int, ticks: int):
    symbol, strategy = SLEEVES[sleeve]
    services.execution_record(
        portfolio=portfolio,
        instrument=desk["instruments"][symbol],
        strategy=desk["strategies"][strategy],
        trade_date=DAYS[k],
        quantity=D(qty),
        price=calc.q(close(symbol, k) * (1 + D(ticks) / 2000), calc.PRICE_PLACES),
        source="manual",
    )


def exact(value):
    """A Decimal's digits and exponent: equal Decimals of another scale are not equal here."""
    return value.as_tuple() if isinstance(value, D) else value


def marked(portfolio, day) -> tuple:
    """D's position snapshots and NAV snapshot as stored, digit for digit."""
    rows = (
        PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day)
        .order_by("position_id")
        .values_list(*ROW_FIELDS)
    )
    nav = NavSnapshot.objects.filter(portfolio=portfolio, date=day).values_list(
        "nav", "daily_pnl", "flow", "daily_return"
    )
    return (
        [tuple(exact(v) for v in row) for row in rows],
        [tuple(exact(v) for v in row) for row in nav],
    )


def marked_from_inception(portfolio, day) -> tuple:
    """``marked`` of a run of D with every stored state withdrawn: each sleeve replayed from its
    first execution. Rolled back, so the incremental run's rows stay in place."""
    with transaction.atomic():
        PositionSnapshot.objects.filter(position__portfolio=portfolio).update(
            avg_cost=None, ledger_watermark=None
        )
        services.mark_to_market(portfolio=portfolio, business_date=day)
        result = marked(portfolio, day)
        transaction.set_rollback(True)
    return result


def assert_states_are_the_ledgers(portfolio, day) -> None:
    """Every snapshot of D holds its sleeve's state as ``selectors.ledger_rebuild`` replays it."""
    rebuilt = selectors.ledger_rebuild(portfolio, day)
    rows = PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day).values_list(
        "position__instrument_id", "position__strategy_id", *STATE_FIELDS
    )
    for iid, sid, *state in rows:
        expected = rebuilt[(iid, sid)]
        assert tuple(state) == tuple(getattr(expected, f) for f in STATE_FIELDS)


# --- The property ----------------------------------------------------------------------------

# One step: a booking (sleeve, day, quantity, price ticks), then the mark of a day, or none.
# ES/TREND is drawn most often, so that its ledger gets long enough for order to matter:
# reductions and flips between bookings, some of them dated before days already marked.
step = st.tuples(
    st.sampled_from([0, 0, 0, 1, 2, 3, 4]),
    st.integers(0, PLAN_DAYS - 1),
    st.sampled_from([-6, -4, -3, -2, -1, 1, 2, 3, 5]),
    st.integers(-20, 20),
    st.one_of(st.none(), st.integers(0, PLAN_DAYS - 1)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=st.lists(step, min_size=3, max_size=16))
def test_incremental_mtm_equals_the_full_replay_digit_for_digit(desk, plan):
    # given a random history of bookings (partial closes, flips, FX instruments, bookings dated
    # before days already marked) interleaved with marks of random days (re-marking past ones)
    with transaction.atomic():
        portfolio = PortfolioFactory(code="PROP", inception_date=DAYS[0])
        for sleeve, k, qty, ticks, mark_k in plan:
            book(desk, portfolio, sleeve, k, qty, ticks)
            if mark_k is None:
                continue
            day = DAYS[mark_k]
            # when a day is marked from its previous snapshots
            services.mark_to_market(portfolio=portfolio, business_date=day)
            # then its rows and NAV are the replay from inception's, digit for digit
            assert marked(portfolio, day) == marked_from_inception(portfolio, day)
            assert_states_are_the_ledgers(portfolio, day)
        transaction.set_rollback(True)


# --- The mechanism, case by case ---------------------------------------------------------------

ES_TREND, FESX_TREND = 0, 1


def snapshot(portfolio, symbol, day) -> PositionSnapshot:
    return PositionSnapshot.objects.get(
        position__portfolio=portfolio, position__instrument__symbol=symbol, date=day
    )


def alter_stored_cost(portfolio, symbol, day) -> None:
    """Tamper with one stored state (a test's way to see which state a run starts from)."""
    PositionSnapshot.objects.filter(
        position__portfolio=portfolio, position__instrument__symbol=symbol, date=day
    ).update(avg_cost=D(1))


def test_a_mark_continues_from_the_previous_snapshots_state(desk):
    # given ES and FESX bought on day 0 and days 0 and 1 marked
    portfolio = PortfolioFactory(inception_date=DAYS[0])
    book(desk, portfolio, ES_TREND, 0, 2, 0)
    book(desk, portfolio, FESX_TREND, 0, -3, 5)
    for day in DAYS[:2]:
        services.mark_to_market(portfolio=portfolio, business_date=day)
    # and day 1's stored average cost of ES altered
    alter_stored_cost(portfolio, "ES", DAYS[1])
    # when day 2 is marked
    services.mark_to_market(portfolio=portfolio, business_date=DAYS[2])
    # then ES continued from the stored state (day 0's execution was not read again) ...
    es = snapshot(portfolio, "ES", DAYS[2])
    assert es.avg_cost == D(1)
    assert es.unrealized == calc.money((close("ES", 2) - 1) * 2 * 50)
    # ... and withdrawing the stored state (a row written before migration 0007) replays ES
    PositionSnapshot.objects.filter(date=DAYS[1]).update(ledger_watermark=None)
    services.mark_to_market(portfolio=portfolio, business_date=DAYS[2])
    es = snapshot(portfolio, "ES", DAYS[2])
    assert (
        es.avg_cost
        == selectors.ledger_rebuild(portfolio, DAYS[2])[
            (es.position.instrument_id, es.position.strategy_id)
        ].avg_cost
    )
    assert es.avg_cost == close("ES", 0)


def test_a_back_dated_booking_replays_its_sleeve_only(desk):
    # given ES and FESX held from day 0, days 0 to 2 marked, both stored states of day 2 altered
    portfolio = PortfolioFactory(inception_date=DAYS[0])
    book(desk, portfolio, ES_TREND, 0, 2, 0)
    book(desk, portfolio, FESX_TREND, 0, -3, 5)
    for day in DAYS[:3]:
        services.mark_to_market(portfolio=portfolio, business_date=day)
    alter_stored_cost(portfolio, "ES", DAYS[2])
    alter_stored_cost(portfolio, "FESX", DAYS[2])
    # when an ES execution dated day 1 is booked after day 2 was marked, and day 3 is marked
    book(desk, portfolio, ES_TREND, 1, 2, -10)
    services.mark_to_market(portfolio=portfolio, business_date=DAYS[3])
    # then ES is replayed from inception: its true average cost of (2 @ day 0 + 2 @ day 1) / 4
    rebuilt = selectors.ledger_rebuild(portfolio, DAYS[3])
    es = snapshot(portfolio, "ES", DAYS[3])
    expected = rebuilt[(es.position.instrument_id, es.position.strategy_id)]
    assert (es.quantity, es.avg_cost) == (D(4), expected.avg_cost)
    assert expected.avg_cost != D(1)
    # and FESX, untouched, still continues from its (altered) stored state
    assert snapshot(portfolio, "FESX", DAYS[3]).avg_cost == D(1)


def test_re_marking_a_past_day_reads_that_days_previous_snapshots(desk):
    # given trades on days 0, 2 and 4 and every day marked
    portfolio = PortfolioFactory(inception_date=DAYS[0])
    for k, qty in ((0, 4), (2, -6), (4, 3)):
        book(desk, portfolio, ES_TREND, k, qty, k)
    for day in DAYS[:5]:
        services.mark_to_market(portfolio=portfolio, business_date=day)
    before = marked(portfolio, DAYS[2])
    # when day 2 is marked again after the later days
    services.mark_to_market(portfolio=portfolio, business_date=DAYS[2])
    # then it is the same flip from +4 to −2 as the first time, digit for digit
    assert marked(portfolio, DAYS[2]) == before
    assert snapshot(portfolio, "ES", DAYS[2]).quantity == D(-2)
    assert marked(portfolio, DAYS[2]) == marked_from_inception(portfolio, DAYS[2])


def test_the_queries_of_a_mark_do_not_grow_with_the_history(desk):
    # given a sleeve traded every day of two weeks, each day marked
    portfolio = PortfolioFactory(inception_date=DAYS[0])
    counts = []
    for k, day in enumerate(DAYS):
        book(desk, portfolio, ES_TREND, k, 1 if k % 3 else -1, k)
        book(desk, portfolio, FESX_TREND, k, 2, -k)
        # when each day is marked
        with CaptureQueriesContext(connection) as ctx:
            services.mark_to_market(portfolio=portfolio, business_date=day)
        counts.append(len(ctx.captured_queries))
    # then from the second day on (the first has no NAV before it) every run issues as many
    # queries
    assert len(set(counts[1:])) == 1
