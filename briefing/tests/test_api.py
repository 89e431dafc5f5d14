"""GET /api/briefing/latest/, GET /api/briefing/{date}/, POST /api/briefing/generate/."""

from __future__ import annotations

import pytest

from briefing import services
from briefing.models import MorningPack

from .conftest import AS_OF, PACK_DATE

LATEST = "/api/briefing/latest/"
GENERATE = "/api/briefing/generate/"
SECTIONS = {
    "portfolio",
    "name",
    "base_currency",
    "date",
    "as_of",
    "generated_at",
    "generated_by",
    "warnings",
    "header",
    "market_moves",
    "positions",
    "risk",
    "proposals",
    "attribution",
    "alerts",
}


def test_no_pack_yet_is_a_404_with_a_message(desk, viewer_client):
    response = viewer_client.get(LATEST)
    assert response.status_code == 404
    assert response.json() == {"portfolio": ["MACRO1 has no morning pack yet: generate one first"]}


def test_a_trader_generates_and_everyone_reads_it(desk, trader_client, viewer_client):
    # When a trader generates the pack of the 10th
    response = trader_client.post(GENERATE, {"date": "2024-04-10"}, format="json")
    # Then it is created, answered whole, and named as theirs
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == SECTIONS
    assert (body["date"], body["as_of"], body["generated_by"]) == (
        "2024-04-10",
        "2024-04-09",
        "trader1",
    )
    stored = MorningPack.objects.get(portfolio=desk, date=PACK_DATE)
    assert {k: v for k, v in body.items() if k not in ("generated_at", "generated_by")} == (
        stored.content
    )
    # And a viewer reads the same by date and as the latest; the default portfolio and the same
    # one named share a cache entry
    for path, hit in (
        (LATEST, False),
        ("/api/briefing/2024-04-10/", False),
        ("/api/briefing/2024-04-10/?portfolio=MACRO1", True),
    ):
        got = viewer_client.get(path)
        assert (got.status_code, got["X-Cache"]) == (200, "HIT" if hit else "MISS")
        data = got.json()
        assert data.pop("cached") is hit
        assert data == body


def test_the_latest_is_the_newest_date(desk, viewer_client):
    services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    services.morning_pack_generate(portfolio=desk, business_date=AS_OF)  # an older date, later
    body = viewer_client.get(LATEST).json()
    assert (body["date"], body["generated_by"]) == ("2024-04-10", None)


def test_money_stays_exact_and_ratios_full_precision(desk, viewer_client):
    pack = services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    body = viewer_client.get(LATEST).json()
    assert body["header"]["nav"] == pack.content["header"]["nav"]
    assert isinstance(body["header"]["nav"], str) and "." in body["header"]["nav"]
    assert isinstance(body["header"]["twr"]["MTD"], float)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"date": "2024-04-13"}, "not a business day"),
        ({"date": "2099-01-05"}, "in the future"),
        ({"date": "2024-4-10"}, "YYYY-MM-DD"),
        ({"date": 20240410}, "YYYY-MM-DD"),
        ({"date": "2024-03-25"}, "no marked close before"),
    ],
)
def test_bad_generation_dates_are_400_naming_the_date(desk, trader_client, body, message):
    response = trader_client.post(GENERATE, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["date"]
    assert message in response.json()["date"][0]
    assert not MorningPack.objects.exists()


def test_a_malformed_or_missing_date_on_read(desk, viewer_client):
    bad = viewer_client.get("/api/briefing/10-04-2024/")
    assert bad.status_code == 400
    assert list(bad.json()) == ["date"]
    missing = viewer_client.get("/api/briefing/2024-04-10/")
    assert missing.status_code == 404
    assert missing.json() == {
        "date": ["MACRO1 has no morning pack for 2024-04-10: generate it first"]
    }


def test_roles(desk, anon_client, viewer_client, admin_client_api):
    assert anon_client.get(LATEST).status_code == 401
    assert anon_client.post(GENERATE, {}, format="json").status_code == 401
    assert viewer_client.post(GENERATE, {"date": "2024-04-10"}, format="json").status_code == 403
    assert not MorningPack.objects.exists()
    assert admin_client_api.post(GENERATE, {"date": "2024-04-10"}, format="json").status_code == 201


def test_an_unknown_portfolio_is_a_400_naming_it(desk, viewer_client):
    response = viewer_client.get(LATEST + "?portfolio=NOPE")
    assert response.status_code == 400
    assert response.json() == {"portfolio": ["unknown portfolio 'NOPE'"]}


def test_a_regenerated_pack_is_served_fresh(desk, viewer_client, trader_client):
    # Given the latest pack read (and cached)
    services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    viewer_client.get(LATEST)
    assert viewer_client.get(LATEST)["X-Cache"] == "HIT"
    # When a trader regenerates it
    response = trader_client.post(GENERATE, {"date": "2024-04-10"}, format="json")
    assert response.status_code == 201
    # Then the next read is the new pack, not the cached one
    fresh = viewer_client.get(LATEST)
    assert fresh["X-Cache"] == "MISS"
    assert fresh.json()["generated_by"] == "trader1"
