"""The proposal workflow (SPEC §3): every transition, each forbidden one, four-eyes, the
hard-limit override, expiry, and two simultaneous approvals on real connections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pms_project.errors import ConflictError, ForbiddenError, PMSError
from portfolio.choices import ExecutionSource
from portfolio.models import Execution, Instrument, Position
from portfolio.tests.factories import PortfolioFactory
from risk import services as risk_services
from tests.concurrency import run_concurrently
from trades import services
from trades.choices import AuditAction, ProposalStatus
from trades.models import AuditEvent, TradeProposal

from .fixtures_trades import (
    DATES,
    LAST,
    build_trades_market,
    desk_users,
    manual_proposal,
    restore_desk_groups,
)


def decisions_of(proposal: TradeProposal) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_id=str(proposal.pk))
        .exclude(action=AuditAction.PROPOSAL_CREATE)
        .values_list("action", flat=True)
    )


def test_approval_books_the_execution_and_links_it(tmarket, users):
    """Given trader1's proposal to buy 5 UP at the last close, when approver1 approves it, then
    one execution of +5 UP at that price, dated the proposal's day, source "proposal", booked by
    the approver, is linked; the position holds 5; the decision is audited."""
    proposal = manual_proposal(tmarket, users["trader"], quantity="5")
    approved = services.proposal_approve(
        proposal_id=proposal.pk, user=users["approver"], note="fine"
    )
    execution = Execution.objects.get()
    assert approved.execution == execution
    assert (execution.quantity, execution.price, execution.trade_date) == (
        Decimal(5),
        proposal.price,
        LAST,
    )
    assert execution.source == ExecutionSource.PROPOSAL and execution.user == users["approver"]
    assert Position.objects.get(instrument__symbol="UP").quantity == Decimal(5)
    assert approved.status == ProposalStatus.APPROVED and approved.note == "fine"
    assert approved.decided_by == users["approver"] and approved.decided_at is not None
    event = AuditEvent.objects.get(action=AuditAction.PROPOSAL_APPROVE)
    assert event.actor_name == "approver1"
    assert event.before["status"] == "pending" and event.after["status"] == "approved"
    assert event.after["execution"] == execution.pk


def test_a_sell_proposal_books_a_negative_quantity(tmarket, users):
    proposal = manual_proposal(tmarket, users["trader"], side="sell", quantity="7")
    services.proposal_approve(proposal_id=proposal.pk, user=users["approver"])
    assert Execution.objects.get().quantity == Decimal(-7)


def test_modify_approve_keeps_the_original(tmarket, users):
    """Given a proposal to buy 5 at P, when approved as 3 at 120, then the execution is +3 at
    120 and the proposal keeps 5 @ P as its original."""
    proposal = manual_proposal(tmarket, users["trader"], quantity="5")
    done = services.proposal_modify_approve(
        proposal_id=proposal.pk, user=users["approver"], quantity=Decimal(3), price=Decimal(120)
    )
    assert (done.quantity, done.price) == (Decimal(3), Decimal(120))
    assert (done.original_quantity, done.original_price) == (Decimal(5), proposal.price)
    assert Execution.objects.get().quantity == Decimal(3)
    assert decisions_of(proposal) == [AuditAction.PROPOSAL_MODIFY_APPROVE]


def test_modify_approve_of_the_price_alone_keeps_the_quantity(tmarket, users):
    proposal = manual_proposal(tmarket, users["trader"], quantity="5")
    done = services.proposal_modify_approve(
        proposal_id=proposal.pk, user=users["approver"], price=Decimal("130.5")
    )
    assert (done.quantity, done.price) == (Decimal(5), Decimal("130.5"))
    assert (done.original_quantity, done.original_price) == (Decimal(5), proposal.price)
    assert Execution.objects.get().price == Decimal("130.5")


@pytest.mark.parametrize("quantity", ["0", "-2"])
def test_modify_approve_refuses_a_zero_or_negative_quantity(tmarket, users, quantity):
    proposal = manual_proposal(tmarket, users["trader"])
    with pytest.raises(PMSError) as caught:
        services.proposal_modify_approve(
            proposal_id=proposal.pk, user=users["approver"], quantity=Decimal(quantity)
        )
    assert caught.value.field == "quantity"
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and not Execution.objects.exists()


def test_reject_needs_a_reason(tmarket, users):
    proposal = manual_proposal(tmarket, users["trader"])
    for blank in ("", "   "):
        with pytest.raises(PMSError) as caught:
            services.proposal_reject(proposal_id=proposal.pk, user=users["approver"], reason=blank)
        assert caught.value.field == "reason"
    assert decisions_of(proposal) == []
    rejected = services.proposal_reject(
        proposal_id=proposal.pk, user=users["approver"], reason="too big into the print"
    )
    assert rejected.status == ProposalStatus.REJECTED
    assert rejected.note == "too big into the print" and rejected.execution is None
    assert not Execution.objects.exists()
    assert decisions_of(proposal) == [AuditAction.PROPOSAL_REJECT]


def _approve(p, u):
    return services.proposal_approve(proposal_id=p.pk, user=u)


def _reject(p, u):
    return services.proposal_reject(proposal_id=p.pk, user=u, reason="no")


def _modify(p, u):
    return services.proposal_modify_approve(proposal_id=p.pk, user=u, quantity=Decimal(1))


@pytest.mark.parametrize("first", [_approve, _reject])
@pytest.mark.parametrize("second", [_approve, _reject, _modify])
def test_a_decided_proposal_cannot_be_decided_again(tmarket, users, first, second):
    """approved or rejected → any decision is a 409 naming the state; nothing changes."""
    proposal = manual_proposal(tmarket, users["trader"])
    first(proposal, users["approver"])
    executions = Execution.objects.count()
    with pytest.raises(ConflictError) as caught:
        second(proposal, users["approver2"])
    assert "already" in caught.value.message and caught.value.status_code == 409
    assert Execution.objects.count() == executions
    assert len(decisions_of(proposal)) == 1


def test_four_eyes_the_creator_never_decides(tmarket, users):
    """Given a proposal entered by approver1 (an approver may propose), then approver1's own
    approval and rejection are 403s naming four-eyes; approver2's approval goes through."""
    proposal = manual_proposal(tmarket, users["approver"])
    for decide in (_approve, _reject, _modify):
        with pytest.raises(ForbiddenError) as caught:
            decide(proposal, users["approver"])
        assert "four-eyes" in caught.value.message and caught.value.status_code == 403
    assert not Execution.objects.exists()
    assert _approve(proposal, users["approver2"]).status == ProposalStatus.APPROVED


@pytest.mark.parametrize("role", ["trader", "viewer", "risk"])
def test_only_approvers_decide(tmarket, users, role):
    proposal = manual_proposal(tmarket, users["approver"])
    with pytest.raises(ForbiddenError) as caught:
        _approve(proposal, users[role])
    assert "approve_tradeproposal" in caught.value.message
    with pytest.raises(ForbiddenError):
        _reject(proposal, users[role])
    assert _approve(proposal, users["root"]).decided_by == users["root"]  # superusers may


def test_a_hard_limit_breach_needs_an_override_reason(tmarket, users):
    """Given a gross-leverage hard limit of 1 % of NAV, a proposal worth more breaks it: its
    approval without an override reason is refused naming override_reason (nothing written);
    with one, it is approved, and the reason is kept and audited."""
    risk_services.risk_limit_create(
        portfolio=tmarket.portfolio,
        metric="gross_leverage",
        soft=Decimal("0.005"),
        hard=Decimal("0.01"),
    )
    proposal = manual_proposal(tmarket, users["trader"], quantity="20")  # ≈ 27,000 > 10,000
    assert proposal.breaks_hard_limit
    assert proposal.risk_impact["hard_breaches"] == ["gross_leverage"]
    assert proposal.utilization_after > 1 and proposal.utilization_before == 0
    [row] = proposal.risk_impact["limits"]  # metric, soft, hard, before, after, use, status
    assert row[:4] == ["gross_leverage", 0.005, 0.01, 0.0] and row[6] == "breach"
    assert row[4] == pytest.approx(float(proposal.risk_impact["exposure_added"]) / 1_000_000)
    assert row[5] == proposal.utilization_after == pytest.approx(row[4] / 0.01)
    with pytest.raises(PMSError) as caught:
        _approve(proposal, users["approver"])
    assert caught.value.field == "override_reason" and "gross_leverage" in caught.value.message
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING and not Execution.objects.exists()
    assert decisions_of(proposal) == []

    done = services.proposal_approve(
        proposal_id=proposal.pk, user=users["approver"], override_reason="CIO signed off"
    )
    assert done.status == ProposalStatus.APPROVED and done.override_reason == "CIO signed off"
    event = AuditEvent.objects.get(action=AuditAction.PROPOSAL_APPROVE)
    assert event.after["override_reason"] == "CIO signed off"
    assert event.after["breaks_hard_limit"] is True


def test_the_check_is_made_again_at_approval(tmarket, users):
    """Given a proposal that broke nothing when proposed, when a limit is tightened before the
    decision, then the approval sees the breach (the check runs on the book of that moment)."""
    proposal = manual_proposal(tmarket, users["trader"], quantity="20")
    assert not proposal.breaks_hard_limit
    risk_services.risk_limit_create(
        portfolio=tmarket.portfolio,
        metric="gross_leverage",
        soft=Decimal("0.005"),
        hard=Decimal("0.01"),
    )
    with pytest.raises(PMSError) as caught:
        _approve(proposal, users["approver"])
    assert caught.value.field == "override_reason"


def test_pending_proposals_of_past_days_expire(tmarket, users):
    """Given pending proposals of Thursday and Friday, and a rejected one of Thursday, when the
    pre-open of Monday expires them, then Thursday's and Friday's pending ones are expired
    (audited, by the system), the rejected one is untouched; an expired one cannot be
    approved."""
    thursday = LAST - dt.timedelta(days=1)
    old = manual_proposal(tmarket, users["trader"], day=thursday)
    late = manual_proposal(tmarket, users["trader"], day=LAST, symbol="DOWN")
    rejected = manual_proposal(tmarket, users["trader"], day=thursday, symbol="FGBL")
    _reject(rejected, users["approver"])
    # Still decidable on the day after: a desk decides late.
    monday = LAST + dt.timedelta(days=3)
    assert services.proposals_expire(today=monday) == 2
    for p in (old, late):
        p.refresh_from_db()
        assert p.status == ProposalStatus.EXPIRED and p.decided_at and p.decided_by is None
        assert decisions_of(p) == [AuditAction.PROPOSALS_EXPIRE]
    rejected.refresh_from_db()
    assert rejected.status == ProposalStatus.REJECTED
    with pytest.raises(ConflictError):
        _approve(old, users["approver"])
    assert services.proposals_expire(today=monday) == 0


def test_a_past_pending_proposal_stays_decidable_until_expired(tmarket, users):
    proposal = manual_proposal(tmarket, users["trader"], day=DATES[-5])
    assert _approve(proposal, users["approver"]).execution.trade_date == DATES[-5]


def test_proposals_on_inactive_instruments_are_refused(tmarket, users):
    Instrument.objects.filter(symbol="UP").update(active=False)
    with pytest.raises(PMSError) as caught:
        manual_proposal(tmarket, users["trader"])
    assert caught.value.field == "symbol" and "inactive" in caught.value.message
    assert not TradeProposal.objects.exists()


def test_a_second_pending_proposal_of_a_sleeve_is_a_conflict(tmarket, users):
    first = manual_proposal(tmarket, users["trader"])
    with pytest.raises(ConflictError) as caught:
        manual_proposal(tmarket, users["trader"], quantity="2")
    assert f"#{first.pk}" in caught.value.message
    assert TradeProposal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_approvals_give_one_execution_and_one_409():
    """Given one pending proposal, when two approvers approve it at the same instant on two
    database connections, then exactly one execution exists and the other gets a 409; the same
    for an approval racing a rejection (exactly one decision wins)."""
    restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups
    market = build_trades_market(PortfolioFactory())
    users = desk_users()
    for symbol, second in (("UP", _approve), ("DOWN", _reject)):
        proposal = manual_proposal(market, users["trader"], symbol=symbol)
        calls = [
            lambda p=proposal: _approve(p, users["approver"]),
            lambda p=proposal, decide=second: decide(p, users["approver2"]),
        ]
        results = run_concurrently(*calls)
        wins = [r for r in results if isinstance(r, TradeProposal)]
        losses = [r for r in results if isinstance(r, ConflictError)]
        assert len(wins) == 1 and len(losses) == 1, results
        proposal.refresh_from_db()
        assert proposal.status == wins[0].status
        assert Execution.objects.filter(proposal=proposal).count() == (
            1 if proposal.status == ProposalStatus.APPROVED else 0
        )
        assert len(decisions_of(proposal)) == 1
    assert Execution.objects.count() == TradeProposal.objects.filter(status="approved").count()
