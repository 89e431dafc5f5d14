"""Pipeline runs, read-only: the pipelines write them. The schedules themselves are
django-celery-beat's admin ("Periodic tasks"), where the desk edits the crons."""

from __future__ import annotations

from django.contrib import admin

from portfolio.admin import ReadOnlyAdmin

from .models import PipelineRun


@admin.register(PipelineRun)
class PipelineRunAdmin(ReadOnlyAdmin):
    list_display = [
        "business_date",
        "portfolio",
        "pipeline",
        "status",
        "failed_step",
        "duration",
        "attempts",
        "refusals",
        "forced",
        "finished_at",
    ]
    list_filter = ["pipeline", "status", "portfolio", "forced"]
    date_hierarchy = "business_date"
    search_fields = ["error", "note"]
    fields = [
        "portfolio",
        "pipeline",
        "business_date",
        "status",
        "failed_step",
        "error",
        "note",
        "steps",
        "forced",
        "attempts",
        "refusals",
        "started_at",
        "finished_at",
        "updated_at",
    ]

    @admin.display(description="seconds")
    def duration(self, obj: PipelineRun) -> str:
        return "" if obj.seconds is None else f"{obj.seconds:,.2f}"
