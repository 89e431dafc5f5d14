from __future__ import annotations

from django.db import models


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class Side(models.TextChoices):
    BUY = "buy", "Buy"
    SELL = "sell", "Sell"


class ProposalSource(models.TextChoices):
    GENERATED = "generated", "Generated from a signal"
    MANUAL = "manual", "Entered by a trader"


class AuditAction(models.TextChoices):
    PROPOSAL_CREATE = "proposal.create", "Proposal entered"
    PROPOSALS_GENERATE = "proposals.generate", "Proposals generated"
    PROPOSAL_APPROVE = "proposal.approve", "Proposal approved"
    PROPOSAL_MODIFY_APPROVE = "proposal.modify_approve", "Proposal modified and approved"
    PROPOSAL_REJECT = "proposal.reject", "Proposal rejected"
    PROPOSALS_EXPIRE = "proposals.expire", "Stale proposals expired"
    POSITION_OPEN = "position.open", "Position opened or changed"
    POSITION_CLOSE = "position.close", "Position closed"
    PRICE_MARK = "price.mark", "Intraday mark"
    PRICES_LOAD = "prices.load", "Closes loaded"
    CASH_FLOW = "cashflow.record", "Cash flow"
    MTM_RUN = "mtm.run", "Mark-to-market"
    GRANT_ADD = "grant.add", "Portfolio access granted"
    GRANT_REVOKE = "grant.revoke", "Portfolio access revoked"


DECIDED = (ProposalStatus.APPROVED, ProposalStatus.REJECTED, ProposalStatus.EXPIRED)
