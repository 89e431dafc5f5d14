"""The approvers' desk in the admin: the proposal list with its risk columns, the two bulk
actions, the decision page (approve, modify and approve, reject), the read-only audit trail and
signals, and who sees what. Every decision goes through ``trades.services``, so the four-eyes,
409 and hard-limit rules answer here as in the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from pms_project.formatting import money
from portfolio.models import Execution, Instrument, Strategy
from risk import services as risk_services
from trades import services
from trades.choices import AuditAction, ProposalStatus
from trades.models import AuditEvent, Signal, TradeProposal

from .fixtures_trades import LAST, build_trades_market, manual_proposal

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:trades_tradeproposal_changelist")
LOGIN = reverse("admin:login")


@pytest.fixture
def market(portfolio):
    """MACRO1 with UP (×10, ~135.57 on LAST) and DOWN (×100, ~59.64): enough to propose, price
    and risk-check two sleeves, and a quicker build than the four-instrument market."""
    return build_trades_market(portfolio, symbols=("UP", "DOWN"))


@pytest.fixture
def desk(users):
    """The desk users; the approvers, the viewer and root are staff (admin access). The viewer
    may view proposals but holds no approve permission."""
    for role in ("approver", "approver2", "viewer", "root"):
        users[role].is_staff = True
        users[role].save(update_fields=["is_staff"])
    users["viewer"].user_permissions.add(
        Permission.objects.get(content_type__app_label="trades", codename="view_tradeproposal")
    )
    return users


def client_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(proposal: TradeProposal) -> str:
    return reverse("admin:trades_tradeproposal_change", args=[proposal.pk])


def decide_url(proposal: TradeProposal) -> str:
    return reverse("admin:trades_tradeproposal_decide", args=[proposal.pk])


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def act(client: Client, action: str, proposals, **extra):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [p.pk for p in proposals], "index": "0", **extra},
    )


# --- The list ---------------------------------------------------------------------------------


def test_the_changelist_shows_the_risk_columns_and_both_actions_to_an_approver(market, desk):
    # Given a pending buy of 1,500 UP entered by trader1
    proposal = manual_proposal(market, desk["trader"], quantity="1500")
    proposal.refresh_from_db()
    # When the approver opens the list
    response = client_as(desk["approver"]).get(CHANGELIST)
    # Then every column is there, headed for reading
    assert response.status_code == 200
    page = response.content.decode()
    for column, header in [
        ("date_display", "Date"),
        ("portfolio", "Portfolio"),
        ("strategy", "Strategy"),
        ("instrument", "Instrument"),
        ("side", "Side"),
        ("quantity_display", "Quantity"),
        ("price_display", "Price"),
        ("status", "Status"),
        ("var_99_change", "VaR 99 before → after"),
        ("worst_utilization", "Worst limit use"),
    ]:
        assert f"column-{column}" in page, column
        assert header in page, header
    # and the row, its numbers formatted for reading: "1,500", not "1500.00000000"; the price
    # without trailing zeros; VaR in money with thousands separators
    [row] = response.context["cl"].result_list
    assert row.pk == proposal.pk
    assert '<td class="field-quantity_display">1,500</td>' in page
    assert '<td class="field-price_display">135.5671</td>' in page
    assert '<td class="field-side">Buy</td>' in page
    assert '<td class="field-status">Pending</td>' in page
    var_after = money(proposal.var_99_after)
    assert proposal.var_99_after > 1000 and var_after.count(",") == 1  # e.g. "25,400.12"
    assert f'<td class="field-var_99_change">— →<br>{var_after}</td>' in page
    assert f'nowrap">{proposal.date.isoformat()}</span></td>' in page
    assert '<td class="field-worst_utilization">— → —</td>' in page  # no limits set
    # and both decision actions
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert choices == {
        "": "---------",
        "approve_selected": "Approve selected",
        "reject_selected": "Reject selected (with a reason)",
    }


def test_a_staff_user_without_the_approve_permission_sees_the_list_but_cannot_decide(market, desk):
    # Given a pending proposal, and a staff viewer who may only view proposals
    proposal = manual_proposal(market, desk["trader"])
    viewer = client_as(desk["viewer"])
    # When the viewer opens the list, then it is there without any decision action
    response = viewer.get(CHANGELIST)
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [proposal.pk]
    page = response.content.decode()
    assert "approve_selected" not in page and "reject_selected" not in page
    assert response.context["action_form"] is None
    # and the decide page, read or posted, is a 403
    assert viewer.get(decide_url(proposal)).status_code == 403
    assert viewer.post(decide_url(proposal), {"decision": "approve"}).status_code == 403
    # and posting the action by hand decides nothing (no action is offered: the list again)
    response = act(viewer, "approve_selected", [proposal])
    assert response.status_code == 200
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and proposal.execution_id is None
    assert not Execution.objects.exists()


def test_a_non_staff_trader_is_sent_to_the_admin_login(market, desk):
    proposal = manual_proposal(market, desk["trader"])
    trader = client_as(desk["trader"])  # logged in, but not staff
    for url in (CHANGELIST, change_url(proposal), decide_url(proposal)):
        response = trader.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{LOGIN}?next="), response["Location"]
    response = trader.post(decide_url(proposal), {"decision": "approve"})
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING


# --- "Approve selected" -----------------------------------------------------------------------


def test_approve_selected_books_an_execution_for_each_proposal(market, desk):
    # Given trader1's buy of 5 UP and sell of 7 DOWN
    up = manual_proposal(market, desk["trader"], symbol="UP", quantity="5")
    down = manual_proposal(market, desk["trader"], symbol="DOWN", side="sell", quantity="7")
    # When approver2 approves both from the list
    response = act(client_as(desk["approver2"]), "approve_selected", [up, down])
    # Then both are approved, each with its own execution in the ledger
    assert response.status_code == 302
    assert messages_of(response) == [("success", f"approved #{up.pk}, #{down.pk}")]
    for proposal, signed in ((up, Decimal("5")), (down, Decimal("-7"))):
        proposal.refresh_from_db()
        assert proposal.status == ProposalStatus.APPROVED
        assert proposal.decided_by == desk["approver2"] and proposal.decided_at is not None
        execution = proposal.execution
        assert execution.source == "proposal"
        assert (execution.quantity, execution.price) == (signed, proposal.price)
        assert execution.instrument_id == proposal.instrument_id
        assert execution.trade_date == LAST and execution.user == desk["approver2"]
        event = AuditEvent.objects.get(object_id=str(proposal.pk), action="proposal.approve")
        assert event.actor_name == "approver2"
        assert event.after["status"] == "approved" and event.before["status"] == "pending"
    assert Execution.objects.count() == 2


def test_approve_selected_refuses_the_approvers_own_proposal_four_eyes(market, desk):
    # Given one proposal approver1 entered themself, and one trader1 entered
    own = manual_proposal(market, desk["approver"], symbol="UP")
    other = manual_proposal(market, desk["trader"], symbol="DOWN", side="sell")
    # When approver1 approves both
    response = act(client_as(desk["approver"]), "approve_selected", [own, other])
    # Then trader1's is approved, approver1's is refused with a message naming four-eyes
    assert messages_of(response) == [
        ("success", f"approved #{other.pk}"),
        (
            "error",
            f"not approved: #{own.pk}: proposal: four-eyes: you created this proposal, so "
            "another approver must decide it",
        ),
    ]
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.status == ProposalStatus.PENDING and own.execution_id is None
    assert own.decided_by is None and own.decided_at is None
    assert other.status == ProposalStatus.APPROVED and other.execution_id is not None
    assert Execution.objects.count() == 1


def test_approve_selected_on_a_decided_proposal_changes_nothing(market, desk):
    # Given a proposal approver1 already rejected
    proposal = manual_proposal(market, desk["trader"])
    services.proposal_reject(proposal_id=proposal.pk, user=desk["approver"], reason="too big")
    proposal.refresh_from_db()
    decided_at = proposal.decided_at
    events = AuditEvent.objects.count()
    # When approver2 approves it from the list
    response = act(client_as(desk["approver2"]), "approve_selected", [proposal])
    # Then an error tells who decided it, and nothing changed
    [(level, text)] = messages_of(response)
    assert level == "error"
    assert text.startswith(
        f"not approved: #{proposal.pk}: proposal: proposal {proposal.pk} is already rejected "
        "(by approver1 at "
    ), text
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED and proposal.note == "too big"
    assert proposal.decided_by == desk["approver"] and proposal.decided_at == decided_at
    assert proposal.execution_id is None and not Execution.objects.exists()
    assert AuditEvent.objects.count() == events


# --- "Reject selected (with a reason)" --------------------------------------------------------


def test_reject_selected_asks_for_a_reason_then_rejects_each(market, desk):
    up = manual_proposal(market, desk["trader"], symbol="UP", quantity="5")
    down = manual_proposal(market, desk["trader"], symbol="DOWN", side="sell", quantity="30")
    approver = client_as(desk["approver2"])
    # When the action is chosen: the reason form, listing both proposals; nothing rejected yet
    response = act(approver, "reject_selected", [up, down])
    assert response.status_code == 200
    assert "admin/trades/tradeproposal/reject_selected.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert f"#{up.pk} March 8, 2024 buy 5 UP (MANUAL) — pending" in page
    assert f"#{down.pk} March 8, 2024 sell 30 DOWN (MANUAL) — pending" in page  # not 3E+1
    assert 'name="reason"' in page
    assert set(TradeProposal.objects.values_list("status", flat=True)) == {"pending"}
    # When the form is posted with a reason: each is rejected with that note
    response = act(approver, "reject_selected", [up, down], reason="  outside the mandate ")
    assert response.status_code == 302
    assert messages_of(response) == [("success", f"rejected #{up.pk}, #{down.pk}")]
    for proposal in (up, down):
        proposal.refresh_from_db()
        assert proposal.status == ProposalStatus.REJECTED
        assert proposal.note == "outside the mandate"
        assert proposal.decided_by == desk["approver2"] and proposal.execution_id is None
        event = AuditEvent.objects.get(object_id=str(proposal.pk), action="proposal.reject")
        assert event.after["note"] == "outside the mandate"
    assert not Execution.objects.exists()


def test_reject_selected_with_a_blank_reason_shows_the_form_again(market, desk):
    proposal = manual_proposal(market, desk["trader"])
    response = act(client_as(desk["approver2"]), "reject_selected", [proposal], reason="   ")
    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and proposal.note == ""
    assert not AuditEvent.objects.filter(action="proposal.reject").exists()


# --- The decide page --------------------------------------------------------------------------


def test_the_decide_page_shows_the_three_forms_and_the_risk_impact(market, desk):
    proposal = manual_proposal(market, desk["trader"])
    proposal.refresh_from_db()
    response = client_as(desk["approver2"]).get(decide_url(proposal))
    assert response.status_code == 200
    page = response.content.decode()
    # the proposal in words, its rationale and its pre-trade check
    assert "buy 5 UP @ 135.5671 in MANUAL on 2024-03-08" in page
    assert "created by trader1" in page and "test proposal" in page
    assert f"VaR 99 before → after: — → {money(proposal.var_99_after)}" in page
    assert "no limits set for this portfolio" in page
    # the three forms, told apart by their decision field
    for decision in ("approve", "modify", "reject"):
        assert f'<input type="hidden" name="decision" value="{decision}">' in page
    forms = response.context["forms"]
    assert set(forms) == {"approve", "modify", "reject"}
    assert set(forms["approve"].fields) == {"note", "override_reason"}
    assert set(forms["modify"].fields) == {"note", "override_reason", "quantity", "price"}
    assert set(forms["reject"].fields) == {"reason"}
    assert forms["modify"].initial == {"quantity": Decimal("5"), "price": Decimal("135.5671")}
    assert not any(f.is_bound for f in forms.values())


def test_modify_and_approve_keeps_the_original_and_books_the_new_quantity(market, desk):
    # Given trader1's sell of 7 DOWN at its close
    proposal = manual_proposal(market, desk["trader"], symbol="DOWN", side="sell", quantity="7")
    original_price = proposal.price
    approver = client_as(desk["approver2"])
    # A zero quantity is refused on its field (the service's rule), nothing booked
    response = approver.post(decide_url(proposal), {"decision": "modify", "quantity": "0"})
    assert response.status_code == 200
    assert response.context["forms"]["modify"].errors == {"quantity": ["must be greater than zero"]}
    assert not Execution.objects.exists()
    # When approver2 modifies it to 3 at 59.5 and approves
    response = approver.post(
        decide_url(proposal),
        {"decision": "modify", "quantity": "3", "price": "59.5", "note": "smaller", "reason": ""},
    )
    # Then back to the proposal, approved as modified, the originals kept
    assert response.status_code == 302 and response["Location"] == change_url(proposal)
    assert messages_of(response) == [("success", f"proposal #{proposal.pk} approved")]
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    assert (proposal.quantity, proposal.price) == (Decimal("3"), Decimal("59.5"))
    assert (proposal.original_quantity, proposal.original_price) == (Decimal("7"), original_price)
    assert proposal.note == "smaller" and proposal.side == "sell"
    # and the execution is the new signed quantity at the new price
    execution = proposal.execution
    assert (execution.quantity, execution.price, execution.source) == (
        Decimal("-3"),
        Decimal("59.5"),
        "proposal",
    )
    event = AuditEvent.objects.get(action=AuditAction.PROPOSAL_MODIFY_APPROVE)
    assert event.before["quantity"] == "7.00000000" and event.after["quantity"] == "3.00000000"


def test_decide_reject_without_a_reason_is_a_form_error(market, desk):
    proposal = manual_proposal(market, desk["trader"])
    response = client_as(desk["approver2"]).post(
        decide_url(proposal), {"decision": "reject", "reason": ""}
    )
    assert response.status_code == 200
    forms = response.context["forms"]
    assert forms["reject"].errors == {"reason": ["This field is required."]}
    assert not forms["approve"].is_bound and not forms["modify"].is_bound
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and proposal.decided_at is None


def test_decide_reject_with_a_reason_rejects_and_a_second_decision_is_refused(market, desk):
    proposal = manual_proposal(market, desk["trader"])
    approver = client_as(desk["approver2"])
    response = approver.post(decide_url(proposal), {"decision": "reject", "reason": "no edge"})
    assert response.status_code == 302
    assert messages_of(response) == [("success", f"proposal #{proposal.pk} rejected")]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.note) == (ProposalStatus.REJECTED, "no edge")
    # a later approval on the same page is a non-field error, nothing booked
    response = approver.post(decide_url(proposal), {"decision": "approve"})
    assert response.status_code == 200
    errors = response.context["forms"]["approve"].non_field_errors()
    assert len(errors) == 1 and "is already rejected (by approver2" in errors[0]
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.REJECTED and not Execution.objects.exists()


@pytest.mark.parametrize("limit_set", ["before the proposal", "after the proposal"])
def test_a_hard_limit_breach_is_approved_only_with_an_override_reason(market, desk, limit_set):
    # Given a gross leverage limit any trade breaks: set before the proposal (so it is flagged),
    # or after it (the approval checks again on the book of that moment)
    def limit():
        risk_services.risk_limit_create(
            portfolio=market.portfolio,
            metric="gross_leverage",
            soft=Decimal("0.0001"),
            hard=Decimal("0.0002"),
        )

    if limit_set == "before the proposal":
        limit()
    proposal = manual_proposal(market, desk["trader"])
    proposal.refresh_from_db()
    assert proposal.breaks_hard_limit is (limit_set == "before the proposal")
    if limit_set == "after the proposal":
        limit()
    approver = client_as(desk["approver2"])
    if limit_set == "before the proposal":
        # the list flags it, and the bulk action (which has no override reason) refuses it
        page = approver.get(CHANGELIST).content.decode()
        assert "(hard breach)</strong>" in page
        [(level, text)] = messages_of(act(approver, "approve_selected", [proposal]))
        assert level == "error"
        assert text.startswith(f"not approved: #{proposal.pk}: override_reason: the trade would")
    # When approved without an override reason
    response = approver.post(decide_url(proposal), {"decision": "approve", "note": "go"})
    # Then the form names the override reason; still pending, nothing booked
    assert response.status_code == 200
    errors = response.context["forms"]["approve"].errors
    assert list(errors) == ["override_reason"]
    assert "would breach hard limits (gross_leverage)" in errors["override_reason"][0]
    assert "gross_leverage" in response.content.decode()  # the limits table
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and proposal.execution_id is None
    assert not Execution.objects.exists()
    assert not AuditEvent.objects.filter(action="proposal.approve").exists()
    # When approved with one
    response = approver.post(
        decide_url(proposal),
        {"decision": "approve", "note": "go", "override_reason": "hedge for the index leg"},
    )
    # Then approved, the reason stored and audited
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED and proposal.breaks_hard_limit is True
    assert proposal.override_reason == "hedge for the index leg"
    assert proposal.execution.quantity == Decimal("5")
    event = AuditEvent.objects.get(object_id=str(proposal.pk), action="proposal.approve")
    assert event.after["override_reason"] == "hedge for the index leg"
    assert event.after["breaks_hard_limit"] is True


# --- The change page --------------------------------------------------------------------------


def test_the_change_page_shows_the_audit_trail_and_the_decide_link_to_approvers_while_pending(
    market, desk
):
    proposal = manual_proposal(market, desk["trader"])
    approver = client_as(desk["approver2"])
    # While pending, the approver sees the link to the decide page and the read-only trail
    response = approver.get(change_url(proposal))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="{decide_url(proposal)}" class="decide-link"' in page
    [inline] = response.context["inline_admin_formsets"]
    assert inline.opts.verbose_name_plural == "audit trail"
    assert not inline.has_add_permission and not inline.has_change_permission
    assert not inline.has_delete_permission
    assert [f.original.action for f in inline] == ["proposal.create"]
    assert '<td class="field-actor_name">' in page and "<p>trader1</p>" in page
    assert "<p>Proposal entered</p>" in page
    assert inline.formset.max_num == 0  # no blank row to add one
    assert 'name="_save"' not in page  # nothing to save on a read-only page
    # a viewer sees the proposal but no link
    page = client_as(desk["viewer"]).get(change_url(proposal)).content.decode()
    assert "decide-link" not in page
    # once decided, no link for the approver either, and the trail tells the change
    services.proposal_approve(proposal_id=proposal.pk, user=desk["approver"])
    response = approver.get(change_url(proposal))
    page = response.content.decode()
    assert "decide-link" not in page
    [inline] = response.context["inline_admin_formsets"]
    assert [f.original.action for f in inline] == ["proposal.create", "proposal.approve"]
    assert "status: pending → approved" in page
    assert "approver1" in page


# --- The read-only screens --------------------------------------------------------------------


def test_audit_events_signals_and_proposals_offer_no_add_change_or_delete_even_to_root(
    market, desk
):
    proposal = manual_proposal(market, desk["trader"])
    signal = Signal.objects.create(
        strategy=market.trend,
        instrument=market.instruments["UP"],
        date=LAST,
        value=0.5,
        generator="momentum",
        rationale="planted",
    )
    event = AuditEvent.objects.get(action="proposal.create")
    events = AuditEvent.objects.count()
    root = client_as(desk["root"])
    for name, obj in (("auditevent", event), ("signal", signal), ("tradeproposal", proposal)):
        base = f"/admin/trades/{name}/"
        response = root.get(base)
        assert response.status_code == 200, name
        assert "delete_selected" not in response.content.decode()  # no bulk delete either
        assert root.get(f"{base}add/").status_code == 403, name
        assert root.post(f"{base}add/", {}).status_code == 403, name
        assert root.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403, name
        response = root.get(f"{base}{obj.pk}/change/")
        assert response.status_code == 200 and 'name="_save"' not in response.content.decode()
        assert root.post(f"{base}{obj.pk}/change/", {"_save": "1"}).status_code == 403, name
    # and the rows are as they were
    event.refresh_from_db()
    signal.refresh_from_db()
    proposal.refresh_from_db()
    assert (event.action, event.actor_name) == ("proposal.create", "trader1")
    assert (signal.value, signal.rationale) == (0.5, "planted")
    assert proposal.status == ProposalStatus.PENDING
    assert AuditEvent.objects.count() == events and Signal.objects.count() == 1
    # the signal list shows the value signed, to two decimals
    assert (
        '<td class="field-value_display">+0.50</td>'
        in root.get("/admin/trades/signal/").content.decode()
    )


def test_a_strategys_generator_is_chosen_from_the_registered_ones(market, desk):
    """Given the strategy admin, then its generator is a choice of the registered generators
    (or none); choosing one with named instruments saves both; an unknown name is refused."""
    client = client_as(desk["root"])
    url = "/admin/portfolio/strategy/add/"
    form = client.get(url).context["adminform"].form
    assert [c for c, _ in form.fields["generator"].choices] == ["", "mean_reversion", "momentum"]
    up = Instrument.objects.get(symbol="UP")
    body = {
        "code": "BREAKOUT",
        "name": "Breakout",
        "asset_class": "EQUITY",
        "risk_budget": "0.01",
        "active": "on",
        "generator": "momentum",
        "instruments": [up.pk],
    }
    assert client.post(url, body).status_code == 302
    saved = Strategy.objects.get(code="BREAKOUT")
    assert saved.generator == "momentum" and list(saved.instruments.all()) == [up]
    refused = client.post(url, {**body, "code": "ASTRO", "generator": "astrology"})
    assert refused.status_code == 200 and "generator" in refused.context["adminform"].form.errors
    assert not Strategy.objects.filter(code="ASTRO").exists()
