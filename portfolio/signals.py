"""Receivers that only invalidate the cache (SPEC §7): a row saved or deleted of what the book,
the live risk and the attribution read. Bulk writes (``update()``, ``bulk_create`` …) invalidate
through the models' ``InvalidatingQuerySet``; both wait for the transaction's commit."""

from __future__ import annotations

from pms_project.cache import connect_invalidation
from pms_project.cache_hits import connect_auth_invalidation

from .models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    PortfolioGrant,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)

MODELS = (
    Portfolio,
    CashFlow,
    Instrument,
    Strategy,
    Price,
    Position,
    Execution,
    PositionSnapshot,
    NavSnapshot,
)


def connect() -> None:
    for model in MODELS:
        connect_invalidation(model)
    # Project-wide, connected by the foundation app: who may read (the cached GETs' hit path),
    # which portfolios included.
    connect_auth_invalidation(PortfolioGrant)
