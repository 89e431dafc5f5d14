"""Writes of the briefing app: the morning pack of a business date, generated and stored."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from portfolio.models import Portfolio
from portfolio.services.base import portfolio_lock, validate_business_date

from . import report
from .models import MorningPack


def morning_pack_generate(
    *, portfolio: Portfolio, business_date: dt.date, user=None
) -> MorningPack:
    """Build the pack for ``business_date`` (a business day, today at the latest) from the close
    before it and store it, replacing the one generated before for that date.

    Under the portfolio lock: no mark-to-market or booking lands half-way through, so every
    section describes the same book."""
    day = validate_business_date(business_date, field="date")
    with transaction.atomic():
        portfolio_lock(portfolio)
        content = report.build(portfolio, day)
        pack, _ = MorningPack.objects.update_or_create(
            portfolio=portfolio,
            date=day,
            defaults={
                "as_of": dt.date.fromisoformat(content["as_of"]),
                "content": content,
                "generated_by": user if user is not None and user.is_authenticated else None,
            },
        )
    return pack
