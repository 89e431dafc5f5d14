from __future__ import annotations

from django import forms
from django.contrib import admin

from trades import generators

from .models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "base_currency",
        "inception_date",
        "initial_capital",
        "calendar",
    ]
    search_fields = ["code", "name"]


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = [
        "symbol",
        "name",
        "asset_class",
        "currency",
        "multiplier",
        "active",
        "calendar",
        "last_price",
    ]
    list_filter = ["asset_class", "currency", "active", "calendar"]
    search_fields = ["symbol", "name"]


class StrategyForm(forms.ModelForm):
    """The generator chosen from the registered ones (``trades.generators``), or none."""

    generator = forms.ChoiceField(required=False)

    class Meta:
        model = Strategy
        fields = [
            "code",
            "name",
            "asset_class",
            "active",
            "risk_budget",
            "generator",
            "instruments",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["generator"].choices = [
            ("", "— none (a manual strategy) —"),
            *((name, name) for name in generators.names()),
        ]


@admin.register(Strategy)
class StrategyAdmin(admin.ModelAdmin):
    form = StrategyForm
    list_display = ["code", "name", "asset_class", "risk_budget", "generator", "active"]
    list_filter = ["asset_class", "active", "generator"]
    filter_horizontal = ["instruments"]


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = ["instrument", "date", "close"]
    list_filter = ["instrument"]
    date_hierarchy = "date"


@admin.register(CashFlow)
class CashFlowAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "date", "amount", "note"]
    list_filter = ["portfolio"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger-derived rows change only through services (the ledger, mark-to-market)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = [
        "trade_date",
        "portfolio",
        "instrument",
        "strategy",
        "quantity",
        "price",
        "source",
        "user",
    ]
    list_filter = ["portfolio", "strategy", "source"]
    search_fields = ["instrument__symbol"]
    date_hierarchy = "trade_date"


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = [
        "portfolio",
        "instrument",
        "strategy",
        "quantity",
        "avg_cost",
        "realized_pnl",
        "status",
    ]
    list_filter = ["portfolio", "strategy", "status"]
    search_fields = ["instrument__symbol"]


@admin.register(PositionSnapshot)
class PositionSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "date",
        "position",
        "quantity",
        "price",
        "carried",
        "exposure",
        "total_pnl",
        "daily_pnl",
    ]
    list_filter = ["carried"]
    date_hierarchy = "date"


@admin.register(NavSnapshot)
class NavSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["portfolio", "date", "nav", "daily_pnl", "flow", "daily_return"]
    list_filter = ["portfolio"]
    date_hierarchy = "date"
