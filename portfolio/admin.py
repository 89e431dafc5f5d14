from __future__ import annotations

from django import forms
from django.contrib import admin

from trades import generators

from . import selectors, services
from .models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    PortfolioGrant,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)


class GrantedPortfoliosMixin:
    """A staff user restricted by grants sees only the rows of the portfolios granted."""

    portfolio_lookup = "portfolio_id__in"

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        granted = selectors.granted_portfolio_ids(request.user)
        return rows if granted is None else rows.filter(**{self.portfolio_lookup: granted})


class PortfolioGrantInline(admin.TabularInline):
    """Grants are added or revoked (through the services: audited), never edited."""

    model = PortfolioGrant
    fields = ["user", "granted_by", "created_at"]
    readonly_fields = ["granted_by", "created_at"]
    autocomplete_fields = ["user"]
    extra = 0

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Portfolio)
class PortfolioAdmin(GrantedPortfoliosMixin, admin.ModelAdmin):
    portfolio_lookup = "pk__in"
    inlines = [PortfolioGrantInline]
    list_display = [
        "code",
        "name",
        "base_currency",
        "inception_date",
        "initial_capital",
        "calendar",
    ]
    search_fields = ["code", "name"]

    def save_formset(self, request, form, formset, change):
        if formset.model is not PortfolioGrant:
            return super().save_formset(request, form, formset, change)
        added = formset.save(commit=False)
        for grant in formset.deleted_objects:
            services.grants_revoke(
                user=grant.user, portfolios=[grant.portfolio], revoked_by=request.user
            )
        for grant in added:
            services.grants_add(
                user=grant.user, portfolios=[form.instance], granted_by=request.user
            )


@admin.register(PortfolioGrant)
class PortfolioGrantAdmin(admin.ModelAdmin):
    """Who may see and change which portfolio: a user with no grant sees every one."""

    list_display = ["user", "portfolio", "granted_by", "created_at"]
    list_filter = ["portfolio", "user"]
    search_fields = ["user__username", "portfolio__code"]
    fields = ["user", "portfolio", "granted_by", "created_at"]
    readonly_fields = ["granted_by", "created_at"]
    autocomplete_fields = ["user", "portfolio"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        created = services.grants_add(
            user=obj.user, portfolios=[obj.portfolio], granted_by=request.user
        )
        if created:
            obj.pk = created[0].pk

    def delete_model(self, request, obj):
        services.grants_revoke(user=obj.user, portfolios=[obj.portfolio], revoked_by=request.user)

    def delete_queryset(self, request, queryset):
        by_user: dict = {}
        for grant in queryset.select_related("user", "portfolio"):
            by_user.setdefault(grant.user, []).append(grant.portfolio)
        for user, portfolios in by_user.items():
            services.grants_revoke(user=user, portfolios=portfolios, revoked_by=request.user)


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
class CashFlowAdmin(GrantedPortfoliosMixin, admin.ModelAdmin):
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
class ExecutionAdmin(GrantedPortfoliosMixin, ReadOnlyAdmin):
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
class PositionAdmin(GrantedPortfoliosMixin, ReadOnlyAdmin):
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
class PositionSnapshotAdmin(GrantedPortfoliosMixin, ReadOnlyAdmin):
    portfolio_lookup = "position__portfolio_id__in"
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
class NavSnapshotAdmin(GrantedPortfoliosMixin, ReadOnlyAdmin):
    list_display = ["portfolio", "date", "nav", "daily_pnl", "flow", "daily_return"]
    list_filter = ["portfolio"]
    date_hierarchy = "date"
