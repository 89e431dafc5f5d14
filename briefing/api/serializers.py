"""The morning pack as the API answers it: the stored sections (decimal strings for money and
quantities, full-precision floats for ratios) and who generated it when."""

from __future__ import annotations

from rest_framework import serializers

from pms_project.serializers import IsoDateField


class PackGenerateSerializer(serializers.Serializer):
    date = IsoDateField(
        required=False, help_text="a business day, today at the latest; default today"
    )


class MorningPackSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    name = serializers.CharField()
    base_currency = serializers.CharField()
    date = serializers.DateField(help_text="the business date the pack is for")
    as_of = serializers.DateField(help_text="the close its numbers are built from")
    generated_at = serializers.DateTimeField()
    generated_by = serializers.CharField(allow_null=True, help_text="null: the system")
    warnings = serializers.ListField(child=serializers.CharField())
    header = serializers.DictField(
        help_text="nav; pnl and twr of 1D, MTD and YTD; nav_curve [{date, nav}] of the last year"
    )
    market_moves = serializers.ListField(
        child=serializers.DictField(),
        help_text="every instrument held or signalled: symbol, name, asset_class, currency, "
        "held, signalled, close, close_date, carried (held and marked at its previous close, "
        "its market closed on as_of), moves {1D, 1W, 1M} (fractions, null without a base)",
    )
    positions = serializers.DictField(
        help_text="count; top_exposure and top_movers: the 10 largest by |exposure| and by "
        "|daily P&L| (symbol, strategy, quantity, price, exposure, daily_pnl, total_pnl, "
        "carried)"
    )
    risk = serializers.DictField(
        help_text="risk at the close (as GET /api/risk/history/ keeps it): var, exposures, "
        "drawdown, limits with utilization and status, breaches"
    )
    proposals = serializers.ListField(
        child=serializers.DictField(),
        help_text="pending proposals with rationale, VaR 99 and worst-limit utilization before "
        "and after, and their admin page",
    )
    attribution = serializers.DictField(
        help_text="MTD by strategy: period dates, pnl, twr, rows {key, pnl, contribution}"
    )
    alerts = serializers.ListField(
        child=serializers.DictField(), help_text="limit alerts of the week, newest first"
    )


def pack_data(pack) -> dict:
    return MorningPackSerializer(
        {
            **pack.content,
            "generated_at": pack.generated_at,
            "generated_by": pack.generated_by.get_username() if pack.generated_by else None,
        }
    ).data
