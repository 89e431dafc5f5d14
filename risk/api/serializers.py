from __future__ import annotations

from rest_framework import serializers

from pms_project.serializers import ModelSerializer, StrictCharField
from portfolio.api.serializers import BOOK_TOTAL, QTY, BookUnvaluedSerializer

from ..choices import LimitStatus, Metric
from ..models import FRACTION, Alert, RiskLimit, RiskSnapshot

MONEY = {"max_digits": 40, "decimal_places": 8}


def _amount(**kwargs):
    return serializers.DecimalField(**MONEY, allow_null=True, **kwargs)


class RiskLimitSerializer(ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    metric = serializers.ChoiceField(choices=Metric.choices)
    soft = serializers.DecimalField(**FRACTION, help_text="fraction of NAV: 0.02 = 2 %")
    hard = serializers.DecimalField(**FRACTION, help_text="fraction of NAV; leverage 3.0 = 300 %")

    class Meta:
        model = RiskLimit
        fields = ["id", "portfolio", "metric", "soft", "hard", "updated_at"]
        read_only_fields = ["updated_at"]
        # Uniqueness per portfolio is the service's rule (the portfolio is not in the body).
        validators = []


class RiskLimitUpdateSerializer(serializers.Serializer):
    soft = serializers.DecimalField(**FRACTION, required=False)
    hard = serializers.DecimalField(**FRACTION, required=False)


class LimitRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    metric = serializers.ChoiceField(choices=Metric.choices)
    value = serializers.FloatField(allow_null=True, help_text="the metric as a fraction of NAV")
    soft = serializers.DecimalField(**FRACTION)
    hard = serializers.DecimalField(**FRACTION)
    utilization = serializers.FloatField(allow_null=True, help_text="value / hard")
    status = serializers.ChoiceField(choices=LimitStatus.choices)


class FigureSerializer(serializers.Serializer):
    amount = _amount(help_text="base currency; null without scenarios")
    nav_fraction = serializers.FloatField(allow_null=True)


VarSerializer = type(
    "VarSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        **{
            name: FigureSerializer()
            for name in ("var_95", "var_99", "es_975", "parametric_var_95", "parametric_var_99")
        },
    },
)


class AssetClassExposureSerializer(serializers.Serializer):
    net = serializers.DecimalField(**BOOK_TOTAL)
    gross = serializers.DecimalField(**BOOK_TOTAL)
    gross_fraction = serializers.FloatField(allow_null=True)


class LargestSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    exposure = serializers.DecimalField(**BOOK_TOTAL)
    nav_fraction = serializers.FloatField(allow_null=True)


class ExposuresSerializer(serializers.Serializer):
    gross = serializers.DecimalField(**BOOK_TOTAL)
    net = serializers.DecimalField(**BOOK_TOTAL)
    leverage = serializers.FloatField(allow_null=True, help_text="gross / NAV")
    net_fraction = serializers.FloatField(allow_null=True)
    by_asset_class = serializers.DictField(child=AssetClassExposureSerializer())
    largest = LargestSerializer(allow_null=True, help_text="largest |net| of one instrument")


class DrawdownSerializer(serializers.Serializer):
    drawdown = serializers.FloatField(
        help_text="from the peak of the flow-adjusted NAV index (the limit metric)"
    )
    nav_drawdown = serializers.FloatField(help_text="from the peak of NAV itself, flows included")


class ScenarioDatesSerializer(serializers.Serializer):
    first = serializers.DateField(allow_null=True)
    last = serializers.DateField(allow_null=True)


class RiskReportSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    base_currency = serializers.CharField()
    as_of = serializers.DateField()
    nav = serializers.DecimalField(**BOOK_TOTAL)
    scenarios = serializers.IntegerField(
        help_text="dates on which every held instrument has a return"
    )
    scenario_dates = ScenarioDatesSerializer()
    insufficient_history = serializers.BooleanField(
        help_text="under 60 scenarios, or a held instrument left out for having no history"
    )
    no_history = serializers.ListField(
        child=serializers.CharField(), help_text="held instruments with no return at all"
    )
    var = VarSerializer()
    exposures = ExposuresSerializer()
    drawdown = DrawdownSerializer()
    limits = LimitRowSerializer(many=True)


class LiveRiskSerializer(RiskReportSerializer):
    complete = serializers.BooleanField(help_text="false when the book has unvalued positions")
    unvalued = BookUnvaluedSerializer(many=True)


class RiskSnapshotSerializer(ModelSerializer):
    class Meta:
        model = RiskSnapshot
        fields = [
            "date",
            "nav",
            "var_95",
            "var_99",
            "es_975",
            "parametric_var_95",
            "parametric_var_99",
            "scenarios",
            "insufficient_history",
            "gross_exposure",
            "net_exposure",
            "leverage",
            "largest_symbol",
            "largest_exposure",
            "drawdown",
            "nav_drawdown",
            "exposure_by_asset_class",
            "limits",
            "no_history",
        ]


class StressNamedSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    shocks = serializers.DictField(
        child=serializers.FloatField(), help_text="asset class or symbol → return"
    )
    pnl = serializers.DecimalField(**MONEY)
    nav_fraction = serializers.FloatField(allow_null=True)


class StressWindowSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    start = serializers.DateField(help_text="the first return date of the window")
    end = serializers.DateField(help_text="the last return date of the window")
    pnl = serializers.DecimalField(**MONEY)
    nav_fraction = serializers.FloatField(allow_null=True)


class StressReportSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    base_currency = serializers.CharField()
    as_of = serializers.DateField()
    nav = serializers.DecimalField(**BOOK_TOTAL)
    history = ScenarioDatesSerializer(help_text="the common return dates replayed")
    history_days = serializers.IntegerField()
    no_history = serializers.ListField(child=serializers.CharField())
    scenarios = StressNamedSerializer(many=True)
    historical = StressWindowSerializer(many=True)


class AlertSerializer(ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "portfolio",
            "date",
            "metric",
            "value",
            "soft",
            "hard",
            "utilization",
            "message",
            "created_at",
        ]


class PretradeSideSerializer(serializers.Serializer):
    var_99 = _amount()
    var_99_fraction = serializers.FloatField(allow_null=True)
    scenarios = serializers.IntegerField()
    insufficient_history = serializers.BooleanField()
    limits = LimitRowSerializer(many=True)


class PretradeRequestSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=30)
    strategy = StrictCharField(
        max_length=30, required=False, allow_blank=True, help_text="the sleeve; default MANUAL"
    )
    quantity = serializers.DecimalField(**QTY, help_text="signed: + buys, − sells")
    price = serializers.DecimalField(max_digits=24, decimal_places=10)


class PretradeImpactSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    symbol = serializers.CharField()
    strategy = serializers.CharField()
    quantity = serializers.DecimalField(**QTY)
    price = serializers.DecimalField(max_digits=24, decimal_places=10)
    exposure_added = serializers.DecimalField(**MONEY)
    nav = serializers.DecimalField(**BOOK_TOTAL)
    before = PretradeSideSerializer()
    after = PretradeSideSerializer()
    hard_breaches = serializers.ListField(child=serializers.ChoiceField(choices=Metric.choices))
    breaks_hard_limit = serializers.BooleanField()
