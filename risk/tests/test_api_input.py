"""Risk API: bad input (a 400 naming the field, nothing written) and a query count that does
not grow with the book."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portfolio.tests.api_support import (
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
)
from portfolio.tests.factories import UserFactory
from risk import report
from risk.models import Alert

from .fixtures_risk import (
    build_market,
    expected_var,
    is_fraction,
    limit,
    open_book,
    risk_counts,
    stored_values,
)

pytestmark = pytest.mark.django_db

API = "/api/risk"
GETS = ["/live/", "/history/", "/limits/", "/stress/", "/alerts/"]
LIMIT = {"metric": "var_95", "soft": "0.02", "hard": "0.03"}


# --- Bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"metric": "var_42", "soft": "0.01", "hard": "0.02"}, "metric"),
        ({"soft": "0.01", "hard": "0.02"}, "metric"),
        ({"metric": "var_95", "soft": "0.03", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "-0.01", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "0", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "0.01", "hard": "0"}, "hard"),
        ({"metric": "var_95", "soft": "0.01", "hard": "-1"}, "hard"),
        ({"metric": "var_95", "soft": "1001", "hard": "1001"}, "soft"),
        ({"metric": "var_95", "soft": "0.0000001", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "NaN", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "0.01", "hard": "Infinity"}, "hard"),
        ({"metric": "var_95", "soft": "abc", "hard": "0.02"}, "soft"),
        ({"metric": "var_95", "soft": "0.01"}, "hard"),
    ],
)
def test_bad_limit_is_a_400_naming_the_field(risk_client, portfolio, payload, field):
    before = risk_counts()
    assert_400_naming(risk_client.post(f"{API}/limits/", payload, format="json"), field)
    assert risk_counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"metric": "var_95", "soft": NaN, "hard": 1}', "soft"),
        ('{"metric": "var_95", "soft": 0.01, "hard": Infinity}', "hard"),
        ('{"metric": "var_95", "soft": -Infinity, "hard": 1}', "soft"),
    ],
)
def test_a_raw_non_finite_number_is_a_400_naming_the_field(risk_client, portfolio, body, field):
    before = risk_counts()
    response = risk_client.post(f"{API}/limits/", body, content_type="application/json")
    assert_400_naming(response, field, "finite")
    assert risk_counts() == before


def test_a_second_limit_on_the_same_metric_is_a_400_naming_it(risk_client, portfolio):
    limit(portfolio, "var_95", "0.02", "0.03")
    before = risk_counts()
    response = risk_client.post(f"{API}/limits/", LIMIT, format="json")
    assert_400_naming(response, "metric", "already")
    assert risk_counts() == before


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"soft": "0.05"}, "soft"),  # soft above the existing hard (0.03)
        ({"hard": "0.01"}, "hard"),  # hard below the existing soft: named as the field sent
        ({"soft": "0"}, "soft"),
        ({"hard": "-0.5"}, "hard"),
        ({"soft": "NaN"}, "soft"),
        ({"soft": "0.01", "hard": "2000"}, "hard"),
    ],
)
def test_bad_patch_is_a_400_and_changes_nothing(risk_client, portfolio, patch, field):
    created = limit(portfolio, "var_95", "0.02", "0.03")
    response = risk_client.patch(f"{API}/limits/{created.id}/", patch, format="json")
    assert_400_naming(response, field)
    created.refresh_from_db()
    assert (created.soft, created.hard) == (Decimal("0.02"), Decimal("0.03"))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"symbol": "NOPE", "quantity": "1", "price": "100"}, "symbol"),
        ({"symbol": "ES", "quantity": "0", "price": "100"}, "quantity"),
        ({"symbol": "ES", "quantity": "1", "price": "0"}, "price"),
        ({"symbol": "ES", "quantity": "NaN", "price": "100"}, "quantity"),
        ({"symbol": "ES", "price": "100"}, "quantity"),
    ],
)
def test_bad_pretrade_is_a_400_naming_the_field(trader_client, portfolio, market, payload, field):
    before = counts(), risk_counts()
    assert_400_naming(trader_client.post(f"{API}/pretrade/", payload, format="json"), field)
    assert (counts(), risk_counts()) == before


def test_pretrade_answers_before_and_after_and_writes_nothing(trader_client, portfolio, market):
    # Given the book and a gross leverage limit (hard 1.5) it is under
    limit(portfolio, "gross_leverage", "1.2", "1.5")
    live = report.risk_live(portfolio)
    before = counts(), risk_counts()
    # When buying 3 more ES is assessed through the API
    price = market.close("ES")
    response = trader_client.post(
        f"{API}/pretrade/",
        {"symbol": "ES", "quantity": "3", "price": str(price)},
        format="json",
    )
    # Then before is live risk, after breaks the hard leverage limit, and nothing is written
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["symbol"], D(body["quantity"]), D(body["price"])) == ("ES", 3, price)
    assert D(body["exposure_added"]) == 3 * 50 * price
    assert D(body["nav"]) == live["nav"]
    assert D(body["before"]["var_99"]) == live["var"]["var_99"]["amount"]
    assert is_fraction(body["after"]["var_99_fraction"])
    assert D(body["after"]["var_99"]) > D(body["before"]["var_99"])
    assert (body["breaks_hard_limit"], body["hard_breaches"]) == (True, ["gross_leverage"])
    assert [r["status"] for r in body["before"]["limits"]] == ["ok"]
    assert [r["status"] for r in body["after"]["limits"]] == ["breach"]
    assert (counts(), risk_counts()) == before
    assert Alert.objects.count() == 0


# --- Query count ------------------------------------------------------------------------------

EXTRA = [f"Q{n}" for n in range(9)]


def _queries_of_one_live_read(client) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"{API}/live/")
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def test_live_query_count_does_not_grow_with_positions(portfolio):
    # Given a viewer on a real token (each request loads the user and its groups afresh), the
    # market plus nine more equities with the same 81 closes, and a limit
    client = APIClient()
    token = Token.objects.create(user=UserFactory(username="viewer-q", groups=["viewer"]))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    market = build_market(("ES", "FGBL", "GC", "EURUSD", *EXTRA))
    limit(portfolio, "gross_leverage", "50", "100")
    # And a book of 3 positions
    open_book(portfolio, market)
    small, body = _queries_of_one_live_read(client)
    assert len(body["exposures"]["by_asset_class"]) == 3 and body["scenarios"] == 80
    # When it grows to 12 positions
    open_book(portfolio, market, held=dict.fromkeys(EXTRA, 10))
    large, body = _queries_of_one_live_read(client)
    # Then live risk costs the same number of queries
    assert body["scenarios"] == 80
    assert body["limits"][0]["status"] == "ok"
    exposures = {s: float(e) for s, e in report.live_book(portfolio).holdings.exposures.items()}
    assert len(exposures) == 12
    expected = expected_var(stored_values(list(exposures)), exposures)
    assert float(D(body["var"]["var_99"]["amount"])) == pytest.approx(expected["var_99"], rel=1e-6)
    assert large == small, (small, large)
    # 21 when written: token and groups 2, portfolio 1, the book 9, risk 9 (the closes are read
    # twice: the 550-day window before today holds fewer than 250 common dates)
    assert small <= 21, small
