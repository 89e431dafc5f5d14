"""API: who may do what (authentication, desk roles), the schema, and ``?portfolio=CODE``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from portfolio.models import Execution, Instrument, Position

from .api_support import (
    API,
    TUE,
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    market,
    open_position,
)
from .factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db

OPEN_ES = {"symbol": "ES", "quantity": "1", "price": "5000", "trade_date": "2024-03-04"}


@pytest.fixture
def desk(portfolio):
    market()
    return portfolio


def token_client(user, key: str | None = None) -> APIClient:
    client = APIClient()
    if key is None:
        key = Token.objects.create(user=user).key
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- Authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/book/", "/positions/", "/instruments/", "/nav/", "/prices/"])
def test_anonymous_read_is_401_with_a_token_challenge(anon_client, desk, path):
    response = anon_client.get(f"{API}{path}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_anonymous_write_is_401_and_writes_nothing(anon_client, desk):
    before = counts()
    response = anon_client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert counts() == before


def test_a_real_token_authenticates(desk):
    # Given a trader holding a DRF token
    trader = UserFactory(username="tok-trader", groups=["trader"])
    client = token_client(trader)
    # When they read the book and open a position with only the token header
    assert client.get(f"{API}/book/").status_code == 200
    response = client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    # Then the execution is booked under their name
    assert response.status_code == 201, response.content
    assert Execution.objects.get(pk=response.json()["execution_id"]).user == trader


def test_a_wrong_token_is_401(desk):
    UserFactory(username="tok-viewer", groups=["viewer"])
    response = token_client(None, key="0" * 40).get(f"{API}/book/")
    assert response.status_code == 401


def test_session_login_authenticates(desk):
    UserFactory(username="sess-trader", groups=["trader"])
    client = APIClient()
    assert client.login(username="sess-trader", password="pw-for-tests-1")
    assert client.get(f"{API}/positions/").status_code == 200
    response = client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert response.status_code == 201, response.content
    assert D(response.json()["position"]["quantity"]) == 1


def test_session_write_without_a_csrf_token_is_refused(desk):
    UserFactory(username="sess-trader", groups=["trader"])
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="sess-trader", password="pw-for-tests-1")
    before = counts()
    response = client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert counts() == before


# --- Desk roles -------------------------------------------------------------------------------


def test_viewer_reads_but_may_not_write(viewer_client, desk):
    assert viewer_client.get(f"{API}/book/").status_code == 200
    assert viewer_client.get(f"{API}/instruments/").json()["count"] == 3
    before = counts()
    writes = [
        ("/positions/open/", OPEN_ES),
        ("/prices/update/", {"symbol": "ES", "price": "5001"}),
        ("/prices/", [{"symbol": "ES", "date": "2024-03-07", "close": "5001"}]),
        ("/mtm/", {"date": "2024-03-04"}),
        ("/cashflows/", {"date": "2024-03-04", "amount": "1"}),
        ("/instruments/", {"symbol": "CL", "name": "crude", "asset_class": "COMMODITY"}),
        ("/strategies/", {"code": "X", "name": "x"}),
    ]
    for path, payload in writes:
        response = viewer_client.post(f"{API}{path}", payload, format="json")
        assert response.status_code == 403, (path, response.status_code)
    assert counts() == before
    assert Instrument.objects.get(symbol="ES").last_price is None


def test_trader_writes(trader_client, desk):
    response = trader_client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert response.status_code == 201
    assert Position.objects.get().quantity == 1


def test_user_without_a_group_is_403_on_reads_and_writes(desk):
    client = token_client(UserFactory(username="nobody"))
    before = counts()
    assert client.get(f"{API}/book/").status_code == 403
    assert client.post(f"{API}/positions/open/", OPEN_ES, format="json").status_code == 403
    assert counts() == before


def test_superuser_may_do_everything(admin_client_api, desk):
    opened = admin_client_api.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert opened.status_code == 201
    marked = admin_client_api.post(f"{API}/mtm/", {"date": "2024-03-04"}, format="json")
    assert marked.status_code == 200
    assert D(marked.json()["nav"]) == Decimal(1_000_000)


# --- Health and schema ------------------------------------------------------------------------


def test_healthz_answers_without_a_login(anon_client):
    response = anon_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_schema_lists_the_portfolio_api(viewer_client):
    response = viewer_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("book/", "positions/open/", "positions/{id}/close/", "mtm/", "nav/", "prices/"):
        assert f"{API}/{path}" in paths
    prices_params = {p["name"] for p in paths[f"{API}/prices/"]["get"]["parameters"]}
    assert {"symbol", "from", "to"} <= prices_params
    nav_params = {p["name"] for p in paths[f"{API}/nav/"]["get"]["parameters"]}
    assert {"portfolio", "from", "to"} <= nav_params


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_need_a_login(anon_client, path):
    assert anon_client.get(path).status_code in (401, 403)


# --- ?portfolio=CODE --------------------------------------------------------------------------


@pytest.fixture
def two_portfolios(desk):
    return desk, PortfolioFactory(code="MACRO2", initial_capital=Decimal(5_000_000))


@pytest.mark.parametrize("path", ["/book/", "/positions/", "/nav/", "/cashflows/"])
def test_with_two_portfolios_a_read_must_name_one(viewer_client, two_portfolios, path):
    assert_400_naming(viewer_client.get(f"{API}{path}"), "portfolio", "?portfolio=")


def test_with_two_portfolios_a_write_must_name_one(trader_client, two_portfolios):
    before = counts()
    response = trader_client.post(f"{API}/positions/open/", OPEN_ES, format="json")
    assert_400_naming(response, "portfolio")
    response = trader_client.post(f"{API}/mtm/", {"date": "2024-03-04"}, format="json")
    assert_400_naming(response, "portfolio")
    assert counts() == before


def test_unknown_portfolio_code_is_400(trader_client, desk):
    assert_400_naming(trader_client.get(f"{API}/book/?portfolio=NOPE"), "portfolio", "NOPE")
    before = counts()
    response = trader_client.post(f"{API}/positions/open/?portfolio=NOPE", OPEN_ES, format="json")
    assert_400_naming(response, "portfolio", "NOPE")
    assert counts() == before


def test_no_portfolio_at_all_is_400(viewer_client, db):
    assert_400_naming(viewer_client.get(f"{API}/book/"), "portfolio")


def test_the_named_portfolio_is_the_one_used(trader_client, two_portfolios):
    macro1, macro2 = two_portfolios
    # When a trader opens ES in MACRO2, by query parameter, and FGBL in MACRO2, by body field
    by_query = trader_client.post(f"{API}/positions/open/?portfolio=MACRO2", OPEN_ES, format="json")
    by_body = trader_client.post(
        f"{API}/positions/open/",
        {**OPEN_ES, "symbol": "FGBL", "portfolio": "MACRO2"},
        format="json",
    )
    # Then both land in MACRO2 only
    assert by_query.status_code == 201 and by_body.status_code == 201
    assert by_query.json()["position"]["portfolio"] == "MACRO2"
    assert {p.portfolio for p in Position.objects.all()} == {macro2}
    book2 = trader_client.get(f"{API}/book/?portfolio=MACRO2").json()
    assert book2["portfolio"] == "MACRO2"
    assert sorted(row["symbol"] for row in book2["positions"]) == ["ES", "FGBL"]
    book1 = trader_client.get(f"{API}/book/?portfolio=MACRO1").json()
    assert book1["positions"] == []
    assert D(book1["nav"]) == macro1.initial_capital


def test_a_position_is_closed_only_through_its_portfolio(trader_client, two_portfolios):
    _, macro2 = two_portfolios
    position = open_position(macro2, "ES", "2", "5000")
    before = counts()
    response = trader_client.post(
        f"{API}/positions/{position.id}/close/?portfolio=MACRO1",
        {"price": "5010", "trade_date": TUE.isoformat()},
        format="json",
    )
    assert response.status_code == 404
    assert counts() == before
    response = trader_client.post(
        f"{API}/positions/{position.id}/close/?portfolio=MACRO2",
        {"price": "5010", "trade_date": TUE.isoformat()},
        format="json",
    )
    assert response.status_code == 200
    assert D(response.json()["position"]["realized_pnl"]) == Decimal(1000)
