"""API: positions — the list, opening and closing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import OperationalError

from portfolio import services
from portfolio.api.serializers import PositionSerializer
from portfolio.models import (
    Execution,
    Instrument,
    Position,
)

from .api_support import (
    API,
    FGBL_EXPOSURE,
    FGBL_UNREALIZED,
    TUE,
    WED,
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    market,
    open_position,
)
from .factories import StrategyFactory

pytestmark = pytest.mark.django_db


# --- Positions: list --------------------------------------------------------------------------


def test_positions_list_and_status_filter(viewer_client, book):
    services.position_close(position_id=book["ES"].id, price=Decimal("5010"), trade_date=TUE)
    everything = viewer_client.get(f"{API}/positions/").json()["results"]
    assert sorted((r["symbol"], r["status"]) for r in everything) == [
        ("ES", "closed"),
        ("FGBL", "open"),
    ]
    opened = viewer_client.get(f"{API}/positions/?status=open").json()["results"]
    assert [(r["symbol"], D(r["quantity"]), D(r["avg_cost"])) for r in opened] == [
        ("FGBL", Decimal(-3), Decimal("132.5"))
    ]
    closed = viewer_client.get(f"{API}/positions/?status=closed").json()["results"]
    assert [(r["symbol"], D(r["quantity"]), r["closed_date"]) for r in closed] == [
        ("ES", Decimal(0), "2024-03-05")
    ]
    assert_400_naming(viewer_client.get(f"{API}/positions/?status=pending"), "status")
    one = viewer_client.get(f"{API}/positions/{book['FGBL'].id}/").json()
    assert (one["symbol"], D(one["quantity"]), one["opened_date"]) == ("FGBL", -3, "2024-03-04")


# --- Positions: open --------------------------------------------------------------------------


def test_open_books_an_execution_and_a_position_in_manual(trader_client, portfolio):
    market()
    response = trader_client.post(
        f"{API}/positions/open/",
        {"symbol": "ES", "quantity": "2.5", "price": "5000.1234567891", "trade_date": "2024-03-04"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    execution = Execution.objects.get(pk=body["execution_id"])
    assert (execution.quantity, execution.price) == (Decimal("2.5"), Decimal("5000.1234567891"))
    assert (execution.source, execution.user.username) == ("manual", "trader1")
    assert execution.strategy.code == "MANUAL"
    position = body["position"]
    assert (position["symbol"], position["strategy"], position["status"]) == (
        "ES",
        "MANUAL",
        "open",
    )
    assert D(position["quantity"]) == Decimal("2.5")
    assert D(position["avg_cost"]) == Decimal("5000.1234567891")
    assert position["opened_date"] == "2024-03-04"
    assert Position.objects.get(pk=position["id"]).quantity == Decimal("2.5")


def test_an_open_whose_answer_fails_writes_nothing(trader_client, portfolio, monkeypatch):
    # Given the answer's read failing after the booking (a connection killed in between)
    market()

    def connection_lost(self, instance):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(PositionSerializer, "to_representation", connection_lost)
    # When a trader opens a position
    response = trader_client.post(
        f"{API}/positions/open/",
        {"symbol": "ES", "quantity": "1", "price": "5000", "trade_date": "2024-03-04"},
        format="json",
    )
    # Then it answers 503 (retry), and nothing was booked: the answer never hides a booking that
    # a retry would repeat
    assert response.status_code == 503 and response["Retry-After"] == "1"
    assert (Execution.objects.count(), Position.objects.count()) == (0, 0)


def test_open_a_short_with_a_negative_quantity(trader_client, portfolio):
    market()
    response = trader_client.post(
        f"{API}/positions/open/",
        {"symbol": "FGBL", "quantity": "-3", "price": "132.5", "trade_date": "2024-03-04"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert D(response.json()["position"]["quantity"]) == -3
    body = trader_client.get(f"{API}/book/").json()
    assert D(body["net_exposure"]) == FGBL_EXPOSURE
    assert D(body["gross_exposure"]) == -FGBL_EXPOSURE


def test_open_into_a_named_strategy_and_add_to_it(trader_client, portfolio):
    market()
    StrategyFactory(code="EQMOM")
    for qty, price in (("2", "5000"), ("1", "5030")):
        response = trader_client.post(
            f"{API}/positions/open/",
            {
                "symbol": "ES",
                "quantity": qty,
                "price": price,
                "strategy": "EQMOM",
                "trade_date": "2024-03-05",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    position = response.json()["position"]
    assert position["strategy"] == "EQMOM"
    assert D(position["quantity"]) == 3
    assert D(position["avg_cost"]) == Decimal(5010)  # (2 × 5000 + 1 × 5030) / 3
    assert Execution.objects.filter(strategy__code="EQMOM").count() == 2


def test_open_with_an_unknown_strategy_names_it_and_writes_nothing(trader_client, portfolio):
    market()
    before = counts()
    response = trader_client.post(
        f"{API}/positions/open/",
        {
            "symbol": "ES",
            "quantity": "1",
            "price": "5000",
            "strategy": "NOPE",
            "trade_date": "2024-03-04",
        },
        format="json",
    )
    assert_400_naming(response, "strategy", "NOPE")
    assert counts() == before


# --- Positions: close -------------------------------------------------------------------------


def test_full_close_realizes_pnl(trader_client, book):
    # When long 2 ES @ 5000 is closed at 5010 on Tuesday
    response = trader_client.post(
        f"{API}/positions/{book['ES'].id}/close/",
        {"price": "5010", "trade_date": "2024-03-05"},
        format="json",
    )
    # Then (5010 − 5000) × 2 × 50 = 1000 is realized and the position is closed
    assert response.status_code == 200, response.content
    position = response.json()["position"]
    assert D(position["realized_pnl"]) == Decimal(1000)
    assert D(position["quantity"]) == 0
    assert (position["status"], position["closed_date"]) == ("closed", "2024-03-05")
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    assert (execution.quantity, execution.source) == (Decimal(-2), "close")
    # And the book no longer shows it, though NAV keeps its realized P&L
    body = trader_client.get(f"{API}/book/").json()
    assert [row["symbol"] for row in body["positions"]] == ["FGBL"]
    assert D(body["nav"]) == Decimal(1_000_000) + 1000 + FGBL_UNREALIZED


def test_partial_close_of_a_short_in_eur_realizes_in_usd(trader_client, book):
    # When 1 of short 3 FGBL @ 132.5 is bought back at 133 on Tuesday (EURUSD 1.09)
    response = trader_client.post(
        f"{API}/positions/{book['FGBL'].id}/close/",
        {"price": "133", "quantity": "1", "trade_date": "2024-03-05"},
        format="json",
    )
    # Then (133 − 132.5) × (−1) × 1000 × 1.09 = −545 is realized; 2 stay short at the same cost
    assert response.status_code == 200, response.content
    position = response.json()["position"]
    assert D(position["realized_pnl"]) == Decimal(-545)
    assert D(position["quantity"]) == -2
    assert D(position["avg_cost"]) == Decimal("132.5")
    assert position["status"] == "open"
    assert Execution.objects.get(pk=response.json()["execution_id"]).quantity == 1


def test_closing_more_than_is_open_names_quantity_and_writes_nothing(trader_client, book):
    before = counts()
    response = trader_client.post(
        f"{API}/positions/{book['FGBL'].id}/close/",
        {"price": "133", "quantity": "3.00000001", "trade_date": "2024-03-05"},
        format="json",
    )
    assert_400_naming(response, "quantity", "3")
    assert counts() == before
    assert Position.objects.get(pk=book["FGBL"].id).quantity == -3


def test_closing_a_closed_position_is_rejected(trader_client, book):
    url = f"{API}/positions/{book['ES'].id}/close/"
    first = trader_client.post(url, {"price": "5010", "trade_date": "2024-03-05"}, format="json")
    assert first.status_code == 200
    before = counts()
    again = trader_client.post(url, {"price": "5020", "trade_date": "2024-03-06"}, format="json")
    assert_400_naming(again, "position", "closed")
    assert counts() == before
    assert Position.objects.get(pk=book["ES"].id).realized_pnl == Decimal(1000)


def test_closing_an_eur_position_without_that_days_rate_names_trade_date(trader_client, book):
    # Given no EURUSD close on Thursday (realized P&L converts at the trade date's rate)
    assert not Instrument.objects.get(symbol="EURUSD").prices.filter(date="2024-03-07").exists()
    before = counts()
    response = trader_client.post(
        f"{API}/positions/{book['FGBL'].id}/close/",
        {"price": "133", "trade_date": "2024-03-07"},
        format="json",
    )
    assert_400_naming(response, "trade_date", "EURUSD", "2024-03-07")
    assert counts() == before
    assert Position.objects.get(pk=book["FGBL"].id).quantity == -3


def test_closing_before_the_position_was_opened_is_rejected(trader_client, portfolio):
    # Given long 2 ES opened on Wednesday
    market()
    position = open_position(portfolio, "ES", "2", "5000", day=WED)
    before = counts()
    # When it is "closed" on the Monday before
    response = trader_client.post(
        f"{API}/positions/{position.id}/close/",
        {"price": "5010", "trade_date": "2024-03-04"},
        format="json",
    )
    # Then the close is refused, naming trade_date, and nothing is written
    assert_400_naming(response, "trade_date")
    assert counts() == before


def test_closing_an_unknown_position_is_404(trader_client, book):
    response = trader_client.post(
        f"{API}/positions/999999/close/", {"price": "1", "trade_date": "2024-03-05"}, format="json"
    )
    assert response.status_code == 404
