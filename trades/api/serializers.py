from __future__ import annotations

from rest_framework import serializers

from pms_project.serializers import ModelSerializer, StrictCharField
from portfolio.api.serializers import MONEY, PRICE, QTY

from ..choices import Side
from ..models import AuditEvent, Signal, TradeProposal

TEXT = {"max_length": 2000}


class SignalSerializer(ModelSerializer):
    strategy = serializers.CharField(source="strategy.code", read_only=True)
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)

    class Meta:
        model = Signal
        fields = ["id", "date", "strategy", "symbol", "value", "generator", "rationale"]
        read_only_fields = fields


class TradeProposalSerializer(ModelSerializer):
    """Every field is read-only: proposals change only through the decision endpoints."""

    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    strategy = serializers.CharField(source="strategy.code", read_only=True)
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    execution_id = serializers.IntegerField(read_only=True, allow_null=True)
    signed_quantity = serializers.DecimalField(**QTY, read_only=True)
    risk_impact = serializers.JSONField(
        read_only=True,
        help_text="the pre-trade check (POST /api/risk/pretrade/ in short): nav, "
        "exposure_added, hard_breaches; scenarios, insufficient_history and var_99_fraction as "
        "[before, after]; limits as rows [metric, soft, hard, value before, value after, "
        "utilization after, status after], values as fractions of NAV",
    )

    class Meta:
        model = TradeProposal
        fields = [
            "id",
            "portfolio",
            "date",
            "strategy",
            "symbol",
            "side",
            "quantity",
            "signed_quantity",
            "price",
            "source",
            "rationale",
            "signal_value",
            "target_quantity",
            "current_quantity",
            "status",
            "created_by",
            "created_at",
            "decided_by",
            "decided_at",
            "note",
            "override_reason",
            "original_quantity",
            "original_price",
            "execution_id",
            "var_99_before",
            "var_99_after",
            "utilization_before",
            "utilization_after",
            "breaks_hard_limit",
            "risk_impact",
        ]
        read_only_fields = fields


class ProposalCreateSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=30)
    side = serializers.ChoiceField(choices=Side.choices)
    quantity = serializers.DecimalField(**QTY, help_text="unsigned contracts; the side signs it")
    price = serializers.DecimalField(
        **PRICE, required=False, help_text="default: the instrument's latest mark"
    )
    date = serializers.DateField(required=False, help_text="default today; a past day is allowed")
    strategy = StrictCharField(
        max_length=30, required=False, allow_blank=True, help_text="the sleeve; default MANUAL"
    )
    rationale = StrictCharField(**TEXT, required=False, allow_blank=True)


class GenerateSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="a business day; default today")


class SkipSerializer(serializers.Serializer):
    strategy = serializers.CharField()
    symbol = serializers.CharField()
    reason = serializers.CharField()


class GenerationResultSerializer(serializers.Serializer):
    date = serializers.DateField(source="day")
    nav = serializers.DecimalField(**MONEY, help_text="the NAV the proposals are sized on")
    signals = serializers.IntegerField(help_text="signals stored for the day")
    created = TradeProposalSerializer(many=True)
    kept = TradeProposalSerializer(many=True, help_text="pending ones proposed again unchanged")
    removed = serializers.IntegerField(help_text="pending ones replaced or no longer proposed")
    skipped = SkipSerializer(many=True)


class ApproveSerializer(serializers.Serializer):
    note = StrictCharField(**TEXT, required=False, allow_blank=True)
    override_reason = StrictCharField(
        **TEXT,
        required=False,
        allow_blank=True,
        help_text="required when the trade would breach a hard limit; audited",
    )


class ModifyApproveSerializer(ApproveSerializer):
    quantity = serializers.DecimalField(
        **QTY, required=False, help_text="unsigned contracts (> 0); the side stays"
    )
    price = serializers.DecimalField(
        **PRICE, required=False, help_text="a new price; give it, a quantity, or both"
    )


class RejectSerializer(serializers.Serializer):
    reason = StrictCharField(**TEXT, help_text="why; required")


class AuditEventSerializer(ModelSerializer):
    portfolio = serializers.CharField(
        source="portfolio.code", read_only=True, allow_null=True, default=None
    )
    actor = serializers.CharField(source="actor_name", read_only=True)
    object_type = serializers.SerializerMethodField()
    before = serializers.JSONField(read_only=True, allow_null=True)
    after = serializers.JSONField(read_only=True, allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor",
            "action",
            "portfolio",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
        ]
        read_only_fields = fields

    def get_object_type(self, obj: AuditEvent) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"
