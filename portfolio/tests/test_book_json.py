"""The book's JSON bytes (``book_json``) against what DRF's ``BookSerializer`` renders."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation

import orjson
import pytest
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from portfolio import selectors, services
from portfolio.api.serializers import BookPositionSerializer, BookSerializer
from portfolio.book import book_get
from portfolio.book_json import book_json, decimal_render, field_render
from portfolio.models import Price

from .api_support import (
    API,
    MON,
    THU,
    TUE,
    WED,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    open_book,
    open_position,
    stored_position,
)
from .factories import InstrumentFactory, StrategyFactory

pytestmark = pytest.mark.django_db


def serializer_body(portfolio) -> dict:
    """What the view answered before ``book_json``: the serializer through DRF's renderer."""
    return json.loads(JSONRenderer().render(BookSerializer(book_get(portfolio)).data))


# --- Books: each builds one, and returns what its body must show (so that the equality below is
# about a book that has the feature, not an empty one) -------------------------------------------


def empty(portfolio, monkeypatch):
    return lambda body: body["positions"] == [] and body["leverage"] == 0.0


def two_currencies(portfolio, monkeypatch):
    open_book(portfolio)
    return lambda body: {r["currency"] for r in body["positions"]} == {"USD", "EUR"}


def unvalued_without_fx_rate(portfolio, monkeypatch):
    open_book(portfolio)
    nikkei = InstrumentFactory(symbol="NK", currency="JPY", multiplier=Decimal(500))
    services.prices_load([services.PriceRow("NK", WED, Decimal(39000))])
    stored_position(portfolio, nikkei, "1", "38000", realized="700")
    return lambda body: [r["symbol"] for r in body["unvalued"]] == ["NK"] and not body["complete"]


def never_priced_and_overflowing(portfolio, monkeypatch):
    open_book(portfolio)
    InstrumentFactory(symbol="NQ", multiplier=Decimal(20))
    open_position(portfolio, "NQ", "1", "18000", day=WED)
    big = InstrumentFactory(symbol="BIG", multiplier=Decimal(125000))
    Price.objects.create(instrument=big, date=WED, close=Decimal(100))
    stored_position(portfolio, big, "9999999999999999")
    return lambda body: (
        [r["price_source"] for r in body["positions"] if r["symbol"] == "NQ"] == ["execution"]
        and [r["symbol"] for r in body["unvalued"]] == ["BIG"]
    )


def flat_sleeve_with_realized_pnl(portfolio, monkeypatch):
    positions = open_book(portfolio)
    StrategyFactory(code="EQMOM")
    swing = open_position(portfolio, "ES", "1", "4990", day=MON, strategy="EQMOM")
    services.position_close(position_id=swing.id, price=Decimal("5012.25"), trade_date=TUE)
    services.position_close(
        position_id=positions["FGBL"].id, price=Decimal(133), trade_date=TUE, quantity=Decimal(1)
    )
    services.mark_to_market(portfolio=portfolio, business_date=MON)
    services.mark_to_market(portfolio=portfolio, business_date=TUE)
    # The EQMOM sleeve is flat, realized (5012.25 − 4990) × 50 = 1112.5; FGBL realized
    # (133 − 132.5) × −1 × 1000 at Tuesday's 1.09 = −545; unrealized at Wednesday's closes
    # ES 2050, FGBL (132.75 − 132.5) × −2 × 1000 × 1.0875 = −543.75
    return lambda body: (
        body["nav"] == "1002073.75000000"
        and (
            [
                (r["symbol"], r["strategy"], r["quantity"], r["realized_pnl"])
                for r in body["positions"]
            ]
            == [
                ("ES", "MANUAL", "2.00000000", "0.00000000"),
                ("FGBL", "MANUAL", "-2.00000000", "-545.00000000"),
            ]
        )
    )


def intraday_marks(portfolio, monkeypatch):
    open_book(portfolio)
    services.price_update_intraday(symbol="ES", price=Decimal("5030.125"))
    services.price_update_intraday(symbol="EURUSD", price=Decimal("1.1"))
    today = timezone.now().date().isoformat()
    return lambda body: (
        [(r["price_source"], r["price_date"]) for r in body["positions"]]
        == [
            ("intraday", today),
            ("close", WED.isoformat()),
        ]
    )


def fresh_and_stale_marks(portfolio, monkeypatch):
    open_book(portfolio)
    InstrumentFactory(symbol="CL", asset_class="COMMODITY", multiplier=Decimal(1000))
    services.prices_load([services.PriceRow("CL", TUE, Decimal("78.41"))])
    open_position(portfolio, "CL", "-4", "78.5", day=TUE)
    monkeypatch.setattr(selectors, "today", lambda: THU)
    return lambda body: (
        {r["symbol"]: r["stale"] for r in body["positions"]}
        == {
            "CL": True,
            "ES": False,
            "FGBL": False,
        }
    )


def nav_zero(portfolio, monkeypatch):
    services.cash_flow_record(portfolio=portfolio, date=MON, amount=Decimal(-1_000_000))
    return lambda body: (body["nav"], body["leverage"]) == ("0.00000000", None)


BOOKS = [
    empty,
    two_currencies,
    unvalued_without_fx_rate,
    never_priced_and_overflowing,
    flat_sleeve_with_realized_pnl,
    intraday_marks,
    fresh_and_stale_marks,
    nav_zero,
]


@pytest.mark.parametrize("build", BOOKS, ids=[b.__name__ for b in BOOKS])
def test_the_body_is_what_the_serializer_renders(viewer_client, portfolio, monkeypatch, build):
    # Given a book with the feature its name says
    shows_the_feature = build(portfolio, monkeypatch)
    # When the API answers, and the serializer renders the same book
    response = viewer_client.get(f"{API}/book/")
    expected = serializer_body(portfolio)
    # Then the body, parsed, is the serializer's output, and the book has the feature
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body.pop("cached") is False  # the cache's flag, first (pms_project.cache)
    assert body == expected
    assert orjson.loads(book_json(portfolio)) == expected
    assert shows_the_feature(expected), expected


def test_the_body_keeps_the_field_order_and_the_decimal_places(portfolio):
    # Given the two-position book
    open_book(portfolio)
    # When it is rendered
    body = orjson.loads(book_json(portfolio))
    # Then keys come in the serializer's order, without book_get's extra keys, and every decimal
    # is a string with exactly the field's places
    assert list(body) == list(BookSerializer().fields)
    es = body["positions"][0]
    assert list(es) == list(BookPositionSerializer().fields)
    assert (es["quantity"], es["avg_cost"], es["price"], es["fx"]) == (
        "2.00000000",
        "5000.000000000000",
        "5020.5000000000",
        "1.000000000000",
    )
    assert es["exposure"] == "502050.00000000"
    assert body["pnl"]["1D"] == "1234.37500000"


def test_book_get_still_answers_decimals_for_the_other_apps(portfolio):
    # Given the two-position book
    open_book(portfolio)
    # When another app reads it (risk's live book reads these keys)
    book = book_get(portfolio)
    # Then its numbers are Decimals and its rows name their instruments
    es = book["positions"][0]
    assert isinstance(book["nav"], Decimal) and isinstance(es["exposure"], Decimal)
    assert book["nav"] == Decimal("1001234.375")
    assert (es["symbol"], es["asset_class"], es["currency"]) == ("ES", "EQUITY", "USD")
    assert isinstance(es["instrument_id"], int)
    assert book["exposure_totals"].by_instrument == {
        "ES": Decimal(502050),
        "FGBL": Decimal("-433096.875"),
    }
    assert book["as_of"] == WED and isinstance(book["as_of"], dt.date)


# --- The decimal rule, value by value ------------------------------------------------------------

DECIMAL_FIELDS = [
    f
    for f in (*BookSerializer().fields.values(), *BookPositionSerializer().fields.values())
    if isinstance(f, serializers.DecimalField)
]


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(DECIMAL_FIELDS),
    value=st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(10**25), max_value=10**25),
    ),
)
@example(field=DECIMAL_FIELDS[0], value=Decimal(0))
@example(field=DECIMAL_FIELDS[0], value=Decimal("-0E-20"))
@example(field=DECIMAL_FIELDS[0], value=Decimal("5E-9"))  # half-even: down to 0
@example(field=DECIMAL_FIELDS[0], value=Decimal("1.5E-8"))  # half-even: up to 2E-8
@example(field=DECIMAL_FIELDS[0], value=Decimal("1E+32"))  # more digits than the field holds
def test_a_decimal_renders_as_drfs_decimal_field_does(field, value):
    # Given a decimal field of the book and a value
    # When both render it
    try:
        want = field.to_representation(value)
    except InvalidOperation:
        want = InvalidOperation
    try:
        got = decimal_render(field)(value)
    except InvalidOperation:
        got = InvalidOperation
    # Then they give the same string, or both refuse a value too long for the field
    assert got == want


def test_a_field_the_renderer_does_not_know_is_refused_at_import():
    # Given serializers with a field the renderer cannot reproduce
    class Lasting(serializers.Serializer):
        value = serializers.DurationField()

    class Computed(serializers.Serializer):
        value = serializers.SerializerMethodField()

    class AsNumber(serializers.Serializer):
        value = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=False)

    # When the renderer is built for them / Then it refuses, naming the field
    with pytest.raises(TypeError, match="value: no fast rendering for DurationField"):
        field_render(Lasting())
    with pytest.raises(TypeError, match="value: only a key of the mapping"):
        field_render(Computed())
    with pytest.raises(TypeError, match="value: only plain decimal strings"):
        field_render(AsNumber())
