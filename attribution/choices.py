from __future__ import annotations

from django.db import models


class Dimension(models.TextChoices):
    """How the book's P&L is split (SPEC §5)."""

    STRATEGY = "strategy", "Strategy"
    ASSET_CLASS = "asset_class", "Asset class"
    INSTRUMENT = "instrument", "Instrument"
    CURRENCY = "currency", "Currency"


class Period(models.TextChoices):
    """The standard periods, each covering the business days after its anchor up to as-of."""

    D1 = "1D", "One day"
    WTD = "WTD", "Week to date"
    MTD = "MTD", "Month to date"
    QTD = "QTD", "Quarter to date"
    YTD = "YTD", "Year to date"
    ITD = "ITD", "Inception to date"
