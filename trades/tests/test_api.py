"""The trades API (SPEC §10): shapes, filters, permissions per group, bad input."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from portfolio.models import Execution, Instrument
from portfolio.tests.api_support import assert_400_naming
from risk import services as risk_services
from trades.models import AuditEvent, Signal, TradeProposal

from .fixtures_trades import LAST, WEEKEND, manual_proposal

API = "/api/trades"
PROPOSALS = f"{API}/proposals/"


def written() -> dict[str, int]:
    return {
        "proposals": TradeProposal.objects.count(),
        "executions": Execution.objects.count(),
        "signals": Signal.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def create_body(**overrides) -> dict:
    return {
        "symbol": "UP",
        "side": "buy",
        "quantity": "5",
        "date": LAST.isoformat(),
        "rationale": "add on the breakout",
        **overrides,
    }


def test_a_trader_enters_a_manual_proposal(tmarket, client_of, users):
    """POST → 201 with the pending proposal, priced at the last close by default, its pre-trade
    check, and trader1 as creator; status or decider in the body are ignored (read-only)."""
    response = client_of("trader").post(
        PROPOSALS,
        create_body(status="approved", decided_by="root1", execution_id=1),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending" and body["decided_by"] is None
    assert body["execution_id"] is None
    assert body["created_by"] == "trader1" and body["source"] == "manual"
    assert body["quantity"] == "5.00000000" and body["signed_quantity"] == "5.00000000"
    assert body["price"] == "135.5671000000" and body["strategy"] == "MANUAL"
    assert body["var_99_before"] is None and Decimal(body["var_99_after"]) > 0
    assert isinstance(body["utilization_after"], float | None)
    assert body["risk_impact"]["scenarios"] == [0, 250]


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"quantity": "0"}, "quantity", ("greater than zero",)),
        ({"quantity": "-3"}, "quantity", ("greater than zero",)),
        ({"side": "long"}, "side", ()),
        ({"symbol": "NOPE"}, "symbol", ("unknown symbol",)),
        ({"date": WEEKEND.isoformat()}, "date", ("not a business day",)),
        ({"date": "2999-01-04"}, "date", ("future",)),
        ({"date": "08/03/2024"}, "date", ()),
        ({"price": "-1"}, "price", ("greater than zero",)),
        ({"strategy": "NOPE"}, "strategy", ("unknown strategy",)),
    ],
)
def test_bad_proposals_are_400s_naming_the_field_and_write_nothing(
    tmarket, client_of, overrides, field, words
):
    before = written()
    response = client_of("trader").post(PROPOSALS, create_body(**overrides), format="json")
    assert_400_naming(response, field, *words)
    assert written() == before


def test_a_proposal_on_an_inactive_instrument_is_refused(tmarket, client_of):
    Instrument.objects.filter(symbol="UP").update(active=False)
    response = client_of("trader").post(PROPOSALS, create_body(), format="json")
    assert_400_naming(response, "symbol", "inactive")
    assert not TradeProposal.objects.exists()


def test_listing_and_filtering_proposals(tmarket, client_of, users):
    up = manual_proposal(tmarket, users["trader"])
    down = manual_proposal(tmarket, users["trader"], symbol="DOWN", day=LAST - dt.timedelta(1))
    client = client_of("viewer")
    rows = client.get(PROPOSALS).json()["results"]
    assert [r["id"] for r in rows] == [up.pk, down.pk]  # newest date first
    assert [r["id"] for r in client.get(f"{PROPOSALS}?symbol=DOWN").json()["results"]] == [down.pk]
    assert [r["id"] for r in client.get(f"{PROPOSALS}?date={LAST}").json()["results"]] == [up.pk]
    assert client.get(f"{PROPOSALS}?status=approved").json()["results"] == []
    assert len(client.get(f"{PROPOSALS}?strategy=MANUAL&status=pending").json()["results"]) == 2
    assert client.get(f"{PROPOSALS}{up.pk}/").json()["symbol"] == "UP"
    assert_400_naming(client.get(f"{PROPOSALS}?status=nope"), "status")
    assert_400_naming(client.get(f"{PROPOSALS}?date=08/03/2024"), "date")
    assert client.get(f"{PROPOSALS}999999/").status_code == 404


def test_generate_answers_the_run(tmarket, client_of):
    """POST generate {date} → the signals stored and the proposals created, kept and skipped."""
    response = client_of("trader").post(
        f"{PROPOSALS}generate/", {"date": LAST.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["date"] == LAST.isoformat() and body["signals"] == 5
    assert len(body["created"]) == 4 and body["kept"] == [] and body["removed"] == 0
    assert {"strategy": "MR", "symbol": "FGBL", "reason": "already at target"} in body["skipped"]
    assert {r["created_by"] for r in body["created"]} == {"trader1"}
    again = client_of("trader").post(
        f"{PROPOSALS}generate/", {"date": LAST.isoformat()}, format="json"
    )
    assert len(again.json()["kept"]) == 4 and again.json()["created"] == []
    assert_400_naming(
        client_of("trader").post(
            f"{PROPOSALS}generate/", {"date": WEEKEND.isoformat()}, format="json"
        ),
        "date",
        "business day",
    )


def test_decisions_through_the_api(tmarket, client_of, users):
    """approve → 200 with the execution; again → 409; reject needs a reason (400); modify with
    quantity 0 → 400; the creator → 403 naming four-eyes; an unknown id → 404."""
    a = manual_proposal(tmarket, users["trader"])
    b = manual_proposal(tmarket, users["trader"], symbol="DOWN")
    c = manual_proposal(tmarket, users["approver"], symbol="FGBL")
    approver = client_of("approver")

    done = approver.post(f"{PROPOSALS}{a.pk}/approve/", {"note": "ok"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "approved"
    assert done.json()["execution_id"] == Execution.objects.get().pk
    again = approver.post(f"{PROPOSALS}{a.pk}/approve/", {}, format="json")
    assert again.status_code == 409 and "already approved" in again.json()["proposal"][0]

    assert_400_naming(approver.post(f"{PROPOSALS}{b.pk}/reject/", {}, format="json"), "reason")
    assert_400_naming(
        approver.post(f"{PROPOSALS}{b.pk}/reject/", {"reason": "  "}, format="json"), "reason"
    )
    assert_400_naming(
        approver.post(f"{PROPOSALS}{b.pk}/modify-approve/", {"quantity": "0"}, format="json"),
        "quantity",
    )
    assert_400_naming(
        approver.post(f"{PROPOSALS}{b.pk}/modify-approve/", {"note": "x"}, format="json"),
        "quantity",
        "or both",
    )
    modified = approver.post(
        f"{PROPOSALS}{b.pk}/modify-approve/", {"quantity": "2", "price": "61"}, format="json"
    )
    assert modified.status_code == 200
    assert modified.json()["original_quantity"] == "5.00000000"
    assert modified.json()["quantity"] == "2.00000000"

    own = approver.post(f"{PROPOSALS}{c.pk}/reject/", {"reason": "mine"}, format="json")
    assert own.status_code == 403 and "four-eyes" in own.json()["proposal"][0]
    rejected = client_of("approver2").post(
        f"{PROPOSALS}{c.pk}/reject/", {"reason": "no"}, format="json"
    )
    assert rejected.status_code == 200 and rejected.json()["note"] == "no"
    assert approver.post(f"{PROPOSALS}999999/approve/", {}, format="json").status_code == 404


def test_an_override_is_required_through_the_api(tmarket, client_of, users):
    risk_services.risk_limit_create(
        portfolio=tmarket.portfolio,
        metric="gross_leverage",
        soft=Decimal("0.005"),
        hard=Decimal("0.01"),
    )
    proposal = manual_proposal(tmarket, users["trader"], quantity="20")
    url = f"{PROPOSALS}{proposal.pk}/approve/"
    assert_400_naming(
        client_of("approver").post(url, {}, format="json"), "override_reason", "gross_leverage"
    )
    assert not Execution.objects.exists()
    done = client_of("approver").post(url, {"override_reason": "hedged"}, format="json")
    assert done.status_code == 200 and done.json()["override_reason"] == "hedged"


@pytest.mark.parametrize(
    ("role", "read", "propose", "decide"),
    [
        ("viewer", 200, 403, 403),
        ("trader", 200, 201, 403),
        ("approver", 200, 403, 200),
        ("risk", 200, 403, 403),
        ("root", 200, 201, 200),
    ],
)
def test_permissions_per_group(tmarket, client_of, users, role, read, propose, decide):
    """Viewers and risk read; traders propose and generate; approvers (and superusers) decide."""
    client = client_of(role)
    assert client.get(PROPOSALS).status_code == read
    assert client.get(f"{API}/signals/").status_code == read
    assert client.get(f"{API}/audit/").status_code == read
    assert client.post(PROPOSALS, create_body(), format="json").status_code == propose
    generate = client.post(f"{PROPOSALS}generate/", {"date": LAST.isoformat()}, format="json")
    assert generate.status_code == (200 if propose == 201 else 403)
    proposal = manual_proposal(tmarket, users["trader"], symbol="DOWN")
    url = f"{PROPOSALS}{proposal.pk}/reject/"
    assert client.post(url, {"reason": "no"}, format="json").status_code == decide


def test_anonymous_requests_are_401(tmarket, client):
    for url in (PROPOSALS, f"{API}/signals/", f"{API}/audit/"):
        assert client.get(url).status_code == 401
    assert client.post(f"{PROPOSALS}generate/", {}).status_code == 401


def test_signals_list_and_filters(tmarket, client_of):
    client_of("trader").post(f"{PROPOSALS}generate/", {"date": LAST.isoformat()}, format="json")
    client = client_of("viewer")
    rows = client.get(f"{API}/signals/").json()["results"]
    assert len(rows) == 5
    up = client.get(f"{API}/signals/?strategy=TREND&symbol=UP").json()["results"]
    assert len(up) == 1 and up[0]["value"] == 1.0 and up[0]["generator"] == "momentum"
    assert isinstance(up[0]["value"], float) and up[0]["date"] == LAST.isoformat()
    assert client.get(f"{API}/signals/?from=2024-03-11").json()["results"] == []
    assert_400_naming(client.get(f"{API}/signals/?date=friday"), "date")


def test_strategies_api_sets_generator_and_instruments(tmarket, client_of):
    client = client_of("trader")
    body = {
        "code": "CARRY2",
        "name": "Carry",
        "asset_class": "RATES",
        "risk_budget": "0.01",
        "generator": "mean_reversion",
        "instruments": ["FGBL"],
    }
    created = client.post("/api/portfolio/strategies/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["generator"] == "mean_reversion"
    assert created.json()["instruments"] == ["FGBL"]
    bad = client.post(
        "/api/portfolio/strategies/",
        {**body, "code": "X2", "generator": "astrology"},
        format="json",
    )
    assert_400_naming(bad, "generator", "unknown generator", "momentum")
    unknown = client.post(
        "/api/portfolio/strategies/", {**body, "code": "X3", "instruments": ["NOPE"]}, format="json"
    )
    assert_400_naming(unknown, "instruments")


def test_a_strategys_generator_and_instruments_change_through_patch(tmarket, client_of):
    """PATCH sets the generator and the instruments (its code stays: positions and proposals
    name it); an unknown generator is a 400, a viewer a 403, an unknown id a 404."""
    url = f"/api/portfolio/strategies/{tmarket.mr.pk}/"
    trader = client_of("trader")
    body = {"generator": "momentum", "instruments": ["UP", "FGBL"], "code": "RENAMED"}
    changed = trader.patch(url, body, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["code"] == "MR" and changed.json()["generator"] == "momentum"
    assert changed.json()["instruments"] == ["FGBL", "UP"]
    tmarket.mr.refresh_from_db()
    assert tmarket.mr.generator == "momentum"
    assert_400_naming(trader.patch(url, {"generator": "astrology"}, format="json"), "generator")
    assert_400_naming(trader.patch(url, {"instruments": {}}, format="json"), "instruments")
    assert client_of("viewer").patch(url, {"generator": ""}, format="json").status_code == 403
    assert trader.patch("/api/portfolio/strategies/999999/", {}, format="json").status_code == 404
    assert trader.get(url).json()["generator"] == "momentum"
    tmarket.mr.refresh_from_db()
    assert tmarket.mr.generator == "momentum"
