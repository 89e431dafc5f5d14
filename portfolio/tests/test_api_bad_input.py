"""API: bad input on the write endpoints is a 400 naming the field, never a 500, and writes nothing.

Numbers arrive either as JSON strings ("NaN", "Infinity") or as the raw non-standard tokens
(``NaN``, ``Infinity``) that Python's json module writes; both must name the field.
"""

from __future__ import annotations

import json

import pytest

from portfolio.models import Instrument, Position

from .api_support import (
    API,
    NON_FINITE,
    SAT,
    SUN,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    future_day,
)

pytestmark = pytest.mark.django_db

FUTURE = object()  # replaced by a date a week ahead when the test runs

OPEN = {"symbol": "ES", "quantity": "2", "price": "5000", "trade_date": "2024-03-04"}
CLOSE = {"price": "5010", "quantity": "1", "trade_date": "2024-03-05"}
UPDATE = {"symbol": "ES", "price": "5001"}

BAD_PRICES = ["0", "-0", "-5000", *NON_FINITE, "abc", None, "0.30000000000000004"]
BAD_QUANTITIES = ["0", "-0", "0.000000000", *NON_FINITE, "1e30", "0.000000001", "two"]
BAD_DATES = ["2024-02-30", "04/03/2024", "2024-3-4x", SAT.isoformat(), SUN.isoformat(), FUTURE]


def with_value(payload: dict, field: str, value) -> dict:
    if value is FUTURE:
        value = future_day().isoformat()
    return {**payload, field: value}


def raw(template: str, token: str) -> str:
    """The JSON body ``template`` with its ``@`` replaced by a bare token such as NaN."""
    body = template.replace("@", token)
    assert token in json.dumps(json.loads(body))  # Python reads and writes the bare token
    return body


# --- positions/open/ --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *(("price", v) for v in BAD_PRICES),
        *(("quantity", v) for v in BAD_QUANTITIES),
        *(("trade_date", v) for v in [*BAD_DATES, "2023-12-29"]),  # and before inception
        ("symbol", "NOPE"),
        ("symbol", ""),
        ("strategy", "NOPE"),
    ],
)
def test_open_with_a_bad_value(trader_client, book, field, value):
    before = counts()
    response = trader_client.post(
        f"{API}/positions/open/", with_value(OPEN, field, value), format="json"
    )
    assert_400_naming(response, field)
    assert counts() == before


@pytest.mark.parametrize("field", ["symbol", "quantity", "price", "trade_date"])
def test_open_without_a_required_field(trader_client, book, field):
    before = counts()
    payload = {k: v for k, v in OPEN.items() if k != field}
    assert_400_naming(trader_client.post(f"{API}/positions/open/", payload, format="json"), field)
    assert counts() == before


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("field", ["price", "quantity"])
def test_open_with_a_raw_non_finite_token(trader_client, book, field, token):
    numbers = {"price": "5000", "quantity": "2", field: "@"}
    template = json.dumps({**OPEN, **numbers}).replace('"@"', "@")
    before = counts()
    response = trader_client.post(
        f"{API}/positions/open/", raw(template, token), content_type="application/json"
    )
    assert_400_naming(response, field, "finite")
    assert counts() == before


# --- positions/{id}/close/ --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        *(("price", v) for v in BAD_PRICES),
        *(("quantity", v) for v in [*BAD_QUANTITIES, "-1", "2.00000001"]),  # 2 are open
        *(("trade_date", v) for v in BAD_DATES),
    ],
)
def test_close_with_a_bad_value(trader_client, book, field, value):
    position = book["ES"]
    before = counts()
    response = trader_client.post(
        f"{API}/positions/{position.id}/close/", with_value(CLOSE, field, value), format="json"
    )
    assert_400_naming(response, field)
    assert counts() == before
    position.refresh_from_db()
    assert (position.quantity, position.realized_pnl, position.status) == (2, 0, "open")


@pytest.mark.parametrize(
    ("template", "field"),
    [
        ('{"price": @, "trade_date": "2024-03-05"}', "price"),
        ('{"price": 5010, "quantity": @, "trade_date": "2024-03-05"}', "quantity"),
    ],
)
@pytest.mark.parametrize("token", NON_FINITE)
def test_close_with_a_raw_non_finite_token(trader_client, book, template, field, token):
    before = counts()
    response = trader_client.post(
        f"{API}/positions/{book['ES'].id}/close/",
        raw(template, token),
        content_type="application/json",
    )
    assert_400_naming(response, field, "finite")
    assert counts() == before
    assert Position.objects.get(pk=book["ES"].id).quantity == 2


# --- prices/update/ ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [*(("price", v) for v in BAD_PRICES), ("symbol", "NOPE"), ("symbol", None)],
)
def test_intraday_mark_with_a_bad_value(trader_client, book, field, value):
    before = counts()
    response = trader_client.post(
        f"{API}/prices/update/", with_value(UPDATE, field, value), format="json"
    )
    assert_400_naming(response, field)
    assert counts() == before
    assert Instrument.objects.get(symbol="ES").last_price is None


@pytest.mark.parametrize("token", NON_FINITE)
def test_intraday_mark_with_a_raw_non_finite_token(trader_client, book, token):
    response = trader_client.post(
        f"{API}/prices/update/",
        raw('{"symbol": "ES", "price": @}', token),
        content_type="application/json",
    )
    assert_400_naming(response, "price", "finite")
    assert Instrument.objects.get(symbol="ES").last_price is None


# --- Raw tokens on every other write endpoint ---------------------------------------------------


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize(
    ("path", "template", "field"),
    [
        (
            "/prices/",
            '[{"symbol": "ES", "date": "2024-03-07", "close": 5030},'
            ' {"symbol": "FGBL", "date": "2024-03-07", "close": @}]',
            "prices[1].close",
        ),
        ("/mtm/", '{"date": @}', "date"),
        ("/cashflows/", '{"date": "2024-03-05", "amount": @}', "amount"),
        (
            "/instruments/",
            '{"symbol": "CL", "name": "crude", "asset_class": "COMMODITY", "currency": "USD",'
            ' "multiplier": @}',
            "multiplier",
        ),
        ("/strategies/", '{"code": "X", "name": "x", "risk_budget": @}', "risk_budget"),
        (
            "/portfolios/",
            '{"code": "M2", "name": "m", "inception_date": "2024-01-02", "initial_capital": @}',
            "initial_capital",
        ),
    ],
)
def test_raw_non_finite_token_anywhere(admin_client_api, book, path, template, field, token):
    before = counts()
    response = admin_client_api.post(
        f"{API}{path}", raw(template, token), content_type="application/json"
    )
    assert_400_naming(response, field, "finite")
    assert counts() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/positions/open/", '{"symbol": "ES", "quantity": '),
        ("/prices/", "[{]"),
        ("/mtm/", "date=2024-03-04"),
    ],
)
def test_malformed_json_is_400(trader_client, book, path, body):
    before = counts()
    response = trader_client.post(f"{API}{path}", body, content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize("path", ["/positions/open/", "/prices/update/", "/mtm/", "/cashflows/"])
@pytest.mark.parametrize("body", [[], ["ES"], "ES", 7])
def test_a_body_that_is_not_an_object_is_400(trader_client, book, path, body):
    before = counts()
    response = trader_client.post(f"{API}{path}", body, format="json")
    assert response.status_code == 400, response.content
    assert "non_field_errors" in response.json()
    assert counts() == before
