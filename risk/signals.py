"""Receivers that only invalidate the cache (SPEC §7): a limit changed → the live risk."""

from __future__ import annotations

from pms_project.cache import connect_invalidation

from .models import RiskLimit


def connect() -> None:
    connect_invalidation(RiskLimit)
