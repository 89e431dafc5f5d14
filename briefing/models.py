"""The morning pack (SPEC §6): one document per portfolio and business date, generated before the
open from the data up to the previous close, kept as the JSON the desk read."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from pms_project.cache import InvalidatingQuerySet
from portfolio.models import Portfolio


class MorningPack(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="packs")
    date = models.DateField(help_text="the business date the pack is for")
    as_of = models.DateField(help_text="the close its numbers are built from")
    content = models.JSONField(encoder=DjangoJSONEncoder)
    generated_at = models.DateTimeField(auto_now=True)
    generated_by = models.ForeignKey(  # null: the system (the pre-open pipeline, a command)
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    cache_namespaces = ("briefing",)
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "date"], name="pack_unique_portfolio_date")
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} morning pack {self.date}"
