"""Trading calendars in the book: the fields (API, import, admin validation), the carried close of
a market's holiday in the mark-to-market and the book, and the portfolio's own business days.

The market around Independence Day 2024 (Thu 4 July: NYSE closed, Xetra open): ES (USD, ×50,
XNYS), FDAX (EUR, ×25, XETR) and EURUSD (weekdays). Long 2 ES @ 5000 and 1 FDAX @ 18000, both
bought on Mon 1 July, in a USD portfolio.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management.base import CommandError

from pms_project.errors import MissingMarketDataError, PMSError
from portfolio import book, selectors, services
from portfolio.models import Instrument, NavSnapshot, Portfolio, PositionSnapshot, Price

from .api_support import API, D, api_test_defaults, assert_400_naming, counts  # noqa: F401
from .factories import InstrumentFactory, PortfolioFactory
from .test_commands import csv_file, run

pytestmark = pytest.mark.django_db

JUL = {d: dt.date(2024, 7, d) for d in range(1, 9)}
CLOSES = {
    "ES": {JUL[1]: "5000", JUL[2]: "5010", JUL[3]: "5020", JUL[5]: "5030"},
    "FDAX": {JUL[1]: "18000", JUL[2]: "18100", JUL[3]: "18200", JUL[4]: "18300", JUL[5]: "18250"},
    "EURUSD": {JUL[1]: "1.07", JUL[2]: "1.072", JUL[3]: "1.075", JUL[4]: "1.08", JUL[5]: "1.082"},
}


def holiday_market() -> None:
    InstrumentFactory(symbol="ES", multiplier=Decimal(50), calendar="XNYS")
    InstrumentFactory(symbol="FDAX", currency="EUR", multiplier=Decimal(25), calendar="XETR")
    InstrumentFactory(symbol="EURUSD", asset_class="FX")
    services.prices_load(
        services.PriceRow(symbol, day, Decimal(close))
        for symbol, by_day in CLOSES.items()
        for day, close in by_day.items()
    )


@pytest.fixture
def desk(db) -> Portfolio:
    portfolio = PortfolioFactory(code="HOLI", inception_date=JUL[1])
    holiday_market()
    for symbol, quantity, price in (("ES", "2", "5000"), ("FDAX", "1", "18000")):
        services.position_open(
            portfolio=portfolio,
            symbol=symbol,
            quantity=Decimal(quantity),
            price=Decimal(price),
            trade_date=JUL[1],
        )
    return portfolio


def snapshots(portfolio: Portfolio, day: dt.date) -> dict[str, PositionSnapshot]:
    return {
        s.position.instrument.symbol: s
        for s in PositionSnapshot.objects.filter(
            position__portfolio=portfolio, date=day
        ).select_related("position__instrument")
    }


# --- The fields -------------------------------------------------------------------------------

CL = {"symbol": "CL", "name": "WTI crude", "asset_class": "COMMODITY", "currency": "USD"}
NEW_PORTFOLIO = {
    "code": "MACRO2",
    "name": "Second fund",
    "base_currency": "EUR",
    "inception_date": "2024-02-01",
    "initial_capital": "1000000",
}


def test_instrument_calendar_through_the_api(trader_client, viewer_client):
    # When CL is created on CME's calendar and ZN without one
    created = trader_client.post(f"{API}/instruments/", {**CL, "calendar": "CMES"}, format="json")
    plain = trader_client.post(f"{API}/instruments/", {**CL, "symbol": "ZN"}, format="json")
    # Then each is stored and listed with its calendar, ZN on weekdays ("")
    assert created.status_code == 201, created.content
    assert plain.status_code == 201, plain.content
    assert (created.json()["calendar"], plain.json()["calendar"]) == ("CMES", "")
    listing = viewer_client.get(f"{API}/instruments/").json()["results"]
    assert {r["symbol"]: r["calendar"] for r in listing} == {"CL": "CMES", "ZN": ""}


@pytest.mark.parametrize("bad", ["NYSE", "holidays:ZZ", "24/8", 7])
def test_instrument_with_an_unknown_calendar_is_a_400_writing_nothing(trader_client, bad):
    before = counts()
    response = trader_client.post(f"{API}/instruments/", {**CL, "calendar": bad}, format="json")
    assert_400_naming(response, "calendar")
    assert counts() == before


def test_portfolio_calendar_through_the_api(admin_client_api, viewer_client):
    response = admin_client_api.post(
        f"{API}/portfolios/", {**NEW_PORTFOLIO, "calendar": "holidays:DE"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Portfolio.objects.get(code="MACRO2").calendar == "holidays:DE"
    listing = viewer_client.get(f"{API}/portfolios/").json()["results"]
    assert [(r["code"], r["calendar"]) for r in listing] == [("MACRO2", "holidays:DE")]
    before = counts()
    bad = admin_client_api.post(
        f"{API}/portfolios/", {**NEW_PORTFOLIO, "code": "M3", "calendar": "XNYZ"}, format="json"
    )
    assert_400_naming(bad, "calendar", "unknown calendar 'XNYZ'")
    assert counts() == before


def test_import_instruments_reads_the_calendar_column(tmp_path):
    # Given ES imported on NYSE's calendar and FGBL on Eurex's, EURUSD with a blank cell
    text = (
        "symbol,name,asset_class,currency,calendar\n"
        "ES,S&P 500 e-mini,EQUITY,USD,XNYS\n"
        "FGBL,Euro-Bund,RATES,EUR,XEUR\n"
        "EURUSD,Euro FX,FX,USD,\n"
    )
    run("import_instruments", csv_file(tmp_path, text))
    stored = dict(Instrument.objects.values_list("symbol", "calendar"))
    assert stored == {"ES": "XNYS", "FGBL": "XEUR", "EURUSD": ""}
    # When a file without the column updates ES, then ES keeps its calendar
    run(
        "import_instruments",
        csv_file(tmp_path, "symbol,name,asset_class,currency\nES,e,EQUITY,USD"),
    )
    assert Instrument.objects.get(symbol="ES").calendar == "XNYS"
    # And a file with the column changes it (a blank cell: back to weekdays)
    run(
        "import_instruments",
        csv_file(tmp_path, "symbol,name,asset_class,currency,calendar\nES,e,EQUITY,USD,"),
    )
    assert Instrument.objects.get(symbol="ES").calendar == ""


def test_import_instruments_refuses_an_unknown_calendar_writing_nothing(tmp_path):
    text = (
        "symbol,name,asset_class,currency,calendar\n"
        "ES,S&P 500 e-mini,EQUITY,USD,XNYS\n"
        "FGBL,Euro-Bund,RATES,EUR,EUREX\n"
    )
    with pytest.raises(CommandError, match=r"line 3: calendar unknown calendar 'EUREX'"):
        run("import_instruments", csv_file(tmp_path, text))
    assert Instrument.objects.count() == 0


def test_instruments_upsert_refuses_an_unknown_calendar_naming_the_field():
    row = services.InstrumentRow("ES", "e", "EQUITY", "USD", calendar="holidays:XX")
    with pytest.raises(PMSError) as caught:
        services.instruments_upsert([row])
    assert caught.value.field == "calendar"
    assert Instrument.objects.count() == 0


# --- Mark-to-market over a market's holiday ---------------------------------------------------


def test_mtm_of_a_us_holiday_carries_the_us_close_and_marks_the_german_one(desk):
    # When 3 and 4 July are marked (NYSE closed on the 4th, Xetra open)
    services.mark_to_market_range(portfolio=desk, start=JUL[3], end=JUL[4])
    held = snapshots(desk, JUL[4])
    # Then ES is marked at its close of the 3rd, flagged carried; FDAX at its close of the 4th
    assert (held["ES"].price, held["ES"].carried) == (Decimal("5020"), True)
    assert (held["FDAX"].price, held["FDAX"].carried) == (Decimal("18300"), False)
    assert held["FDAX"].fx == Decimal("1.08")
    assert not any(s.carried for s in snapshots(desk, JUL[3]).values())
    # And the NAV holds both: ES unchanged since the 3rd, FDAX at the 4th's close and rate
    es = (Decimal(CLOSES["ES"][JUL[3]]) - 5000) * 2 * 50
    fdax = (Decimal(CLOSES["FDAX"][JUL[4]]) - 18000) * 25 * Decimal(CLOSES["EURUSD"][JUL[4]])
    nav = NavSnapshot.objects.get(portfolio=desk, date=JUL[4]).nav
    assert nav == desk.initial_capital + es + fdax
    assert held["ES"].daily_pnl == 0


def test_the_book_shows_the_carried_close(desk, viewer_client):
    # Given the closes up to 4 July (ES has none that day: NYSE closed)
    Price.objects.filter(date=JUL[5]).delete()
    # When the book is read, as of the 4th (FDAX's close)
    rows = {r["symbol"]: r for r in book.book_get(desk)["positions"]}
    body = viewer_client.get(f"{API}/book/?portfolio=HOLI").json()
    # Then ES's close of the 3rd is carried, FDAX's of the 4th is not; the API says the same
    assert (rows["ES"]["price_date"], rows["ES"]["carried"]) == (JUL[3], True)
    assert (rows["FDAX"]["price_date"], rows["FDAX"]["carried"]) == (JUL[4], False)
    assert body["as_of"] == "2024-07-04"
    api_rows = {r["symbol"]: r for r in body["positions"]}
    assert (api_rows["ES"]["carried"], api_rows["FDAX"]["carried"]) == (True, False)
    assert D(api_rows["ES"]["price"]) == Decimal("5020")


def test_the_book_does_not_carry_a_close_missing_on_an_open_day(desk):
    # Given FDAX's close of the 4th missing too: the book is as of the 3rd, nothing is carried
    Price.objects.filter(date__gte=JUL[4]).delete()
    rows = {r["symbol"]: r for r in book.book_get(desk)["positions"]}
    assert [rows[s]["carried"] for s in ("ES", "FDAX")] == [False, False]
    # And with ES off its holiday calendar, its close of the 3rd, behind FDAX's of the 4th,
    # is not carried either: its market was open on the 4th
    Price.objects.create(instrument=Instrument.objects.get(symbol="FDAX"), date=JUL[4], close=1)
    Instrument.objects.filter(symbol="ES").update(calendar="")
    rows = {r["symbol"]: r for r in book.book_get(desk)["positions"]}
    assert (rows["ES"]["price_date"], rows["ES"]["carried"]) == (JUL[3], False)


def test_a_missing_close_on_an_open_day_fails_naming_it(desk):
    # Given FDAX has no close on the 4th although Xetra was open
    Price.objects.filter(instrument__symbol="FDAX", date=JUL[4]).delete()
    # When the 4th is marked, then the run fails naming FDAX (not ES, whose market was closed)
    with pytest.raises(MissingMarketDataError) as caught:
        services.mark_to_market(portfolio=desk, business_date=JUL[4])
    assert caught.value.field == "date"
    assert "FDAX" in caught.value.message and "ES" not in caught.value.message
    assert not NavSnapshot.objects.filter(date=JUL[4]).exists()
    assert not PositionSnapshot.objects.filter(date=JUL[4]).exists()


def test_a_carried_close_must_be_of_the_previous_session(desk):
    # Given ES lacks its close of the 3rd (its last session before the holiday)
    Price.objects.filter(instrument__symbol="ES", date=JUL[3]).delete()
    # When the 4th is marked, then ES is missing: its close of the 2nd is not carried two days
    with pytest.raises(MissingMarketDataError, match="ES"):
        services.mark_to_market(portfolio=desk, business_date=JUL[4])
    assert not NavSnapshot.objects.filter(date=JUL[4]).exists()


def test_a_close_stored_on_the_markets_holiday_is_not_used(desk):
    # Given a vendor's repeat of ES's close on the 4th, at a different price
    Price.objects.create(instrument=Instrument.objects.get(symbol="ES"), date=JUL[4], close=1)
    services.mark_to_market(portfolio=desk, business_date=JUL[4])
    # Then the 4th is still marked at the close of the 3rd, carried
    held = snapshots(desk, JUL[4])
    assert (held["ES"].price, held["ES"].carried) == (Decimal("5020"), True)


# --- The portfolio's calendar -----------------------------------------------------------------


def test_mtm_of_a_portfolio_holiday_is_refused_naming_date(desk, trader_client):
    # Given the portfolio runs on NYSE's calendar
    Portfolio.objects.filter(pk=desk.pk).update(calendar="XNYS")
    desk.refresh_from_db()
    assert selectors.portfolio_is_open(desk, JUL[4]) is False
    assert selectors.portfolio_is_open(desk, JUL[5]) is True
    # When the 4th is marked, through the service and the API, then both refuse naming date
    with pytest.raises(PMSError) as caught:
        services.mark_to_market(portfolio=desk, business_date=JUL[4])
    assert caught.value.field == "date"
    before = counts()
    response = trader_client.post(
        f"{API}/mtm/?portfolio=HOLI", {"date": "2024-07-04"}, format="json"
    )
    assert_400_naming(response, "date", "2024-07-04", "XNYS")
    assert counts() == before


def test_mtm_range_skips_the_portfolios_holidays(desk):
    Portfolio.objects.filter(pk=desk.pk).update(calendar="XNYS")
    desk.refresh_from_db()
    marked = services.mark_to_market_range(portfolio=desk, start=JUL[1], end=JUL[5])
    assert [s.date for s in marked] == [JUL[d] for d in (1, 2, 3, 5)]
    # And on weekdays the same range marks the 4th, ES carried
    desk.calendar = ""
    marked = services.mark_to_market_range(portfolio=desk, start=JUL[1], end=JUL[5])
    assert [s.date for s in marked] == [JUL[d] for d in (1, 2, 3, 4, 5)]
    assert snapshots(desk, JUL[4])["ES"].carried is True
    assert services.business_date_range(JUL[1], JUL[5], portfolio=desk) == [
        JUL[d] for d in (1, 2, 3, 4, 5)
    ]
