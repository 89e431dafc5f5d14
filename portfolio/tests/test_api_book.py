"""API: the book (valued, degraded) and its query count."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portfolio import selectors, services
from portfolio.models import (
    Instrument,
    NavSnapshot,
    PositionSnapshot,
    Price,
)

from .api_support import (
    API,
    ES_EXPOSURE,
    ES_UNREALIZED,
    FGBL_EXPOSURE,
    FGBL_UNREALIZED,
    FRI,
    MON,
    NAV,
    THU,
    TUE,
    WED,
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    market,
    open_position,
    stored_position,
)
from .factories import InstrumentFactory, StrategyFactory, UserFactory

pytestmark = pytest.mark.django_db


# --- The book ---------------------------------------------------------------------------------


def test_book_exposures_nav_and_leverage(viewer_client, book):
    # Given the two positions and closes up to Wednesday
    # When a viewer reads the book
    response = viewer_client.get(f"{API}/book/")
    assert response.status_code == 200, response.content
    body = response.json()
    # Then each position is marked at Wednesday's close, FGBL converted at Wednesday's EURUSD
    rows = {row["symbol"]: row for row in body["positions"]}
    assert set(rows) == {"ES", "FGBL"}
    es, fgbl = rows["ES"], rows["FGBL"]
    assert (es["price_date"], es["price_source"]) == ("2024-03-06", "close")
    # And, read today, Wednesday's marks are long stale
    assert es["mark_age_days"] == (timezone.now().date() - WED).days
    assert es["stale"] is True
    assert D(es["price"]) == Decimal("5020.5")
    assert D(es["fx"]) == 1
    assert D(es["exposure"]) == ES_EXPOSURE == Decimal(502050)
    assert D(es["unrealized"]) == ES_UNREALIZED
    assert D(fgbl["fx"]) == Decimal("1.0875")
    assert D(fgbl["exposure"]) == FGBL_EXPOSURE == Decimal("-433096.875")
    assert D(fgbl["unrealized"]) == FGBL_UNREALIZED == Decimal("-815.625")
    assert D(fgbl["quantity"]) == -3
    assert (fgbl["currency"], fgbl["asset_class"], fgbl["strategy"]) == ("EUR", "RATES", "MANUAL")
    # And every position is valued: the book is complete
    assert (body["complete"], body["unvalued"]) == (True, [])
    # And the totals follow, unrounded
    assert body["as_of"] == "2024-03-06"
    assert body["base_currency"] == "USD"
    assert D(body["nav"]) == NAV == Decimal("1001234.375")
    gross = ES_EXPOSURE - FGBL_EXPOSURE
    assert D(body["gross_exposure"]) == gross == Decimal("935146.875")
    assert D(body["net_exposure"]) == ES_EXPOSURE + FGBL_EXPOSURE == Decimal("68953.125")
    assert isinstance(body["leverage"], float)
    assert body["leverage"] == float(gross / NAV)
    assert {k: D(v) for k, v in body["exposure_by_asset_class"].items()} == {
        "EQUITY": ES_EXPOSURE,
        "RATES": FGBL_EXPOSURE,
    }
    assert {k: D(v) for k, v in body["exposure_by_currency"].items()} == {
        "EUR": FGBL_EXPOSURE,
        "USD": ES_EXPOSURE,
    }
    # And with no snapshot yet, 1D, MTD and YTD are all the P&L since inception
    assert set(body["pnl"]) == {"1D", "MTD", "YTD"}
    assert {k: D(v) for k, v in body["pnl"].items()} == dict.fromkeys(
        ["1D", "MTD", "YTD"], ES_UNREALIZED + FGBL_UNREALIZED
    )


def test_book_counts_a_subscription_in_nav_but_not_in_pnl(viewer_client, trader_client, book):
    response = trader_client.post(
        f"{API}/cashflows/", {"date": "2024-03-05", "amount": "100000"}, format="json"
    )
    assert response.status_code == 201
    body = viewer_client.get(f"{API}/book/").json()
    assert D(body["nav"]) == NAV + 100_000
    assert body["leverage"] == float((ES_EXPOSURE - FGBL_EXPOSURE) / (NAV + 100_000))
    assert {k: D(v) for k, v in body["pnl"].items()} == dict.fromkeys(
        ["1D", "MTD", "YTD"], ES_UNREALIZED + FGBL_UNREALIZED
    )


def test_book_pnl_periods_after_marks_across_a_month_end(trader_client, portfolio):
    # Given long 1 ES bought at 4900 on Wed 28 Feb, marked on 28 Feb, 29 Feb and Mon 4 Mar
    InstrumentFactory(symbol="ES", multiplier=Decimal(50))
    rows = [("2024-02-28", "4900"), ("2024-02-29", "4950"), ("2024-03-04", "5000")]
    rows.append(("2024-03-05", "5010"))
    load = [{"symbol": "ES", "date": d, "close": c} for d, c in rows]
    assert trader_client.post(f"{API}/prices/", load, format="json").status_code == 201
    opened = trader_client.post(
        f"{API}/positions/open/",
        {"symbol": "ES", "quantity": "1", "price": "4900", "trade_date": "2024-02-28"},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    for day in ("2024-02-28", "2024-02-29", "2024-03-04"):
        assert trader_client.post(f"{API}/mtm/", {"date": day}, format="json").status_code == 200
    # When the book is read with Tuesday's close (5010) as the latest mark
    body = trader_client.get(f"{API}/book/").json()
    # Then NAV = 1,000,000 + (5010 − 4900) × 50; 1D since Monday's mark, MTD since 29 Feb's NAV
    assert D(body["nav"]) == Decimal(1_005_500)
    assert {k: D(v) for k, v in body["pnl"].items()} == {
        "1D": Decimal(500),  # (5010 − 5000) × 50
        "MTD": Decimal(3000),  # 1,005,500 − 1,002,500
        "YTD": Decimal(5500),  # 1,005,500 − initial capital
    }
    [row] = body["positions"]
    assert D(row["daily_pnl"]) == Decimal(500)


def test_book_agrees_with_the_mark_of_its_as_of_date(trader_client, book):
    # Given Monday, Tuesday and Wednesday marked (Wednesday's closes are the book's latest marks)
    for day in ("2024-03-04", "2024-03-05", "2024-03-06"):
        assert trader_client.post(f"{API}/mtm/", {"date": day}, format="json").status_code == 200
    wednesday = NavSnapshot.objects.get(date=WED)
    # When the book is read
    body = trader_client.get(f"{API}/book/").json()
    # Then its NAV is Wednesday's NAV and its 1D P&L is Wednesday's daily P&L
    assert body["as_of"] == "2024-03-06"
    assert D(body["nav"]) == wednesday.nav == NAV
    assert (
        D(body["pnl"]["1D"]) == wednesday.daily_pnl == NAV - NavSnapshot.objects.get(date=TUE).nav
    )
    exposures = {
        s.position.instrument.symbol: s.exposure
        for s in PositionSnapshot.objects.filter(date=WED).select_related("position__instrument")
    }
    assert {row["symbol"]: D(row["exposure"]) for row in body["positions"]} == exposures


def test_intraday_mark_moves_the_book(trader_client, book):
    # Given the book marked at Wednesday's ES close (5020.5)
    # When a trader sets an intraday ES mark of 5030
    response = trader_client.post(
        f"{API}/prices/update/", {"symbol": "ES", "price": "5030"}, format="json"
    )
    assert response.status_code == 200, response.content
    # Then the book marks ES there, dated today, and NAV and exposure follow
    body = trader_client.get(f"{API}/book/").json()
    es = next(row for row in body["positions"] if row["symbol"] == "ES")
    assert es["price_source"] == "intraday"
    assert es["price_date"] == timezone.now().date().isoformat()
    assert (es["mark_age_days"], es["stale"]) == (0, False)
    assert D(es["price"]) == 5030
    assert D(es["exposure"]) == Decimal(503000)
    assert D(es["unrealized"]) == Decimal(3000)
    assert D(body["nav"]) == Decimal(1_000_000) + 3000 + FGBL_UNREALIZED
    assert D(body["exposure_by_asset_class"]["EQUITY"]) == Decimal(503000)


def test_intraday_fx_mark_converts_the_eur_position(trader_client, book):
    # When EURUSD is marked intraday at 1.1
    response = trader_client.post(
        f"{API}/prices/update/", {"symbol": "EURUSD", "price": "1.1"}, format="json"
    )
    assert response.status_code == 200
    # Then FGBL converts at 1.1, still at Wednesday's FGBL close
    body = trader_client.get(f"{API}/book/").json()
    fgbl = next(row for row in body["positions"] if row["symbol"] == "FGBL")
    assert (fgbl["price_source"], D(fgbl["fx"])) == ("close", Decimal("1.1"))
    assert D(fgbl["exposure"]) == Decimal(-3) * 1000 * Decimal("132.75") * Decimal("1.1")
    assert D(body["exposure_by_currency"]["EUR"]) == D(fgbl["exposure"])


def test_empty_book_is_the_capital(viewer_client, portfolio):
    body = viewer_client.get(f"{API}/book/").json()
    assert body["positions"] == []
    assert (body["complete"], body["unvalued"]) == (True, [])
    assert D(body["nav"]) == Decimal(1_000_000)
    assert D(body["gross_exposure"]) == 0
    assert body["leverage"] == 0.0
    assert body["exposure_by_asset_class"] == {}


# --- A book that degrades, never fails -------------------------------------------------------


def test_a_never_priced_instrument_is_marked_at_its_sleeves_last_execution(
    viewer_client, portfolio, book
):
    # Given NQ (×20), never priced, in two sleeves: MANUAL buys 1 @ 18000 on Wednesday and
    # 1 @ 18100 on Thursday; EQMOM buys 2 @ 17900 on Tuesday
    InstrumentFactory(symbol="NQ", multiplier=Decimal(20))
    StrategyFactory(code="EQMOM")
    open_position(portfolio, "NQ", "1", "18000", day=WED)
    open_position(portfolio, "NQ", "1", "18100", day=THU)
    open_position(portfolio, "NQ", "2", "17900", day=TUE, strategy="EQMOM")
    # When the book is read
    response = viewer_client.get(f"{API}/book/")
    # Then each sleeve is marked at its own last execution price, dated by that execution
    assert response.status_code == 200, response.content
    body = response.json()
    nq = {row["strategy"]: row for row in body["positions"] if row["symbol"] == "NQ"}
    manual, eqmom = nq["MANUAL"], nq["EQMOM"]
    assert (manual["price_source"], D(manual["price"]), manual["price_date"]) == (
        "execution",
        Decimal(18100),
        THU.isoformat(),
    )
    assert (eqmom["price_source"], D(eqmom["price"]), eqmom["price_date"]) == (
        "execution",
        Decimal(17900),
        TUE.isoformat(),
    )
    assert D(manual["exposure"]) == 2 * 20 * Decimal(18100)
    assert D(manual["unrealized"]) == (18100 - 18050) * 2 * 20  # avg cost 18050
    assert D(eqmom["unrealized"]) == 0
    assert manual["mark_age_days"] == (timezone.now().date() - THU).days
    assert manual["stale"] is True
    # And the book is complete, NAV counts them, and as_of stays at the last close: a trade
    # price (Thursday's) is not a market mark
    assert (body["complete"], body["unvalued"]) == (True, [])
    assert body["as_of"] == WED.isoformat()
    assert D(body["nav"]) == NAV + 2000
    nq_exposure = 2 * 20 * 18100 + 2 * 20 * 17900
    assert D(body["exposure_by_asset_class"]["EQUITY"]) == ES_EXPOSURE + nq_exposure


@pytest.mark.parametrize("pair", ["no pair instrument", "a pair never priced"])
def test_a_position_without_any_fx_rate_is_unvalued_and_the_rest_is_valued(
    viewer_client, portfolio, book, pair
):
    # Given a Nikkei future in JPY with a close, but no rate at all converting JPY to USD
    nikkei = InstrumentFactory(symbol="NK", currency="JPY", multiplier=Decimal(500))
    services.prices_load([services.PriceRow("NK", WED, Decimal(39000))])
    if pair == "a pair never priced":
        InstrumentFactory(symbol="JPYUSD", asset_class="FX", currency="USD")
    # And a long NK with 700 USD of realized P&L (stored: the API refuses such a position now)
    nk = stored_position(portfolio, nikkei, "1", "38000", realized="700")
    # When the book is read
    response = viewer_client.get(f"{API}/book/")
    # Then it answers, listing NK as unvalued with the reason, and says it is incomplete
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["complete"] is False
    [row] = body["unvalued"]
    assert (row["id"], row["symbol"], row["strategy"], D(row["quantity"])) == (
        nk.id,
        "NK",
        "MANUAL",
        1,
    )
    assert "JPYUSD" in row["reason"] and "USDJPY" in row["reason"], row["reason"]
    # And the other positions are valued as before; NAV adds NK's realized P&L, not a guess of
    # its unrealized; the 1D P&L is the valued positions'
    assert [r["symbol"] for r in body["positions"]] == ["ES", "FGBL"]
    assert D(body["nav"]) == NAV + 700
    assert D(body["gross_exposure"]) == ES_EXPOSURE - FGBL_EXPOSURE
    assert "JPY" not in body["exposure_by_currency"]
    assert D(body["pnl"]["1D"]) == ES_UNREALIZED + FGBL_UNREALIZED
    assert body["as_of"] == WED.isoformat()


def test_a_position_with_no_price_of_any_kind_is_unvalued(viewer_client, portfolio, book):
    # Given a position stored with no execution behind it, in an instrument never priced
    ghost = stored_position(portfolio, InstrumentFactory(symbol="GHOST"), "5", "10")
    body = viewer_client.get(f"{API}/book/").json()
    assert body["complete"] is False
    assert [(r["id"], r["reason"]) for r in body["unvalued"]] == [
        (ghost.id, "no close, intraday mark or execution price for GHOST")
    ]
    assert D(body["nav"]) == NAV


@pytest.mark.parametrize(
    ("multiplier", "quantity", "close", "reason"),
    [
        # The fuzzer's row: 9,999,999,999,999,999 contracts × 125,000 × 100 = 1.25E+23 of
        # exposure, more than NUMERIC(28, 8) holds (it was a 500: decimal.InvalidOperation).
        ("125000", "9999999999999999", "100", "exposure"),
        # About 1E+44: beyond even the 50-digit arithmetic, which raises.
        (
            "99999999999999.999999",
            "9999999999999999.99999999",
            "99999999999999.9999999999",
            "overflows",
        ),
    ],
)
def test_a_row_whose_arithmetic_overflows_is_unvalued_not_a_500(
    viewer_client, portfolio, book, multiplier, quantity, close, reason
):
    # Given a row the API would refuse, written with the ORM
    big = InstrumentFactory(symbol="BIG", multiplier=Decimal(multiplier))
    Price.objects.create(instrument=big, date=WED, close=Decimal(close))
    position = stored_position(portfolio, big, quantity)
    # When the book is read
    response = viewer_client.get(f"{API}/book/")
    # Then it answers 200: BIG is unvalued with the reason, everything else valued
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["complete"] is False
    [row] = body["unvalued"]
    assert (row["id"], row["symbol"], D(row["quantity"])) == (
        position.id,
        "BIG",
        Decimal(quantity),
    )
    assert reason in row["reason"], row["reason"]
    assert [r["symbol"] for r in body["positions"]] == ["ES", "FGBL"]
    assert D(body["nav"]) == NAV
    assert D(body["gross_exposure"]) == ES_EXPOSURE - FGBL_EXPOSURE


MON_11 = dt.date(2024, 3, 11)


@pytest.mark.parametrize(
    ("today", "mark_day", "age", "stale"),
    [
        (WED, WED, 0, False),
        (THU, WED, 1, False),  # the previous business day's close is not stale
        (THU, TUE, 2, True),
        (MON_11, FRI, 3, False),  # on a Monday, the previous business day is Friday
        (MON_11, THU, 4, True),
    ],
)
def test_a_mark_older_than_the_previous_business_day_is_stale(
    viewer_client, portfolio, monkeypatch, today, mark_day, age, stale
):
    # Given one position in ES, closed on mark_day only
    InstrumentFactory(symbol="ES", multiplier=Decimal(50))
    services.prices_load([services.PriceRow("ES", mark_day, Decimal(5000))])
    open_position(portfolio, "ES", "1", "4990", day=mark_day)
    # When the book is read on ``today``
    monkeypatch.setattr(selectors, "today", lambda: today)
    [row] = viewer_client.get(f"{API}/book/").json()["positions"]
    # Then the row says how old its mark is, and flags it stale before the previous business day
    assert (row["price_date"], row["mark_age_days"], row["stale"]) == (
        mark_day.isoformat(),
        age,
        stale,
    )


def test_mtm_still_refuses_a_date_the_book_only_degrades_on(trader_client, portfolio, book):
    # Given NQ, never priced, and NK in JPY whose only JPYUSD close is Monday's, both bought on
    # Wednesday
    InstrumentFactory(symbol="NQ", multiplier=Decimal(20))
    InstrumentFactory(symbol="NK", currency="JPY", multiplier=Decimal(500))
    InstrumentFactory(symbol="JPYUSD", asset_class="FX", currency="USD")
    services.prices_load(
        [
            services.PriceRow("NK", WED, Decimal(39000)),
            services.PriceRow("JPYUSD", MON, Decimal("0.0067")),
        ]
    )
    open_position(portfolio, "NQ", "1", "18000", day=WED)
    open_position(portfolio, "NK", "1", "38000", day=WED)
    # Then the book answers, complete: NQ at its execution price, NK at Monday's rate
    body = trader_client.get(f"{API}/book/").json()
    assert body["complete"] is True
    rows = {r["symbol"]: r for r in body["positions"]}
    assert rows["NQ"]["price_source"] == "execution"
    assert D(rows["NK"]["fx"]) == Decimal("0.0067")
    # But marking Wednesday refuses, naming the missing close, and writes nothing
    before = counts()
    mtm = {"date": WED.isoformat()}
    response = trader_client.post(f"{API}/mtm/", mtm, format="json")
    assert_400_naming(response, "date", "NQ", WED.isoformat())
    assert counts() == before
    # And, NQ's close loaded, it still refuses, naming the missing rate
    services.prices_load([services.PriceRow("NQ", WED, Decimal(18010))])
    before = counts()
    response = trader_client.post(f"{API}/mtm/", mtm, format="json")
    assert_400_naming(response, "date", "JPYUSD", WED.isoformat())
    assert counts() == before
    assert not NavSnapshot.objects.filter(date=WED).exists()


# --- Query count ------------------------------------------------------------------------------


def _grow_book(portfolio, start: int, stop: int, *, degraded: bool = False) -> None:
    """Long positions in Q<start>..Q<stop−1>, half of them in EUR, with Monday closes.

    ``degraded``: of every three, one is never priced (marked at its execution price) and one is
    in JPY with no rate at all (stored directly, since the API refuses it: unvalued).
    """
    kinds = {
        n: ("close", "execution", "unvalued")[n % 3] if degraded else "close"
        for n in range(start, stop)
    }
    for n, kind in kinds.items():
        currency = "JPY" if kind == "unvalued" else "EUR" if n % 2 else "USD"
        InstrumentFactory(symbol=f"Q{n}", currency=currency)
    services.prices_load(
        services.PriceRow(f"Q{n}", MON, Decimal(100 + n))
        for n, kind in kinds.items()
        if kind != "execution"
    )
    for n, kind in kinds.items():
        if kind == "unvalued":
            stored_position(portfolio, Instrument.objects.get(symbol=f"Q{n}"), "10", "99")
        else:
            open_position(portfolio, f"Q{n}", "10", "99", day=MON)


def _queries_of_one_book_read(client) -> int:
    cache.clear()  # measure the database, not a cached answer
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{API}/book/")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("degraded", [False, True], ids=["valued", "degraded"])
def test_book_query_count_does_not_grow_with_positions(
    portfolio, django_assert_max_num_queries, degraded
):
    # Given a viewer on a real token (each request loads the user and its groups afresh)
    client = APIClient()
    token = Token.objects.create(user=UserFactory(username="viewer-q", groups=["viewer"]))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    # And a book of 3 positions (EURUSD gives the EUR rate); degraded, one of them is marked at
    # its execution price and one cannot be valued
    market()
    _grow_book(portfolio, 0, 3, degraded=degraded)
    small, body = _queries_of_one_book_read(client)
    assert len(body["positions"] + body["unvalued"]) == 3
    # When it grows to 30 positions
    _grow_book(portfolio, 3, 30, degraded=degraded)
    with django_assert_max_num_queries(small):
        large, body = _queries_of_one_book_read(client)
    # Then the book costs the same number of queries, and few
    assert len(body["positions"] + body["unvalued"]) == 30
    sources = [row["price_source"] for row in body["positions"]]
    if degraded:
        assert (sources.count("close"), sources.count("execution")) == (10, 10)
        assert len(body["unvalued"]) == 10 and body["complete"] is False
    else:
        assert set(sources) == {"close"} and body["complete"] is True
    assert body["as_of"] == MON.isoformat()  # the positions' latest close
    assert large == small
    assert small <= 15, small
