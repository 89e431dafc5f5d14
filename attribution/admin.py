"""The stored attribution, read-only: the EOD step (``attribution_run``) writes it."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html_join

from pms_project.formatting import money, pct
from portfolio.admin import ReadOnlyAdmin

from .models import AttributionResult


@admin.register(AttributionResult)
class AttributionResultAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "portfolio", "period", "twr_pct", "pnl_money", "days", "computed_at"]
    list_filter = ["portfolio", "period"]
    date_hierarchy = "as_of"
    fields = [
        "portfolio",
        "period",
        "as_of",
        "anchor",
        "first_date",
        "last_date",
        "days",
        "pnl",
        "twr",
        "statistics",
        "by_strategy",
        "computed_at",
    ]
    readonly_fields = ["by_strategy"]

    @admin.display(description="TWR", ordering="twr")
    def twr_pct(self, obj: AttributionResult) -> str:
        return pct(obj.twr)

    @admin.display(description="P&L", ordering="pnl")
    def pnl_money(self, obj: AttributionResult) -> str:
        return money(obj.pnl)

    @admin.display(description="by strategy")
    def by_strategy(self, obj: AttributionResult) -> str:
        rows = obj.segments.get("strategy", [])
        return format_html_join(
            "",
            "<div>{}: P&amp;L {}, contribution {}</div>",
            ((r["key"], money(r["pnl"]), pct(r["contribution"])) for r in rows),
        )
