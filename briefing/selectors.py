"""Reads of the stored morning packs."""

from __future__ import annotations

import datetime as dt

from pms_project.errors import NotFoundError
from portfolio.models import Portfolio

from .models import MorningPack


def pack_get(portfolio: Portfolio, day: dt.date) -> MorningPack:
    pack = MorningPack.objects.filter(portfolio=portfolio, date=day).first()
    if pack is None:
        raise NotFoundError(
            f"{portfolio.code} has no morning pack for {day.isoformat()}: generate it first",
            field="date",
        )
    return pack


def pack_latest(portfolio: Portfolio) -> MorningPack:
    pack = pack_latest_or_none(portfolio)
    if pack is None:
        raise NotFoundError(
            f"{portfolio.code} has no morning pack yet: generate one first", field="portfolio"
        )
    return pack


def pack_latest_or_none(portfolio: Portfolio) -> MorningPack | None:
    return MorningPack.objects.filter(portfolio=portfolio).order_by("-date").first()
