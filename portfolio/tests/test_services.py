"""The ledger, mark-to-market and the book through the services, on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pms_project.errors import PMSError
from portfolio import book, selectors, services
from portfolio.models import Execution, NavSnapshot, Position, PositionSnapshot
from portfolio.tests.factories import (
    CashFlowFactory,
    InstrumentFactory,
    PortfolioFactory,
    StrategyFactory,
)

MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8))


def load(symbol_closes: dict[str, dict[dt.date, str]]) -> None:
    services.prices_load(
        services.PriceRow(symbol, day, D(close))
        for symbol, by_day in symbol_closes.items()
        for day, close in by_day.items()
    )


@pytest.fixture
def desk(db):
    """A USD portfolio, a USD future (×50), a EUR future (×10) and EURUSD."""
    portfolio = PortfolioFactory(initial_capital=D("1000000"))
    es = InstrumentFactory(symbol="ES", multiplier=D(50))
    fesx = InstrumentFactory(symbol="FESX", currency="EUR", multiplier=D(10))
    eurusd = InstrumentFactory(symbol="EURUSD", asset_class="FX", multiplier=D(125000))
    trend = StrategyFactory(code="TREND")
    load(
        {
            "ES": {MON: "5000", TUE: "5010", WED: "4990", THU: "5020", FRI: "5030"},
            "FESX": {MON: "4800", TUE: "4810", WED: "4820", THU: "4790", FRI: "4800"},
            "EURUSD": {MON: "1.08", TUE: "1.09", WED: "1.10", THU: "1.10", FRI: "1.11"},
        }
    )
    return {"portfolio": portfolio, "es": es, "fesx": fesx, "eurusd": eurusd, "trend": trend}


def trade(desk, inst, day, qty, price, strategy=None):
    return services.execution_record(
        portfolio=desk["portfolio"],
        instrument=desk[inst],
        strategy=strategy or desk["trend"],
        trade_date=day,
        quantity=D(qty),
        price=D(price),
        source="manual",
    )


def test_foreign_currency_realized_uses_the_trade_dates_rate(desk):
    # given 100 FESX bought at 4800, when 40 are sold at 4820 on Wednesday (EURUSD 1.10)
    trade(desk, "fesx", MON, "100", "4800")
    _, position = trade(desk, "fesx", WED, "-40", "4820")
    # then realized = (4820 − 4800) × 40 × 10 × 1.10 USD
    assert position.realized_pnl == D("8800.00000000")
    assert position.quantity == D(60)
    assert position.avg_cost == D(4800)


def test_back_dated_execution_is_applied_in_trade_date_order(desk):
    # given a buy on Tuesday and, booked later, a buy on Monday
    trade(desk, "es", TUE, "1", "5010")
    _, position = trade(desk, "es", MON, "1", "5000")
    # then the stored position equals the ledger replayed in trade-date order
    assert position.avg_cost == D(5005)
    assert selectors.ledger_differences(desk["portfolio"]) == []


def test_missing_fx_on_a_realizing_trade_is_a_400_naming_the_pair_and_nothing_is_written(desk):
    trade(desk, "fesx", MON, "10", "4800")
    before = Execution.objects.count()
    with pytest.raises(PMSError) as err:
        trade(desk, "fesx", dt.date(2024, 3, 11), "-5", "4810")  # no EURUSD on the 11th
    assert err.value.field == "trade_date"
    assert "EURUSD" in err.value.message and "2024-03-11" in err.value.message
    assert Execution.objects.count() == before
    assert Position.objects.get().quantity == D(10)


def test_close_more_than_open_is_rejected(desk):
    _, position = trade(desk, "es", MON, "2", "5000")
    with pytest.raises(PMSError) as err:
        services.position_close(
            position_id=position.id, price=D(5010), trade_date=TUE, quantity=D(3)
        )
    assert err.value.field == "quantity"
    assert Execution.objects.count() == 1


# --- Mark-to-market ---------------------------------------------------------------------------


def test_mtm_writes_snapshots_and_nav(desk):
    # given long 2 ES at 5000 and short 10 FESX at 4800 on Monday
    trade(desk, "es", MON, "2", "5000")
    trade(desk, "fesx", MON, "-10", "4800")
    # when Monday and Tuesday are marked
    services.mark_to_market(portfolio=desk["portfolio"], business_date=MON)
    nav = services.mark_to_market(portfolio=desk["portfolio"], business_date=TUE)
    # then Tuesday: ES +10 × 2 × 50 = 1000; FESX (4810 − 4800) × −10 × 10 × 1.09 = −1090
    es_snap = PositionSnapshot.objects.get(date=TUE, position__instrument=desk["es"])
    fesx_snap = PositionSnapshot.objects.get(date=TUE, position__instrument=desk["fesx"])
    assert es_snap.unrealized == D(1000)
    assert es_snap.exposure == D(2 * 50 * 5010)
    assert fesx_snap.unrealized == D(-1090)
    assert fesx_snap.fx == D("1.09")
    assert fesx_snap.exposure == D("-524290")  # −10 × 10 × 4810 × 1.09
    assert nav.nav == D(1000000 + 1000 - 1090)
    assert nav.daily_pnl == es_snap.daily_pnl + fesx_snap.daily_pnl
    monday = NavSnapshot.objects.get(date=MON)
    assert nav.daily_return == pytest.approx(float(nav.nav / monday.nav - 1), rel=1e-15)


def test_mtm_twice_gives_identical_rows(desk):
    trade(desk, "es", MON, "3", "5000")
    trade(desk, "fesx", TUE, "5", "4810")

    def rows():
        snaps = PositionSnapshot.objects.order_by("date", "position_id").values_list(
            "date",
            "position_id",
            "quantity",
            "price",
            "fx",
            "exposure",
            "unrealized",
            "total_pnl",
            "daily_pnl",
        )
        navs = NavSnapshot.objects.order_by("date").values_list(
            "date", "nav", "daily_pnl", "flow", "daily_return"
        )
        return list(snaps), list(navs)

    for day in (MON, TUE, WED):
        services.mark_to_market(portfolio=desk["portfolio"], business_date=day)
    first = rows()
    for day in (MON, TUE, WED):
        services.mark_to_market(portfolio=desk["portfolio"], business_date=day)
    assert rows() == first
    assert len(first[0]) == 1 + 2 + 2


def test_rerunning_a_past_date_after_later_trades_gives_identical_numbers(desk):
    trade(desk, "es", MON, "3", "5000")
    services.mark_to_market(portfolio=desk["portfolio"], business_date=MON)
    services.mark_to_market(portfolio=desk["portfolio"], business_date=TUE)
    before = NavSnapshot.objects.get(date=TUE).nav
    # when a Wednesday trade is booked and Tuesday is re-run
    trade(desk, "es", WED, "-3", "4990")
    services.mark_to_market(portfolio=desk["portfolio"], business_date=TUE)
    # then Tuesday ignores Wednesday's execution
    assert NavSnapshot.objects.get(date=TUE).nav == before
    assert PositionSnapshot.objects.get(date=TUE).quantity == D(3)


def test_missing_close_fails_naming_the_instruments_and_writes_nothing(desk):
    trade(desk, "es", MON, "1", "5000")
    services.mark_to_market(portfolio=desk["portfolio"], business_date=MON)
    monday_rows = PositionSnapshot.objects.count()
    with pytest.raises(PMSError) as err:
        services.mark_to_market(portfolio=desk["portfolio"], business_date=dt.date(2024, 3, 11))
    assert "ES" in err.value.message and "2024-03-11" in err.value.message
    assert PositionSnapshot.objects.count() == monday_rows
    assert not NavSnapshot.objects.filter(date=dt.date(2024, 3, 11)).exists()


def test_intraday_mark_made_on_the_day_serves_as_its_close(desk):
    trade(desk, "es", MON, "1", "5000")
    day = dt.date(2024, 3, 11)
    services.price_update_intraday(
        symbol="ES", price=D(5100), at=dt.datetime(2024, 3, 11, 15, 0, tzinfo=dt.UTC)
    )
    nav = services.mark_to_market(portfolio=desk["portfolio"], business_date=day)
    assert nav.nav == D(1000000 + 100 * 50)


def test_position_closed_during_the_day_keeps_the_pnl_identity(desk):
    # given ES bought Monday and closed Wednesday; FESX held throughout
    trade(desk, "es", MON, "2", "5000")
    trade(desk, "fesx", MON, "10", "4800")
    trade(desk, "es", WED, "-2", "4995")
    navs = [
        services.mark_to_market(portfolio=desk["portfolio"], business_date=d)
        for d in (MON, TUE, WED, THU)
    ]
    # then every day Σ daily P&L of the day's snapshots = NAV(D) − NAV(D−1) − flow(D)
    previous = D(1000000)
    for nav in navs:
        snaps = PositionSnapshot.objects.filter(date=nav.date)
        assert sum(s.daily_pnl for s in snaps) == nav.nav - previous - nav.flow
        previous = nav.nav
    wed_es = PositionSnapshot.objects.get(date=WED, position__instrument=desk["es"])
    assert wed_es.quantity == 0
    assert wed_es.realized_pnl == D(-500)  # (4995 − 5000) × 2 × 50
    assert not PositionSnapshot.objects.filter(date=THU, position__instrument=desk["es"]).exists()


def test_nav_and_returns_with_a_subscription_and_a_redemption(desk):
    portfolio = desk["portfolio"]
    trade(desk, "es", MON, "10", "5000")
    services.cash_flow_record(portfolio=portfolio, date=TUE, amount=D(500000))
    services.cash_flow_record(portfolio=portfolio, date=THU, amount=D(-200000))
    navs = {
        d: services.mark_to_market(portfolio=portfolio, business_date=d)
        for d in (MON, TUE, WED, THU)
    }
    # ES P&L per day: Tue +10×10×50 = 5000, Wed −20×10×50 = −10000, Thu +30×10×50 = 15000
    assert navs[TUE].flow == D(500000)
    assert navs[TUE].nav == D(1000000 + 500000 + 5000)
    assert navs[TUE].daily_return == pytest.approx(5000 / 1500000, rel=1e-12)
    assert navs[WED].daily_return == pytest.approx(-10000 / 1505000, rel=1e-12)
    assert navs[THU].flow == D(-200000)
    assert navs[THU].nav == D(1505000 - 10000 - 200000 + 15000)
    assert navs[THU].daily_return == pytest.approx(15000 / (1495000 - 200000), rel=1e-12)
    assert navs[THU].daily_pnl == D(15000)


def test_mtm_rejects_weekend_and_future_dates(desk):
    with pytest.raises(PMSError) as weekend:
        services.mark_to_market(portfolio=desk["portfolio"], business_date=dt.date(2024, 3, 9))
    assert weekend.value.field == "date"
    future = selectors.today() + dt.timedelta(days=7)
    with pytest.raises(PMSError):
        services.mark_to_market(portfolio=desk["portfolio"], business_date=future)
    assert NavSnapshot.objects.count() == 0


# --- The book ---------------------------------------------------------------------------------


def test_book_exposures_nav_and_pnl(desk):
    trade(desk, "es", MON, "2", "5000")
    trade(desk, "fesx", MON, "-10", "4800")
    services.mark_to_market(portfolio=desk["portfolio"], business_date=THU)
    result = book.book_get(desk["portfolio"])
    # marks at Friday's closes (newer than Thursday's snapshot): ES 5030, FESX 4800, EURUSD 1.11
    es = next(p for p in result["positions"] if p["symbol"] == "ES")
    fesx = next(p for p in result["positions"] if p["symbol"] == "FESX")
    assert result["as_of"] == FRI
    assert es["exposure"] == D(2 * 50 * 5030)
    assert fesx["exposure"] == D("-532800")  # −10 × 10 × 4800 × 1.11
    assert fesx["unrealized"] == 0
    assert result["gross_exposure"] == D(503000 + 532800)
    assert result["net_exposure"] == D(503000 - 532800)
    assert result["nav"] == D(1000000 + 3000)
    assert result["leverage"] == pytest.approx(float(D(1035800) / D(1003000)), rel=1e-15)
    assert result["exposure_by_currency"] == {"EUR": D("-532800"), "USD": D(503000)}
    # 1D: against Thursday's snapshot (ES 5020 → 5030, FESX 4790@1.10 → 4800@1.11)
    thu_total = sum(s.total_pnl for s in PositionSnapshot.objects.filter(date=THU))
    assert result["pnl"]["1D"] == result["nav"] - D(1000000) - thu_total


def test_book_prefers_a_newer_intraday_mark(desk):
    trade(desk, "es", MON, "1", "5000")
    services.price_update_intraday(
        symbol="ES", price=D(5100), at=dt.datetime(2024, 3, 11, 14, 0, tzinfo=dt.UTC)
    )
    es = book.book_get(desk["portfolio"])["positions"][0]
    assert (es["price"], es["price_source"]) == (D(5100), "intraday")


# --- The ledger rebuilds to the stored positions ----------------------------------------------

quantities = st.integers(min_value=-50, max_value=50).filter(lambda q: q != 0)
prices = st.decimals(min_value=D("0.5"), max_value=D(500), places=4)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["es", "fesx"]),
            st.sampled_from([MON, TUE, WED, THU, FRI]),
            quantities,
            prices,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_rebuilding_from_the_ledger_equals_the_stored_positions(desk, plan):
    portfolio = PortfolioFactory(code=f"P{abs(hash(tuple(plan))) % 10**9}")
    for inst, day, qty, price in plan:
        services.execution_record(
            portfolio=portfolio,
            instrument=desk[inst],
            strategy=desk["trend"],
            trade_date=day,
            quantity=D(qty),
            price=price,
            source="manual",
        )
    assert selectors.ledger_differences(portfolio) == []
    for position in Position.objects.filter(portfolio=portfolio):
        net = sum(
            e.quantity
            for e in Execution.objects.filter(
                portfolio=portfolio, instrument=position.instrument, strategy=position.strategy
            )
        )
        assert position.quantity == net
        assert (position.status == "open") == (net != 0)


@pytest.mark.parametrize(
    ("close", "message"),
    [
        ("123456789012345.5", "smaller than"),  # NUMERIC(24, 10) holds 14 integer digits
        ("1e20", "smaller than"),
        ("0", "greater than zero"),
        ("-3", "greater than zero"),
        ("NaN", "finite"),
        ("Infinity", "finite"),
    ],
)
def test_prices_load_rejects_out_of_range_closes_naming_the_row(desk, close, message):
    before = list(desk["es"].prices.values_list("date", "close"))
    with pytest.raises(PMSError) as err:
        services.prices_load([services.PriceRow("ES", dt.date(2024, 3, 11), D(close))])
    assert err.value.field == "prices[0].close"
    assert message in err.value.message
    assert list(desk["es"].prices.values_list("date", "close")) == before


def test_book_nav_counts_a_flow_booked_for_today_before_todays_marks(desk):
    # given a position marked at Friday's close and a subscription dated today
    trade(desk, "es", MON, "1", "5000")
    CashFlowFactory(portfolio=desk["portfolio"], date=selectors.today(), amount=D(250000))
    result = book.book_get(desk["portfolio"])
    # then NAV = capital + the flow + ES (5030 − 5000) × 50, and the flow is not P&L
    assert result["nav"] == D(1000000 + 250000 + 1500)
    assert result["pnl"]["YTD"] == D(1500)
    assert result["pnl"]["1D"] == D(1500)  # no snapshot yet: all of it is the day's


def test_mtm_missing_fx_rate_names_the_pair_on_the_date_field(desk):
    trade(desk, "fesx", MON, "1", "4800")
    day = dt.date(2024, 3, 11)
    load({"FESX": {day: "4850"}})  # a close, but no EURUSD that day
    with pytest.raises(PMSError) as err:
        services.mark_to_market(portfolio=desk["portfolio"], business_date=day)
    assert err.value.field == "date"
    assert "EURUSD" in err.value.message and "2024-03-11" in err.value.message
    assert not NavSnapshot.objects.filter(date=day).exists()


@pytest.mark.django_db
def test_the_database_refuses_a_mark_that_is_not_positive():
    # A zero inverse FX mark would be 1 / 0 in the book: no path may store one, the ORM included.
    instrument = InstrumentFactory(symbol="USDJPY", asset_class="FX", currency="JPY")
    instrument.last_price = D(0)
    with pytest.raises(IntegrityError), transaction.atomic():
        instrument.save(update_fields=["last_price"])
