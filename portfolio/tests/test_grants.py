"""Per-portfolio grants: the selector's rule, the services (audited), ``grant_portfolio`` and the
admin (the grant admin, restricted staff's changelists)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from pms_project.errors import ForbiddenError
from portfolio import selectors, services
from portfolio.models import Portfolio, PortfolioGrant
from trades.models import AuditEvent

from .api_support import open_position
from .factories import PortfolioFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two(db):
    return PortfolioFactory(code="MACRO1"), PortfolioFactory(code="MACRO2")


def grant(*args: str) -> str:
    out = StringIO()
    call_command("grant_portfolio", *args, stdout=out)
    return out.getvalue()


def test_who_sees_what(two):
    """No grant: every portfolio (None); a grant: only those; a superuser: every one even with
    a grant; no user (the system): every one."""
    a, b = two
    plain = UserFactory(username="plain")
    restricted = UserFactory(username="restricted")
    root = UserFactory(username="root", is_superuser=True)
    PortfolioGrant.objects.create(user=restricted, portfolio=a)
    PortfolioGrant.objects.create(user=root, portfolio=a)
    assert selectors.granted_portfolio_ids(plain) is None
    assert selectors.granted_portfolio_ids(restricted) == frozenset({a.pk})
    assert selectors.granted_portfolio_ids(root) is None
    assert selectors.granted_portfolio_ids(None) is None
    assert list(selectors.portfolios_visible_to(restricted)) == [a]
    assert list(selectors.portfolios_visible_to(plain)) == [a, b]
    assert selectors.portfolio_get(None, restricted) == a
    with pytest.raises(ForbiddenError) as refused:
        selectors.portfolio_get("MACRO2", restricted)
    assert refused.value.field == "portfolio"


def test_the_command_grants_lists_and_revokes_with_an_audit_event_each(two):
    UserFactory(username="alice")
    out = grant("alice", "MACRO1", "MACRO2")
    assert "alice: 2 grant(s) added" in out and "alice: MACRO1 MACRO2" in out
    assert "0 grant(s) added" in grant("alice", "MACRO1")  # idempotent
    assert grant("--list") == "alice: MACRO1 MACRO2\n"
    assert "1 grant(s) revoked" in grant("alice", "MACRO2", "--revoke")
    assert grant("alice", "--list") == "alice: MACRO1\n"
    grant("alice", "MACRO1", "--revoke")
    assert grant("alice", "--list") == "alice: no grant (sees every portfolio)\n"
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "portfolio__code"))
    assert actions == [
        ("grant.add", "MACRO1"),
        ("grant.add", "MACRO2"),
        ("grant.revoke", "MACRO2"),
        ("grant.revoke", "MACRO1"),
    ]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["nobody", "MACRO1"], "user: unknown user 'nobody'"),
        (["alice", "MACRO1", "NOPE", "NADA"], "portfolio: unknown portfolio(s): NOPE, NADA"),
        (["alice"], "portfolio: name at least one"),
        ([], "user: name the user"),
        (["nobody", "--list"], "user: unknown user 'nobody'"),
    ],
)
def test_the_command_names_the_bad_argument_and_writes_nothing(two, args, named):
    UserFactory(username="alice")
    with pytest.raises(CommandError, match=named.replace("(", r"\(").replace(")", r"\)")):
        grant(*args)
    assert PortfolioGrant.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_the_grant_admin_lists_and_adds_through_the_service(client, two):
    a, _ = two
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    alice = UserFactory(username="alice")
    client.force_login(root)
    response = client.post(
        "/admin/portfolio/portfoliogrant/add/", {"user": alice.pk, "portfolio": a.pk}
    )
    assert response.status_code == 302, response.content[:500]
    stored = PortfolioGrant.objects.get()
    assert (stored.user, stored.portfolio, stored.granted_by) == (alice, a, root)
    assert AuditEvent.objects.get().actor == root
    listed = client.get(f"/admin/portfolio/portfoliogrant/?portfolio__id__exact={a.pk}")
    assert listed.status_code == 200 and b"alice" in listed.content


def test_deleting_selected_grants_in_the_admin_revokes_each_through_the_service(client, two):
    a, b = two
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    services.grants_add(user=alice, portfolios=[a, b])
    services.grants_add(user=bob, portfolios=[a])
    client.force_login(root)
    # When the admin's "delete selected" action is confirmed for all three grants
    response = client.post(
        "/admin/portfolio/portfoliogrant/",
        {
            "action": "delete_selected",
            "_selected_action": list(PortfolioGrant.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    # Then every grant is gone, each with its audit event naming the admin who revoked it
    assert response.status_code == 302, response.content[:500]
    assert not PortfolioGrant.objects.exists()
    revoked = AuditEvent.objects.filter(action="grant.revoke")
    assert sorted((e.before["user"], e.portfolio.code) for e in revoked) == [
        ("alice", "MACRO1"),
        ("alice", "MACRO2"),
        ("bob", "MACRO1"),
    ]
    assert {e.actor for e in revoked} == {root}


def test_restricted_staff_see_only_their_portfolios_rows_in_the_admin(client, two, book):
    """Given staff granted MACRO2 only (with the view permissions); then the portfolios' and
    the positions' changelists show MACRO2's rows, not MACRO1's (the ``book`` fixture's)."""
    from django.contrib.auth.models import Permission

    _, b = two
    open_position(b, "ES", "1", "5000")
    staff = UserFactory(username="staff", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_portfolio", "view_position"])
    )
    services.grants_add(user=staff, portfolios=[b])
    client.force_login(staff)
    portfolios = client.get("/admin/portfolio/portfolio/")
    assert portfolios.status_code == 200
    assert portfolios.context["cl"].result_count == 1
    assert list(portfolios.context["cl"].result_list) == [b]
    positions = client.get("/admin/portfolio/position/")
    assert {p.portfolio_id for p in positions.context["cl"].result_list} == {b.pk}
    assert Portfolio.objects.count() == 2
