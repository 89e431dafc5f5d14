"""Reads of the ops app."""

from __future__ import annotations

from django.db.models import QuerySet

from portfolio.models import Portfolio

from .models import PipelineRun


def pipeline_run_list(portfolio: Portfolio) -> QuerySet[PipelineRun]:
    """The portfolio's pipeline runs, newest business date first."""
    return (
        PipelineRun.objects.filter(portfolio=portfolio)
        .select_related("portfolio")
        .order_by("-business_date", "pipeline")
    )
