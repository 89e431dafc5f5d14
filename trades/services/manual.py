"""A trader's own proposal: what they want traded, waiting for an approver like any other."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import IntegrityError, transaction

from pms_project.errors import ConflictError, PMSError
from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio import services as portfolio_services
from portfolio.models import Portfolio
from risk import pretrade

from ..audit import audit_record, state
from ..choices import AuditAction, ProposalSource, ProposalStatus, Side
from ..models import TradeProposal
from .decisions import TEXT_LIMIT
from .generation import validate_day
from .risk import store_impact

CREATE_FIELDS = [
    "date",
    "strategy",
    "instrument",
    "side",
    "quantity",
    "price",
    "rationale",
    "status",
    "var_99_before",
    "var_99_after",
    "breaks_hard_limit",
]


def proposal_create(
    *,
    portfolio: Portfolio,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal | None = None,
    day: dt.date | None = None,
    strategy_code: str | None = None,
    rationale: str = "",
    user=None,
) -> TradeProposal:
    """A pending manual proposal, with its pre-trade check. ``quantity`` is unsigned, ``side``
    buy or sell; ``price`` defaults to the instrument's latest mark, ``day`` to today (a past
    business day is allowed: a desk books late). One pending proposal per sleeve and day: a
    second is a 409 naming the first."""
    if side not in Side.values:
        raise PMSError(f"must be one of {', '.join(Side.values)}", field="side")
    portfolio_services.validate_positive(
        quantity, field="quantity", limit=portfolio_services.QTY_LIMIT
    )
    day = validate_day(portfolio, day or portfolio_selectors.today())
    rationale = (rationale or "").strip()
    if len(rationale) > TEXT_LIMIT:
        raise PMSError(f"at most {TEXT_LIMIT} characters", field="rationale")
    instrument = portfolio_services.instrument_by_symbol(symbol)
    if not instrument.active:
        raise PMSError(f"{instrument.symbol} is inactive: no new proposals", field="symbol")
    strategy = portfolio_services.strategy_by_code(strategy_code)
    if price is None:
        mark = portfolio_selectors.latest_marks([instrument.id]).get(instrument.id)
        if mark is None:
            raise PMSError(f"{instrument.symbol} has no mark yet: give a price", field="price")
        price = mark.price
    portfolio_services.validate_positive(price, field="price")
    proposal = TradeProposal(
        portfolio=portfolio,
        strategy=strategy,
        instrument=instrument,
        date=day,
        side=side,
        quantity=pcalc.q(quantity, pcalc.QTY_PLACES),
        price=pcalc.q(price, pcalc.PRICE_PLACES),
        source=ProposalSource.MANUAL,
        rationale=rationale,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    store_impact(
        proposal,
        pretrade.pretrade_impacts(
            portfolio,
            [pretrade.Trade(instrument, strategy.code, proposal.signed_quantity, proposal.price)],
        )[0],
    )
    with transaction.atomic():
        pending = TradeProposal.objects.filter(
            portfolio=portfolio,
            strategy=strategy,
            instrument=instrument,
            date=day,
            status=ProposalStatus.PENDING,
        ).first()
        if pending is not None:
            raise ConflictError(_pending_message(pending), field="symbol")
        try:
            with transaction.atomic():
                proposal.save()
        except IntegrityError as exc:  # a concurrent request created it first
            raise ConflictError(
                f"a proposal of {instrument.symbol} in {strategy.code} on {day.isoformat()} "
                "was created concurrently",
                field="symbol",
            ) from exc
        audit_record(
            actor=user,
            action=AuditAction.PROPOSAL_CREATE,
            obj=proposal,
            portfolio=portfolio,
            after=state(proposal, CREATE_FIELDS),
        )
    return proposal


def _pending_message(pending: TradeProposal) -> str:
    return (
        f"proposal #{pending.pk} of {pending.instrument.symbol} in {pending.strategy.code} on "
        f"{pending.date.isoformat()} is pending: decide it first (one pending proposal per "
        "sleeve and day)"
    )
