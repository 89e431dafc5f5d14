"""Limits and stress scenarios are edited here by the "risk" group; alerts and snapshots are
read-only (risk computations write them)."""

from __future__ import annotations

from django.contrib import admin

from pms_project.formatting import pct
from portfolio.admin import ReadOnlyAdmin

from .models import Alert, RiskLimit, RiskSnapshot, StressScenario, StressShock


@admin.register(RiskLimit)
class RiskLimitAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "metric", "soft_pct", "hard_pct", "updated_at"]
    list_filter = ["portfolio", "metric"]
    fields = ["portfolio", "metric", "soft", "hard"]

    @admin.display(description="soft", ordering="soft")
    def soft_pct(self, obj: RiskLimit) -> str:
        return pct(obj.soft)

    @admin.display(description="hard", ordering="hard")
    def hard_pct(self, obj: RiskLimit) -> str:
        return pct(obj.hard)


class StressShockInline(admin.TabularInline):
    model = StressShock
    extra = 1
    autocomplete_fields = ["instrument"]
    fields = ["asset_class", "instrument", "shock"]


@admin.register(StressScenario)
class StressScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "active"]
    list_filter = ["active"]
    search_fields = ["name"]
    inlines = [StressShockInline]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["date", "portfolio", "metric", "value_pct", "hard_pct", "utilization_pct"]
    list_filter = ["portfolio", "metric"]
    date_hierarchy = "date"

    @admin.display(description="value")
    def value_pct(self, obj: Alert) -> str:
        return pct(obj.value)

    @admin.display(description="hard")
    def hard_pct(self, obj: Alert) -> str:
        return pct(obj.hard)

    @admin.display(description="utilization")
    def utilization_pct(self, obj: Alert) -> str:
        return pct(obj.utilization)


@admin.register(RiskSnapshot)
class RiskSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["date", "portfolio", "nav_fmt", "var_99_fmt", "leverage_fmt", "scenarios"]
    list_filter = ["portfolio"]
    date_hierarchy = "date"

    @admin.display(description="NAV", ordering="nav")
    def nav_fmt(self, obj: RiskSnapshot) -> str:
        return f"{obj.nav:,.2f}"

    @admin.display(description="VaR 99", ordering="var_99")
    def var_99_fmt(self, obj: RiskSnapshot) -> str:
        return "—" if obj.var_99 is None else f"{obj.var_99:,.2f}"

    @admin.display(description="leverage", ordering="leverage")
    def leverage_fmt(self, obj: RiskSnapshot) -> str:
        return "—" if obj.leverage is None else f"{obj.leverage:.2f}×"
