"""Mass assignment (issue 13): fields a client may not set — ids, status, who decided or created,
P&L and NAV figures, audit fields, timestamps — sent in the body of every write of the
permission table are ignored: the write succeeds as without them, and none of the values sent
is stored or answered.

The serializers' rule, one for every write: a body's keys that are not the request's own fields
are ignored (DRF's default for plain serializers, ``read_only`` fields for model serializers).
A body's ``portfolio`` is the one exception by design — it names the portfolio, as
``?portfolio=`` does, and the grants are checked on it (the last test).
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.db import transaction

from trades.models import AuditEvent, TradeProposal

from .permission_table import SUPER, TABLE
from .test_permission_matrix import desk, send  # noqa: F401 (the module's data)

ID = 987654321
MONEY = "424242424"
WHEN = "2001-02-03T04:05:06Z"
WHO = "mallory"
HOSTILE = {
    "id": ID,
    "pk": ID,
    "portfolio_id": ID,
    "instrument_id": ID,
    "strategy_id": ID,
    "proposal_id": ID,
    "execution_id": ID,
    "status": "approved",
    "decided_by": WHO,
    "created_by": WHO,
    "approved_by": WHO,
    "generated_by": WHO,
    "actor": WHO,
    "actor_name": WHO,
    "user": WHO,
    "realized_pnl": MONEY,
    "unrealized_pnl": MONEY,
    "total_pnl": MONEY,
    "daily_pnl": MONEY,
    "nav": MONEY,
    "avg_cost": MONEY,
    "exposure": MONEY,
    "last_price": MONEY,
    "last_price_at": WHEN,
    "created_at": WHEN,
    "updated_at": WHEN,
    "decided_at": WHEN,
    "generated_at": WHEN,
    "opened_date": "2001-02-03",
    "closed_date": "2001-02-03",
    "at": WHEN,
}
WRITES = sorted(
    key
    for key, row in TABLE.items()
    if row.method in ("POST", "PATCH") and key[0].startswith("api/") and row.body is not None
)


def hostile(body):
    if isinstance(body, list):
        return [{**HOSTILE, **row} for row in body]
    return {**HOSTILE, **body}


def mentions(value) -> list[str]:
    """The hostile values found anywhere in an answer."""
    text = json.dumps(value) if not isinstance(value, str) else value
    return [v for v in (str(ID), MONEY, "2001-02-03", WHO) if v in text]


def stored_with_hostile_id() -> list[str]:
    return [
        model.__name__
        for model in apps.get_models()
        if model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField")
        and model._default_manager.filter(pk=ID).exists()
    ]


def test_every_write_of_the_table_is_checked():
    assert len(WRITES) >= 19
    assert ("api/trades/proposals/", "POST") in WRITES


@pytest.mark.django_db
@pytest.mark.parametrize("key", WRITES, ids=[f"{m} /{p}" for p, m in WRITES])
def test_fields_a_client_may_not_set_are_ignored(desk, key):  # noqa: F811
    """Given a valid body plus every field a client may not set; when a superuser sends it;
    then the table's success status, and none of those values is answered or stored."""
    clients, ids = desk
    row = TABLE[key]
    with transaction.atomic():
        response = send(clients[SUPER], row.method, row.path.format(**ids), hostile(row.body))
        assert response.status_code == row.ok, response.content[:300]
        assert not mentions(response.content.decode()), response.content[:300]
        assert not stored_with_hostile_id()
        assert not AuditEvent.objects.filter(actor_name=WHO).exists()
        assert not AuditEvent.objects.filter(at__year=2001).exists()
        proposals = TradeProposal.objects.all()
        assert not proposals.filter(created_by__username=WHO).exists()
        assert not proposals.filter(created_at__year=2001).exists()
        if key == ("api/trades/proposals/", "POST"):
            created = proposals.get(pk=response.json()["id"])
            assert created.status == "pending" and created.decided_by is None
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_a_body_portfolio_is_checked_against_the_grants(desk):  # noqa: F811
    """A body's ``portfolio`` names the portfolio: a restricted trader naming another one in
    the body is refused as with ``?portfolio=``."""
    from rest_framework.test import APIClient

    from portfolio import services
    from portfolio.models import CashFlow
    from portfolio.tests.factories import PortfolioFactory, UserFactory

    other = PortfolioFactory(code="OTHER")
    mine = PortfolioFactory(code="MACRO1")
    trader = UserFactory(username="body-trader", groups=["trader"])
    services.grants_add(user=trader, portfolios=[mine])
    client = APIClient()
    client.force_authenticate(trader)
    before = CashFlow.objects.count()
    body = {"date": "2024-03-06", "amount": "1000", "portfolio": other.code}
    refused = client.post("/api/portfolio/cashflows/", body, format="json")
    assert refused.status_code == 403 and list(refused.json()) == ["portfolio"]
    assert CashFlow.objects.count() == before
