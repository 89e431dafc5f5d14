"""The audit trail: every manual change of the book is recorded with who and what, and nobody
can edit or delete a record — not the model, not a queryset, not raw SQL, not the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from portfolio.tests.api_support import CLOSES, MON, TUE, WED, market
from portfolio.tests.factories import PortfolioFactory, UserFactory
from trades.audit import audit_record
from trades.choices import AuditAction
from trades.models import AppendOnlyError, AuditEvent

API = "/api/portfolio"


@pytest.fixture
def event(portfolio):
    return audit_record(
        actor=None, action=AuditAction.MTM_RUN, obj=portfolio, portfolio=portfolio, after={"x": 1}
    )


def test_the_model_refuses_updates_and_deletes(event):
    event.action = AuditAction.PROPOSAL_APPROVE
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(after={"x": 2})
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).after == {"x": 1}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE trades_auditevent SET actor_name = 'someone else'",
        "DELETE FROM trades_auditevent",
        "TRUNCATE trades_auditevent",
        # CASCADE from a table the audit references empties the audit too: refused as well.
        "TRUNCATE portfolio_portfolio CASCADE",
    ],
)
def test_the_database_refuses_updates_deletes_and_truncates_from_raw_sql(event, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            # The suite's connections may empty the audit for Django's flush (conftest.py);
            # the application's never do.
            cursor.execute("SET LOCAL pms.audit_truncate = ''")
            # The event's deferred foreign-key checks run now, or PostgreSQL refuses TRUNCATE
            # for its pending trigger events before our trigger has a say.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(sql)
    assert AuditEvent.objects.get(pk=event.pk).actor_name == "system"


def test_every_manual_change_through_the_api_is_audited(portfolio, client_of, users):
    """Given trader1, when they load closes, open and partly close a position, mark an
    instrument intraday, record a subscription and run the mark-to-market, then each is one
    event naming trader1, the object and its state before and after."""
    market()
    client = client_of("trader")
    rows = [{"symbol": "ES", "date": TUE.isoformat(), "close": "5011"}]
    assert client.post(f"{API}/prices/", rows, format="json").status_code == 201
    body = {"symbol": "ES", "quantity": "4", "price": "5000", "trade_date": MON.isoformat()}
    opened = client.post(f"{API}/positions/open/", body, format="json")
    assert opened.status_code == 201
    position_id = opened.json()["position"]["id"]
    close = {"price": "5020.5", "quantity": "1", "trade_date": WED.isoformat()}
    assert (
        client.post(f"{API}/positions/{position_id}/close/", close, format="json").status_code
        == 200
    )
    mark = {"symbol": "ES", "price": "5030"}
    assert client.post(f"{API}/prices/update/", mark, format="json").status_code == 200
    flow = {"date": TUE.isoformat(), "amount": "50000"}
    assert client.post(f"{API}/cashflows/", flow, format="json").status_code == 201
    assert client.post(f"{API}/mtm/", {"date": WED.isoformat()}, format="json").status_code == 200

    events = {e.action: e for e in AuditEvent.objects.order_by("id")}
    assert list(events) == [
        AuditAction.PRICES_LOAD,
        AuditAction.POSITION_OPEN,
        AuditAction.POSITION_CLOSE,
        AuditAction.PRICE_MARK,
        AuditAction.CASH_FLOW,
        AuditAction.MTM_RUN,
    ]
    assert {e.actor_name for e in events.values()} == {"trader1"}
    assert {e.actor_id for e in events.values()} == {users["trader"].pk}

    loaded = events[AuditAction.PRICES_LOAD]
    assert loaded.after["closes"] == 1 and loaded.portfolio is None
    opened_event = events[AuditAction.POSITION_OPEN]
    assert opened_event.before is None and opened_event.after["quantity"] == "4.00000000"
    assert opened_event.object_id == str(position_id) and opened_event.portfolio == portfolio
    closed = events[AuditAction.POSITION_CLOSE]
    assert closed.before["quantity"] == "4.00000000" and closed.after["quantity"] == "3.00000000"
    assert Decimal(closed.after["execution"]["quantity"]) == -1
    marked = events[AuditAction.PRICE_MARK]
    assert marked.before["last_price"] is None and marked.after["last_price"] == "5030.0000000000"
    assert events[AuditAction.CASH_FLOW].after["amount"] == "50000.00000000"
    mtm = events[AuditAction.MTM_RUN]
    assert mtm.after["date"] == WED.isoformat() and Decimal(mtm.after["nav"]) > 0
    assert CLOSES["ES"][WED] == "5020.5"


def test_the_audit_api_lists_the_portfolios_events_and_refuses_every_write(portfolio, client_of):
    """Given events of MACRO1, of another portfolio and of no portfolio (an intraday mark),
    then MACRO1's trail shows its own and the global ones, newest first, filterable by action;
    no method writes to it."""
    other = PortfolioFactory(code="OTHER")
    audit_record(actor=None, action=AuditAction.MTM_RUN, obj=portfolio, portfolio=portfolio)
    audit_record(actor=None, action=AuditAction.MTM_RUN, obj=other, portfolio=other)
    mark = audit_record(
        actor=UserFactory(username="marker"),
        action=AuditAction.PRICE_MARK,
        obj=portfolio,
        after={"last_price": "1"},
    )
    client = client_of("viewer")
    body = client.get("/api/trades/audit/?portfolio=MACRO1").json()
    rows = body["results"]
    assert [r["action"] for r in rows] == ["price.mark", "mtm.run"]
    assert (
        rows[0]["id"] == mark.pk and rows[0]["actor"] == "marker" and rows[0]["portfolio"] is None
    )
    assert rows[1]["object_type"] == "portfolio.portfolio" and rows[1]["portfolio"] == "MACRO1"
    filtered = client.get("/api/trades/audit/?portfolio=MACRO1&action=mtm.run").json()["results"]
    assert [r["action"] for r in filtered] == ["mtm.run"]
    bad = client.get("/api/trades/audit/?portfolio=MACRO1&action=nope")
    assert bad.status_code == 400 and "action" in bad.json()

    root = client_of("root")
    for method in ("post", "put", "patch", "delete"):
        response = getattr(root, method)("/api/trades/audit/?portfolio=MACRO1", {}, format="json")
        assert response.status_code == 405, method
    assert client.delete(f"/api/trades/audit/{mark.pk}/").status_code == 404  # no detail route
    assert AuditEvent.objects.count() == 3
