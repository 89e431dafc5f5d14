"""Decisions on proposals (SPEC §3): approve, modify-approve, reject, expire. Four-eyes and
race-free.

Every decision takes the portfolio lock, then the proposal's row lock (the order every writer of
the portfolio follows, so two of them never wait on each other in a cycle), and re-reads the
status under the lock: of two simultaneous approvals of one proposal, the second finds it decided
and gets a 409 — one execution, never two. Approval books the execution through the portfolio
ledger in the same transaction, after a fresh pre-trade check on the book of that moment.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from pms_project.errors import ConflictError, ForbiddenError, NotFoundError, PMSError
from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.choices import ExecutionSource
from portfolio.models import Portfolio
from risk import pretrade

from ..audit import audit_many, audit_record, state
from ..choices import AuditAction, ProposalStatus
from ..models import TradeProposal
from .risk import IMPACT_FIELDS, store_impact

APPROVE_PERMISSION = "trades.approve_tradeproposal"
DECISION_FIELDS = [
    "status",
    "quantity",
    "price",
    "decided_by",
    "decided_at",
    "note",
    "override_reason",
    "original_quantity",
    "original_price",
    "execution",
    *IMPACT_FIELDS,
]
TEXT_LIMIT = 2000


def may_decide(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(APPROVE_PERMISSION))


def _require_decider(user) -> None:
    if not may_decide(user):
        raise ForbiddenError(
            "only approvers (permission trades.approve_tradeproposal) decide proposals",
            field="proposal",
        )


def _text(value: str, *, field: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise PMSError("is required and may not be blank", field=field)
    if len(value) > TEXT_LIMIT:
        raise PMSError(f"at most {TEXT_LIMIT} characters", field=field)
    return value


def _lock_pending(proposal_id: int, user) -> TradeProposal:
    """The pending proposal, locked after its portfolio; 404 when gone, 409 when decided, 403
    when ``user`` created it (four-eyes). Call inside a transaction."""
    portfolio_id = (
        TradeProposal.objects.filter(pk=proposal_id).values_list("portfolio_id", flat=True).first()
    )
    if portfolio_id is None:
        raise NotFoundError(f"no proposal {proposal_id}", field="proposal")
    portfolio_services.portfolio_lock(Portfolio(pk=portfolio_id))
    proposal = (
        TradeProposal.objects.select_for_update(of=("self",))
        .select_related("portfolio", "strategy", "instrument", "created_by", "decided_by")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:  # a regeneration replaced it while we waited
        raise NotFoundError(
            f"no proposal {proposal_id} (a regeneration of its day replaced it)", field="proposal"
        )
    if proposal.status != ProposalStatus.PENDING:
        by = proposal.decided_by.get_username() if proposal.decided_by else "the system"
        raise ConflictError(
            f"proposal {proposal_id} is already {proposal.status} "
            f"(by {by} at {proposal.decided_at:%Y-%m-%d %H:%M:%S} UTC)",
            field="proposal",
        )
    if proposal.created_by_id is not None and proposal.created_by_id == user.pk:
        raise ForbiddenError(
            "four-eyes: you created this proposal, so another approver must decide it",
            field="proposal",
        )
    return proposal


def proposal_approve(
    *, proposal_id: int, user, note: str = "", override_reason: str = ""
) -> TradeProposal:
    """Approve as proposed: book the execution and link it, atomically."""
    return _approve(proposal_id, user, note=note, override_reason=override_reason)


def proposal_modify_approve(
    *,
    proposal_id: int,
    user,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    note: str = "",
    override_reason: str = "",
) -> TradeProposal:
    """Change the quantity (unsigned; the side stays) and/or the price, keep the originals, then
    approve."""
    if quantity is None and price is None:
        raise PMSError("give a new quantity, a new price, or both", field="quantity")
    if quantity is not None:
        portfolio_services.validate_positive(
            quantity, field="quantity", limit=portfolio_services.QTY_LIMIT
        )
    if price is not None:
        portfolio_services.validate_positive(price, field="price")
    return _approve(
        proposal_id,
        user,
        quantity=quantity,
        price=price,
        note=note,
        override_reason=override_reason,
    )


def _approve(
    proposal_id: int,
    user,
    *,
    quantity: Decimal | None = None,
    price: Decimal | None = None,
    note: str,
    override_reason: str,
) -> TradeProposal:
    _require_decider(user)
    note = _text(note, field="note")
    override_reason = _text(override_reason, field="override_reason")
    modified = quantity is not None or price is not None
    with transaction.atomic():
        proposal = _lock_pending(proposal_id, user)
        before = state(proposal, DECISION_FIELDS)
        if modified:
            proposal.original_quantity = proposal.quantity
            proposal.original_price = proposal.price
            if quantity is not None:
                proposal.quantity = pcalc.q(quantity, pcalc.QTY_PLACES)
            if price is not None:
                proposal.price = pcalc.q(price, pcalc.PRICE_PLACES)
        # The check on the book of this moment: other trades may have been booked since.
        store_impact(
            proposal,
            pretrade.pretrade_impacts(
                proposal.portfolio,
                [
                    pretrade.Trade(
                        proposal.instrument,
                        proposal.strategy.code,
                        proposal.signed_quantity,
                        proposal.price,
                    )
                ],
            )[0],
        )
        if proposal.breaks_hard_limit and not override_reason:
            breaches = ", ".join(proposal.risk_impact["hard_breaches"])
            raise PMSError(
                f"the trade would breach hard limits ({breaches}); approving it anyway needs "
                "an override reason, which is audited",
                field="override_reason",
            )
        execution, _ = portfolio_services.execution_record(
            portfolio=proposal.portfolio,
            instrument=proposal.instrument,
            strategy=proposal.strategy,
            trade_date=proposal.date,
            quantity=proposal.signed_quantity,
            price=proposal.price,
            source=ExecutionSource.PROPOSAL,
            user=user,
        )
        proposal.status = ProposalStatus.APPROVED
        proposal.execution = execution
        proposal.decided_by = user
        proposal.decided_at = timezone.now()
        proposal.note = note
        proposal.override_reason = override_reason if proposal.breaks_hard_limit else ""
        proposal.save()
        audit_record(
            actor=user,
            action=AuditAction.PROPOSAL_MODIFY_APPROVE
            if modified
            else AuditAction.PROPOSAL_APPROVE,
            obj=proposal,
            portfolio=proposal.portfolio,
            before=before,
            after=state(proposal, DECISION_FIELDS),
        )
    return proposal


def proposal_reject(*, proposal_id: int, user, reason: str) -> TradeProposal:
    """Reject with a reason (required)."""
    _require_decider(user)
    reason = _text(reason, field="reason", required=True)
    with transaction.atomic():
        proposal = _lock_pending(proposal_id, user)
        before = state(proposal, DECISION_FIELDS)
        proposal.status = ProposalStatus.REJECTED
        proposal.decided_by = user
        proposal.decided_at = timezone.now()
        proposal.note = reason
        proposal.save()
        audit_record(
            actor=user,
            action=AuditAction.PROPOSAL_REJECT,
            obj=proposal,
            portfolio=proposal.portfolio,
            before=before,
            after=state(proposal, DECISION_FIELDS),
        )
    return proposal


def proposals_expire(
    *, today: dt.date | None = None, user=None, portfolio: Portfolio | None = None
) -> int:
    """Expire every pending proposal dated before ``today`` (the pre-open's first step), of
    ``portfolio`` or of all; returns how many. Each portfolio in its own transaction, under its
    lock; one audit event each."""
    today = today or portfolio_selectors.today()
    stale = TradeProposal.objects.filter(status=ProposalStatus.PENDING, date__lt=today)
    if portfolio is not None:
        stale = stale.filter(portfolio=portfolio)
    portfolio_ids = sorted(set(stale.values_list("portfolio_id", flat=True)))
    expired = 0
    for portfolio_id in portfolio_ids:
        with transaction.atomic():
            portfolio_services.portfolio_lock(Portfolio(pk=portfolio_id))
            stale = list(
                TradeProposal.objects.select_for_update()
                .filter(portfolio_id=portfolio_id, status=ProposalStatus.PENDING, date__lt=today)
                .select_related("portfolio", "instrument")
            )
            now = timezone.now()
            note = f"expired by the pre-open of {today.isoformat()}"
            TradeProposal.objects.filter(pk__in=[p.pk for p in stale]).update(
                status=ProposalStatus.EXPIRED, decided_at=now, note=note
            )
            audit_many(
                actor=user,
                action=AuditAction.PROPOSALS_EXPIRE,
                portfolio_id=portfolio_id,
                changes=[
                    (
                        p,
                        {"status": ProposalStatus.PENDING},
                        {"status": ProposalStatus.EXPIRED, "decided_at": now, "note": note},
                    )
                    for p in stale
                ],
            )
            expired += len(stale)
    return expired
