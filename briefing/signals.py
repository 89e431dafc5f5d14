"""Receivers that only invalidate the cache (SPEC §7): a morning pack changed → the briefing."""

from __future__ import annotations

from pms_project.cache import connect_invalidation

from .models import MorningPack


def connect() -> None:
    connect_invalidation(MorningPack)
