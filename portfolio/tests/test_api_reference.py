"""API: reference data and market data — portfolios, strategies, instruments, prices, cash flows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portfolio.models import CashFlow, Instrument, Portfolio, Price, Strategy

from .api_support import (
    API,
    MON,
    SAT,
    TUE,
    WED,
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    future_day,
    market,
)
from .factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PORTFOLIO = {
    "code": "MACRO2",
    "name": "Second fund",
    "base_currency": "EUR",
    "inception_date": "2024-02-01",
    "initial_capital": "2500000.12345678",
}


# --- Portfolios -------------------------------------------------------------------------------


def test_portfolios_list_shows_capital_as_an_unrounded_decimal_string(viewer_client, portfolio):
    # Given MACRO1 with 1,000,000 of capital
    # When a viewer lists portfolios
    response = viewer_client.get(f"{API}/portfolios/")
    # Then it is there, its capital a decimal string
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["code"] == "MACRO1"
    assert row["inception_date"] == "2024-01-02"
    assert D(row["initial_capital"]) == Decimal(1_000_000)


def test_superuser_creates_a_portfolio(admin_client_api):
    response = admin_client_api.post(f"{API}/portfolios/", NEW_PORTFOLIO, format="json")
    assert response.status_code == 201, response.content
    created = Portfolio.objects.get(code="MACRO2")
    assert created.initial_capital == Decimal("2500000.12345678")
    assert created.base_currency == "EUR"
    assert D(response.json()["initial_capital"]) == Decimal("2500000.12345678")


def test_staff_without_a_group_creates_a_portfolio(client):
    # Given a staff member who is neither superuser nor in any desk group
    staff = UserFactory(username="ops-staff", is_staff=True)
    client.force_login(staff)
    # When they create a portfolio
    response = client.post(f"{API}/portfolios/", NEW_PORTFOLIO, content_type="application/json")
    # Then it exists
    assert response.status_code == 201, response.content
    assert Portfolio.objects.filter(code="MACRO2").exists()


def test_trader_may_not_create_a_portfolio(trader_client):
    response = trader_client.post(f"{API}/portfolios/", NEW_PORTFOLIO, format="json")
    assert response.status_code == 403
    assert not Portfolio.objects.filter(code="MACRO2").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "MACRO1"}, "code"),  # duplicate
        ({"initial_capital": "-1"}, "initial_capital"),
        ({"initial_capital": "NaN"}, "initial_capital"),
        ({"base_currency": "eur"}, "base_currency"),
        ({"inception_date": "2024-02-30"}, "inception_date"),
    ],
)
def test_bad_portfolio_is_rejected_naming_the_field(admin_client_api, portfolio, change, field):
    before = counts()
    response = admin_client_api.post(
        f"{API}/portfolios/", {**NEW_PORTFOLIO, **change}, format="json"
    )
    assert_400_naming(response, field)
    assert counts() == before


# --- Strategies -------------------------------------------------------------------------------


def test_trader_creates_and_lists_strategies(trader_client):
    # Given the MANUAL strategy from the migration
    # When a trader creates a carry strategy with a 2.5% risk budget
    response = trader_client.post(
        f"{API}/strategies/",
        {"code": "FXCARRY", "name": "FX carry", "asset_class": "FX", "risk_budget": "0.025"},
        format="json",
    )
    # Then it is stored and listed next to MANUAL
    assert response.status_code == 201, response.content
    assert Strategy.objects.get(code="FXCARRY").risk_budget == Decimal("0.025")
    listing = trader_client.get(f"{API}/strategies/").json()["results"]
    assert {row["code"] for row in listing} == {"FXCARRY", "MANUAL"}
    carry = next(row for row in listing if row["code"] == "FXCARRY")
    assert D(carry["risk_budget"]) == Decimal("0.025")
    # And the asset-class filter narrows the list
    fx_only = trader_client.get(f"{API}/strategies/?asset_class=FX").json()["results"]
    assert [row["code"] for row in fx_only] == ["FXCARRY"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"code": "MANUAL", "name": "again"}, "code"),
        ({"code": "X", "name": "x", "risk_budget": "-0.01"}, "risk_budget"),
        ({"code": "X", "name": "x", "risk_budget": "Infinity"}, "risk_budget"),
        ({"code": "X", "name": "x", "asset_class": "STOCKS"}, "asset_class"),
    ],
)
def test_bad_strategy_is_rejected_naming_the_field(trader_client, payload, field):
    before = counts()
    assert_400_naming(trader_client.post(f"{API}/strategies/", payload, format="json"), field)
    assert counts() == before


# --- Instruments ------------------------------------------------------------------------------

CL = {"symbol": "CL", "name": "WTI crude", "asset_class": "COMMODITY", "currency": "USD"}


def test_trader_creates_an_instrument_with_its_multiplier(trader_client):
    response = trader_client.post(
        f"{API}/instruments/", {**CL, "multiplier": "1000"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert D(body["multiplier"]) == Decimal(1000)
    assert body["last_price"] is None
    assert Instrument.objects.get(symbol="CL").multiplier == Decimal(1000)


def test_instrument_multiplier_defaults_to_one(trader_client):
    response = trader_client.post(f"{API}/instruments/", CL, format="json")
    assert response.status_code == 201, response.content
    assert Instrument.objects.get(symbol="CL").multiplier == Decimal(1)


def test_instruments_filter_by_currency(viewer_client):
    market()
    listing = viewer_client.get(f"{API}/instruments/?currency=EUR").json()["results"]
    assert [row["symbol"] for row in listing] == ["FGBL"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"multiplier": "0"}, "multiplier"),
        ({"multiplier": "-50"}, "multiplier"),
        ({"multiplier": "NaN"}, "multiplier"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "US"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"asset_class": "STOCKS"}, "asset_class"),
    ],
)
def test_bad_instrument_is_rejected_naming_the_field(trader_client, change, field):
    before = counts()
    response = trader_client.post(f"{API}/instruments/", {**CL, **change}, format="json")
    assert_400_naming(response, field)
    assert counts() == before


def test_duplicate_instrument_symbol_is_rejected_naming_symbol(trader_client):
    assert trader_client.post(f"{API}/instruments/", CL, format="json").status_code == 201
    before = counts()
    response = trader_client.post(f"{API}/instruments/", {**CL, "name": "again"}, format="json")
    assert_400_naming(response, "symbol")
    assert counts() == before
    assert Instrument.objects.get(symbol="CL").name == "WTI crude"


# --- Prices: query ----------------------------------------------------------------------------


def test_prices_query_by_symbol_and_dates(viewer_client):
    # Given closes for ES, FGBL, EURUSD on Mon..Wed
    market()
    # When a viewer asks for ES from Tuesday
    response = viewer_client.get(f"{API}/prices/?symbol=ES&from=2024-03-05")
    # Then Tuesday and Wednesday come back with unrounded closes
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["symbol"], r["date"]) for r in rows] == [("ES", "2024-03-05"), ("ES", "2024-03-06")]
    assert [D(r["close"]) for r in rows] == [Decimal("5010"), Decimal("5020.5")]
    # And ?to bounds the other end, across every symbol
    upto_monday = viewer_client.get(f"{API}/prices/?to=2024-03-04").json()["results"]
    assert sorted(r["symbol"] for r in upto_monday) == ["ES", "EURUSD", "FGBL"]
    assert {r["date"] for r in upto_monday} == {"2024-03-04"}
    one_day = viewer_client.get(f"{API}/prices/?symbol=FGBL&from=2024-03-05&to=2024-03-05")
    assert [D(r["close"]) for r in one_day.json()["results"]] == [Decimal("133")]


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2024-02-30", "from"), ("to=yesterday", "to"), ("from=2024-03-04&to=04/03/2024", "to")],
)
def test_prices_query_with_a_bad_date_names_the_parameter(viewer_client, query, field):
    response = viewer_client.get(f"{API}/prices/?{query}")
    body = assert_400_naming(response, field)
    assert "start" not in body and "end" not in body


# --- Prices: bulk load ------------------------------------------------------------------------


def test_bulk_load_writes_every_row_and_upserts(trader_client):
    # Given ES and FGBL with Monday's closes
    market()
    rows = [
        {"symbol": "ES", "date": "2024-03-07", "close": "5031.25"},
        {"symbol": "FGBL", "date": "2024-03-07", "close": "131.987654321"},
        {"symbol": "ES", "date": "2024-03-04", "close": "4999.75"},  # corrects Monday
    ]
    # When a trader loads three rows
    response = trader_client.post(f"{API}/prices/", rows, format="json")
    # Then all three are stored, Monday's close replaced, digits kept
    assert response.status_code == 201, response.content
    assert response.json() == {"loaded": 3}
    closes = dict(
        Price.objects.filter(date=dt.date(2024, 3, 7)).values_list("instrument__symbol", "close")
    )
    assert closes == {"ES": Decimal("5031.25"), "FGBL": Decimal("131.987654321")}
    assert Price.objects.get(instrument__symbol="ES", date=MON).close == Decimal("4999.75")
    assert Price.objects.filter(instrument__symbol="ES", date=MON).count() == 1


def test_bulk_load_with_unknown_symbols_names_them_all_and_writes_nothing(trader_client):
    market()
    before = counts()
    rows = [
        {"symbol": "ES", "date": "2024-03-07", "close": "5031"},
        {"symbol": "NOPE1", "date": "2024-03-07", "close": "1"},
        {"symbol": "NOPE2", "date": "2024-03-07", "close": "2"},
    ]
    response = trader_client.post(f"{API}/prices/", rows, format="json")
    assert_400_naming(response, "symbol", "NOPE1", "NOPE2")
    assert counts() == before


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"close": "0"}, "prices[1].close"),
        ({"close": "-3"}, "prices[1].close"),
        ({"close": "NaN"}, "prices[1].close"),
        ({"close": "Infinity"}, "prices[1].close"),
        ({"date": "2024-03-09"}, "prices[1].date"),  # Saturday
        ({"date": "2024-3-32"}, "prices[1].date"),
        ({"date": None}, "prices[1].date"),
    ],
)
def test_bulk_load_with_one_bad_row_names_it_and_writes_nothing(trader_client, row, field):
    market()
    before = counts()
    rows = [
        {"symbol": "ES", "date": "2024-03-07", "close": "5031"},
        {"symbol": "FGBL", "date": "2024-03-07", "close": "131", **row},
    ]
    assert_400_naming(trader_client.post(f"{API}/prices/", rows, format="json"), field)
    assert counts() == before


def test_bulk_load_with_a_row_twice_is_rejected(trader_client):
    market()
    before = counts()
    rows = [{"symbol": "ES", "date": "2024-03-07", "close": c} for c in ("5031", "5032")]
    assert_400_naming(trader_client.post(f"{API}/prices/", rows, format="json"), "prices", "ES")
    assert counts() == before


def test_bulk_load_of_a_future_date_names_it(trader_client):
    market()
    before = counts()
    rows = [{"symbol": "ES", "date": future_day().isoformat(), "close": "5031"}]
    assert_400_naming(trader_client.post(f"{API}/prices/", rows, format="json"), "prices[0].date")
    assert counts() == before


@pytest.mark.parametrize(
    "body", [{"symbol": "ES", "date": "2024-03-07", "close": "1"}, "ES", 42, []]
)
def test_bulk_load_needs_a_non_empty_list(trader_client, body):
    market()
    before = counts()
    assert_400_naming(trader_client.post(f"{API}/prices/", body, format="json"), "prices")
    assert counts() == before


def test_bulk_load_row_that_is_not_an_object_is_named(trader_client):
    market()
    before = counts()
    rows = [{"symbol": "ES", "date": "2024-03-07", "close": "1"}, 42]
    response = trader_client.post(f"{API}/prices/", rows, format="json")
    assert_400_naming(response, "prices[1]")
    assert counts() == before


# --- Prices: intraday mark --------------------------------------------------------------------


def test_intraday_mark_is_stored_with_its_time(trader_client):
    market()
    response = trader_client.post(
        f"{API}/prices/update/", {"symbol": "ES", "price": "5033.1234567891"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert D(body["last_price"]) == Decimal("5033.1234567891")
    es = Instrument.objects.get(symbol="ES")
    assert es.last_price == Decimal("5033.1234567891")
    assert es.last_price_at is not None
    assert body["last_price_at"] is not None


# --- Cash flows -------------------------------------------------------------------------------


def test_subscription_and_redemption_are_recorded_and_listed(trader_client, portfolio):
    # When a trader records a subscription on Monday and a redemption on Wednesday
    sub = trader_client.post(
        f"{API}/cashflows/", {"date": "2024-03-04", "amount": "250000.5"}, format="json"
    )
    red = trader_client.post(
        f"{API}/cashflows/",
        {"date": "2024-03-06", "amount": "-100000", "note": "client X"},
        format="json",
    )
    # Then both are stored, signed, and listed in date order
    assert sub.status_code == 201, sub.content
    assert red.status_code == 201, red.content
    assert D(sub.json()["amount"]) == Decimal("250000.5")
    assert sub.json()["portfolio"] == "MACRO1"
    flows = list(CashFlow.objects.order_by("date").values_list("date", "amount"))
    assert flows == [(MON, Decimal("250000.5")), (WED, Decimal("-100000"))]
    listing = trader_client.get(f"{API}/cashflows/").json()["results"]
    assert [(r["date"], D(r["amount"]), r["note"]) for r in listing] == [
        ("2024-03-04", Decimal("250000.5"), ""),
        ("2024-03-06", Decimal("-100000"), "client X"),
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"amount": "-Infinity"}, "amount"),
        ({"date": SAT.isoformat()}, "date"),
        ({"date": "2024-02-30"}, "date"),
        ({"date": "2023-12-29"}, "date"),  # before inception
        ({"date": None}, "date"),
    ],
)
def test_bad_cash_flow_is_rejected_naming_the_field(trader_client, portfolio, change, field):
    before = counts()
    payload = {"date": TUE.isoformat(), "amount": "1000", **change}
    assert_400_naming(trader_client.post(f"{API}/cashflows/", payload, format="json"), field)
    assert counts() == before


def test_cash_flow_in_the_future_is_rejected(trader_client, portfolio):
    before = counts()
    payload = {"date": future_day().isoformat(), "amount": "1000"}
    assert_400_naming(trader_client.post(f"{API}/cashflows/", payload, format="json"), "date")
    assert counts() == before


def test_cash_flows_of_another_portfolio_stay_apart(trader_client, portfolio):
    other = PortfolioFactory(code="MACRO2")
    response = trader_client.post(
        f"{API}/cashflows/?portfolio=MACRO2", {"date": "2024-03-05", "amount": "7"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert CashFlow.objects.get().portfolio == other
    assert trader_client.get(f"{API}/cashflows/?portfolio=MACRO1").json()["results"] == []
