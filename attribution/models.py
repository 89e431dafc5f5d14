"""What the EOD attribution step keeps (SPEC §5).

- ``SegmentPnl``: the daily P&L of every segment of every dimension (days × segments rows), from
  which any period is attributed without reading the position-days again.
- ``AttributionDay``: which marking of the day those totals were built from (the NAV snapshot's
  timestamp): a day marked again since is recomputed, never served stale.
- ``AttributionResult``: the standard periods as of a date, as the desk saw them that evening.
"""

from __future__ import annotations

from django.db import models

from portfolio.models import Portfolio

from .choices import Dimension, Period

MONEY = {"max_digits": 28, "decimal_places": 8}
TOTAL = {"max_digits": 40, "decimal_places": 8}


class AttributionDay(models.Model):
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="attribution_days"
    )
    date = models.DateField()
    marked_at = models.DateTimeField(help_text="the NAV snapshot's time the totals were built from")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio", "date"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "date"], name="attrday_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.date}"


class SegmentPnl(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="segment_pnl")
    date = models.DateField()
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    key = models.CharField(
        max_length=30, help_text="strategy code, asset class, symbol or currency"
    )
    pnl = models.DecimalField(**TOTAL)

    class Meta:
        ordering = ["portfolio", "dimension", "date", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "dimension", "date", "key"], name="segpnl_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.dimension}={self.key} {self.pnl}"


class AttributionResult(models.Model):
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.CASCADE, related_name="attribution_results"
    )
    period = models.CharField(max_length=3, choices=Period.choices)
    as_of = models.DateField()
    anchor = models.DateField()
    first_date = models.DateField(null=True, blank=True)
    last_date = models.DateField(null=True, blank=True)
    days = models.PositiveIntegerField()
    pnl = models.DecimalField(**TOTAL)
    twr = models.FloatField()
    statistics = models.JSONField()
    segments = models.JSONField(help_text="per dimension: [{key, pnl, contribution}]")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio", "-as_of", "period"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "period", "as_of"], name="attrresult_unique_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.period} {self.as_of}"
