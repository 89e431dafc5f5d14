"""Writes of the trades app. Each public function validates first and is atomic, so a refused
request writes nothing; every decision and manual proposal is audited in its transaction.

- ``signals``: ``signals_generate`` (and the pieces generation reuses)
- ``generation``: ``proposals_generate`` — signals → sized proposals with their pre-trade check
- ``manual``: ``proposal_create`` — a trader's own proposal
- ``decisions``: ``proposal_approve``, ``proposal_modify_approve``, ``proposal_reject``,
  ``proposals_expire`` — four-eyes, race-free

Callers use ``trades.services.<name>``; the submodules are an internal layout.
"""

from .decisions import (
    APPROVE_PERMISSION,
    may_decide,
    proposal_approve,
    proposal_modify_approve,
    proposal_reject,
    proposals_expire,
)
from .generation import GenerationResult, proposals_generate
from .manual import proposal_create
from .signals import SignalRun, Skip, signals_generate

__all__ = [
    "APPROVE_PERMISSION",
    "GenerationResult",
    "SignalRun",
    "Skip",
    "may_decide",
    "proposal_approve",
    "proposal_create",
    "proposal_modify_approve",
    "proposal_reject",
    "proposals_expire",
    "proposals_generate",
    "signals_generate",
]
