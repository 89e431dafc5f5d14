"""Hostile input, one table per family: a 4xx JSON answer naming the field, and nothing written.

Each family comes from an attack that once answered 500 or was accepted and then took the desk's
book down. Every case checks the status, that the JSON body names the field, that the portfolio
tables are unchanged (row counts and a checksum of every row), and that a viewer still gets the
book afterwards.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from portfolio import services
from portfolio.models import Instrument, NavSnapshot

from .api_support import (
    API,
    MON,
    TUE,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    open_book,
)
from .factories import InstrumentFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST_ENDPOINTS = [
    "portfolios/",
    "strategies/",
    "instruments/",
    "prices/",
    "positions/",
    "nav/",
    "cashflows/",
]
PORTFOLIO_SCOPED_GETS = ["book/", "positions/", "nav/", "cashflows/"]
OPEN = {"symbol": "ES", "quantity": "2", "price": "5000", "trade_date": MON.isoformat()}


def db_state() -> dict[str, tuple[int, str]]:
    """(row count, md5 of every row) of each table of the portfolio app."""
    state = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename LIKE 'portfolio\\_%' ORDER BY tablename"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f'FROM "{table}" t'
            )
            state[table] = cursor.fetchone()
    return state


@pytest.fixture
def desk(portfolio):
    """The shared market (ES, FGBL in EUR, EURUSD), two open positions, one MTM."""
    positions = open_book(portfolio)
    services.mark_to_market(portfolio=portfolio, business_date=MON)
    return positions


@pytest.fixture
def viewer(db):
    client = APIClient()
    client.force_authenticate(UserFactory(username="viewer9", groups=["viewer"]))
    return client


def assert_refused(response, field: str | None, *, status: int = 400) -> dict:
    """A JSON answer with ``status`` whose body names ``field`` (or carries a ``detail``)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict) and body, body
    key = field or "detail"
    assert key in body, body
    assert body[key], body
    return body


@pytest.fixture
def unchanged(desk, viewer):
    """Asserts, after the test's request, that nothing was written and the book still answers."""
    before = db_state()
    yield
    assert db_state() == before
    response = viewer.get(f"{API}/book/")
    assert response.status_code == 200, response.content[:500]


# --- NUL bytes, lone surrogates and control characters ----------------------------------------


@pytest.mark.parametrize("path", PORTFOLIO_SCOPED_GETS)
@pytest.mark.parametrize("value", ["\x00", "MACRO1\x00", "\x1b[2J", "\n"])
def test_control_characters_in_the_portfolio_parameter(unchanged, trader_client, path, value):
    assert_refused(trader_client.get(f"{API}/{path}", {"portfolio": value}), "portfolio")


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("prices/", {"symbol": "ES\x00"}, "symbol"),
        ("prices/", {"from": "2024-03-04\x00"}, "from"),
        ("positions/", {"status": "open\x00"}, "status"),
        ("instruments/", {"currency": "\x00"}, "currency"),
        ("nav/", {"limit": "\x00"}, "limit"),
    ],
)
def test_control_characters_in_any_query_parameter(unchanged, trader_client, path, params, field):
    assert_refused(trader_client.get(f"{API}/{path}", params), field)


# Raw JSON bodies: "\u0000" and a lone "\ud800" are valid JSON escapes that PostgreSQL cannot store.
BODY_STRINGS = [
    (
        "positions/open/",
        '{"symbol": "ES\\u0000", "quantity": "1", "price": "5000", "trade_date": "2024-03-04"}',
        "symbol",
    ),
    (
        "positions/open/",
        '{"symbol": "ES", "quantity": "1", "price": "5000", '
        '"trade_date": "2024-03-04", "strategy": "\\ud800"}',
        "strategy",
    ),
    (
        "positions/open/",
        '{"symbol": "ES", "quantity": "1", "price": "5000", '
        '"trade_date": "2024-03-04", "portfolio": "\\u0000"}',
        "portfolio",
    ),
    ("cashflows/", '{"date": "2024-03-05", "amount": "100", "note": "\\ud83d"}', "note"),
    ("cashflows/", '{"date": "2024-03-05", "amount": "100", "note": "a\\u0000b"}', "note"),
    ("prices/", '[{"symbol": "ES", "date": "2024-03-05", "close": "1\\u0000"}]', "prices[0].close"),
    ("prices/update/", '{"symbol": "\\udfff", "price": "5001"}', "symbol"),
    (
        "instruments/",
        '{"symbol": "XX", "name": "\\u0000", "asset_class": "FX", "currency": "USD"}',
        "name",
    ),
    ("mtm/", '{"date\\u0000": "2024-03-04"}', "<key>"),
]


@pytest.mark.parametrize(("path", "body", "field"), BODY_STRINGS)
def test_nul_and_lone_surrogates_in_json_strings(unchanged, trader_client, path, body, field):
    response = trader_client.post(f"{API}/{path}", body, content_type="application/json")
    assert_refused(response, field)


# WSGI hands headers over as latin-1 text: a UTF-8 "✓" arrives as three latin-1 characters.
@pytest.mark.parametrize(
    "header",
    ["Token \x00", "Token " + "0" * 39 + "\x00", "Token " + "✓".encode().decode("latin-1") * 3],
)
def test_malformed_tokens_are_refused_before_the_database(unchanged, header):
    response = APIClient().get(f"{API}/book/", HTTP_AUTHORIZATION=header)
    assert_refused(response, None, status=401)


def test_a_cookie_with_a_nul_is_ignored(unchanged):
    client = APIClient()
    client.cookies["sessionid"] = "\x00"
    assert_refused(client.get(f"{API}/book/"), None, status=401)


# --- Pagination -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LIST_ENDPOINTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "9223372036854775808"}, "limit"),
        ({"limit": "10001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "9223372036854775808"}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "١"}, "offset"),  # an Arabic-Indic digit: isdigit() but not ASCII
    ],
)
def test_page_parameters_out_of_range(unchanged, trader_client, path, params, field):
    assert_refused(trader_client.get(f"{API}/{path}", params), field)


def test_the_largest_page_is_served(desk, trader_client):
    response = trader_client.get(f"{API}/prices/", {"limit": "10000", "offset": "1000000000"})
    assert response.status_code == 200
    assert response.json()["results"] == []


# --- Rows that are not objects, and deep nesting ----------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[null]", "prices[0]"),
        ("[1]", "prices[0]"),
        ('["ES"]', "prices[0]"),
        ("[[]]", "prices[0]"),
        ('[{"symbol": "ES", "date": "2024-03-05", "close": "1"}, null]', "prices[1]"),
        ("null", "prices"),
        ("{}", "prices"),
        ("[]", "prices"),
    ],
)
def test_price_rows_that_are_not_objects(unchanged, trader_client, body, field):
    response = trader_client.post(f"{API}/prices/", body, content_type="application/json")
    assert_refused(response, field)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("prices/", "[" * 100_000 + "]" * 100_000),
        ("mtm/", '{"a":' * 100_000 + "1" + "}" * 100_000),
        ("positions/open/", '{"a":' * 40 + "1" + "}" * 40),  # parses, then too deep to accept
    ],
)
def test_deeply_nested_json(unchanged, trader_client, path, body):
    response = trader_client.post(f"{API}/{path}", body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "nested deeper" in json.dumps(response.json())


# --- Sizes: bodies and values whose product overflows ----------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"]
)
def test_a_5_mb_body_is_a_json_413(unchanged, trader_client, content_type):
    body = json.dumps([{"symbol": "ES", "date": "2024-03-05", "close": "1"}] * 100_000)
    assert len(body) > 5_000_000
    response = trader_client.post(f"{API}/prices/", body, content_type=content_type)
    assert_refused(response, None, status=413)


@pytest.fixture
def jy(desk):
    InstrumentFactory(symbol="JY", asset_class="FX", multiplier=Decimal(125_000))
    services.prices_load([services.PriceRow("JY", MON, Decimal("0.0068"))])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # each value inside its column's limits, their product far beyond any book
        ({"quantity": "9999999999999999", "price": "99999999999999"}, "quantity"),
        ({"symbol": "JY", "quantity": "9999999999999999"}, "quantity"),
        ({"symbol": "JY", "quantity": "10000000000", "price": "1"}, "quantity"),
        # cheap, but 2 ES are already held: the position would pass the quantity column
        ({"quantity": "9999999999999999.99999999", "price": "0.0000000001"}, "quantity"),
    ],
)
def test_notional_overflow_is_refused(jy, viewer, trader_client, change, field):
    before = db_state()
    response = trader_client.post(f"{API}/positions/open/", {**OPEN, **change}, format="json")
    assert_refused(response, field)
    assert db_state() == before
    assert viewer.get(f"{API}/book/").status_code == 200


def test_adding_past_the_quantity_column_is_refused(jy, trader_client, viewer):
    body = {**OPEN, "symbol": "ES", "quantity": "9000000000000000", "price": "0.0001"}
    assert trader_client.post(f"{API}/positions/open/", body, format="json").status_code == 201
    before = db_state()
    assert_refused(trader_client.post(f"{API}/positions/open/", body, format="json"), "quantity")
    assert db_state() == before
    assert viewer.get(f"{API}/book/").status_code == 200


# --- Writes that are valid JSON but must be refused -------------------------------------------


def _inactive_and_unconvertible():
    InstrumentFactory(symbol="OLD", asset_class="EQUITY", active=False)
    InstrumentFactory(symbol="NKY", asset_class="EQUITY", currency="JPY")
    InstrumentFactory(symbol="CHF1", asset_class="EQUITY", currency="CHF")
    InstrumentFactory(symbol="USDCHF", asset_class="FX", currency="CHF")  # a pair, never priced
    services.prices_load([services.PriceRow(s, MON, Decimal(100)) for s in ("OLD", "NKY", "CHF1")])


WRITES = [
    # (path, body, field)
    ("positions/open/", {**OPEN, "symbol": "OLD"}, "symbol"),  # inactive instrument
    ("positions/open/", {**OPEN, "symbol": "NKY"}, "symbol"),  # no JPY/USD pair at all
    ("positions/open/", {**OPEN, "symbol": "CHF1"}, "symbol"),  # a pair with no price yet
    ("positions/open/", {**OPEN, "trade_date": "0001-01-01"}, "trade_date"),
    ("positions/open/", {**OPEN, "strategy": "TREND\n"}, "strategy"),
    (
        "instruments/",
        {"symbol": "ZZ", "name": "z", "asset_class": "FX", "currency": "AAA"},
        "currency",
    ),
    (
        "instruments/",
        {"symbol": "ZZ", "name": "z", "asset_class": "FX", "currency": "XXX"},
        "currency",
    ),
    (
        "instruments/",
        {"symbol": "Z\tZ", "name": "z", "asset_class": "FX", "currency": "USD"},
        "symbol",
    ),
    (
        "instruments/",
        {"symbol": "ZZ", "name": "a\x1bb", "asset_class": "FX", "currency": "USD"},
        "name",
    ),
    (
        "instruments/",
        {"symbol": "zz", "name": "z", "asset_class": "FX", "currency": "USD"},
        "symbol",
    ),
    (
        "instruments/",
        {
            "symbol": "ZZ",
            "name": "z",
            "asset_class": "FX",
            "currency": "USD",
            "multiplier": "10000000000000",
        },
        "multiplier",
    ),
    ("strategies/", {"code": "A B", "name": "x"}, "code"),
    ("strategies/", {"code": "AB", "name": "x\x07"}, "name"),
    ("strategies/", {"code": "AB", "name": "x", "risk_budget": "5"}, "risk_budget"),
    ("prices/", [{"symbol": "ES", "date": "0001-01-01", "close": "1"}], "prices[0].date"),
    ("prices/", [{"symbol": "ES", "date": "1899-12-29", "close": "1"}], "prices[0].date"),
    ("mtm/", {"date": "0001-01-01"}, "date"),
    ("cashflows/", {"date": "0001-01-01", "amount": "1"}, "date"),
    ("cashflows/", {"date": TUE.isoformat(), "amount": "-1000000000"}, "amount"),  # > NAV
    ("cashflows/", {"date": TUE.isoformat(), "amount": "99999999999999999999"}, "amount"),
    ("cashflows/", {"date": TUE.isoformat(), "amount": "999999999999999999"}, "amount"),
]


@pytest.mark.parametrize(("path", "body", "field"), WRITES)
def test_writes_that_must_be_refused(desk, viewer, trader_client, path, body, field):
    _inactive_and_unconvertible()
    before = db_state()
    assert_refused(trader_client.post(f"{API}/{path}", body, format="json"), field)
    assert db_state() == before
    assert viewer.get(f"{API}/book/").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "code": "AAA1",
                "name": "x",
                "base_currency": "AAA",
                "inception_date": "2024-01-02",
                "initial_capital": "1",
            },
            "base_currency",
        ),
        (
            {"code": "M\x00", "name": "x", "inception_date": "2024-01-02", "initial_capital": "1"},
            "code",
        ),
        (
            {"code": "M2", "name": "x", "inception_date": "0001-01-01", "initial_capital": "1"},
            "inception_date",
        ),
        (
            {
                "code": "M2",
                "name": "x",
                "inception_date": "2024-01-02",
                "initial_capital": "9999999999999999999",
            },
            "initial_capital",
        ),
    ],
)
def test_portfolios_that_must_be_refused(unchanged, admin_client_api, body, field):
    assert_refused(admin_client_api.post(f"{API}/portfolios/", body, format="json"), field)


def test_a_full_redemption_is_accepted(desk, trader_client, viewer):
    nav = NavSnapshot.objects.get(date=MON).nav
    body = {"date": TUE.isoformat(), "amount": str(-nav)}
    assert trader_client.post(f"{API}/cashflows/", body, format="json").status_code == 201
    too_much = {"date": TUE.isoformat(), "amount": "-0.01"}
    assert_refused(trader_client.post(f"{API}/cashflows/", too_much, format="json"), "amount")
    assert viewer.get(f"{API}/book/").status_code == 200


def test_an_inactive_instrument_may_still_be_reduced(desk, trader_client, viewer):
    Instrument.objects.filter(symbol="ES").update(active=False)
    reduce = {**OPEN, "quantity": "-1", "trade_date": TUE.isoformat()}
    assert trader_client.post(f"{API}/positions/open/", reduce, format="json").status_code == 201
    add = {**OPEN, "quantity": "1", "trade_date": TUE.isoformat()}
    assert_refused(trader_client.post(f"{API}/positions/open/", add, format="json"), "symbol")
    assert viewer.get(f"{API}/book/").status_code == 200


# --- Everything under /api/ answers JSON ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/nowhere/", 404),
        ("get", "/api/portfolio/positions/99999999999999999999/", 404),
        ("get", "/api/portfolio/positions/abc/", 404),
        ("post", "/api/portfolio/book/", 405),
    ],
)
def test_errors_under_api_are_json(unchanged, trader_client, method, path, status):
    response = getattr(trader_client, method)(path)
    assert_refused(response, None, status=status)


# --- Filters and booleans that once answered the whole list -----------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("nav/", {"to": ""}, "to"),
        ("prices/", {"from": ""}, "from"),
        ("positions/", {"status": ""}, "status"),
        ("instruments/", {"active": "flase"}, "active"),
        ("instruments/", {"active": "null"}, "active"),
        ("strategies/", {"active": "1"}, "active"),
        ("cashflows/", {"limit": "5", "offset": ""}, "offset"),
        ("portfolios/", {"limit": ""}, "limit"),
    ],
)
def test_blank_or_unknown_filter_values(unchanged, trader_client, path, params, field):
    assert_refused(trader_client.get(f"{API}/{path}", params), field)


def test_boolean_filters_still_filter(desk, trader_client):
    Instrument.objects.filter(symbol="ES").update(active=False)
    inactive = trader_client.get(f"{API}/instruments/", {"active": "false"}).json()["results"]
    assert [i["symbol"] for i in inactive] == ["ES"]


@pytest.mark.parametrize("value", [0, 1, "yes", "true", None])
def test_json_booleans_are_true_or_false(unchanged, trader_client, value):
    body = {"code": "AB", "name": "x", "active": value}
    assert_refused(trader_client.post(f"{API}/strategies/", body, format="json"), "active")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("strategies/", {"code": "AB", "name": 0}, "name"),
        ("strategies/", {"code": 12, "name": "x"}, "code"),
        ("positions/open/", {**OPEN, "symbol": ["ES"]}, "symbol"),
        ("prices/update/", {"symbol": True, "price": "5001"}, "symbol"),
    ],
)
def test_json_strings_are_strings(unchanged, trader_client, path, body, field):
    assert_refused(trader_client.post(f"{API}/{path}", body, format="json"), field)


def test_errors_under_api_are_json_with_debug_on(unchanged, trader_client, settings):
    settings.DEBUG = True  # Django's technical 404 page bypasses urls.handler404
    assert_refused(trader_client.get("/api/nothing"), None, status=404)
