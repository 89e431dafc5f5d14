from __future__ import annotations

from rest_framework import serializers

from pms_project.serializers import IsoDateField, QuerySerializer

from ..choices import Dimension, Period

TOTAL = {"max_digits": 40, "decimal_places": 8}


# ``from`` and ``return`` are Python keywords: the serializers naming them are built by type().
WindowQuerySerializer = type(
    "WindowQuerySerializer",
    (QuerySerializer,),
    {
        "__module__": __name__,
        "__doc__": "``period`` (default MTD) with ``as_of`` (default the last NAV snapshot), or "
        "``from`` and ``to`` (both included; each defaults to the edge of the marked history).",
        "period": serializers.ChoiceField(choices=Period.choices, required=False),
        "as_of": IsoDateField(required=False),
        "from": IsoDateField(required=False),
        "to": IsoDateField(required=False),
    },
)


class AttributionQuerySerializer(WindowQuerySerializer):
    by = serializers.ChoiceField(choices=Dimension.choices, required=False)


DaySerializer = type(
    "DaySerializer",
    (serializers.Serializer,),
    {"__module__": __name__, "date": serializers.DateField(), "return": serializers.FloatField()},
)


class StatisticsSerializer(serializers.Serializer):
    twr = serializers.FloatField(help_text="Π(1 + r_t) − 1")
    volatility = serializers.FloatField(allow_null=True, help_text="√252 × std (ddof 1)")
    sharpe = serializers.FloatField(allow_null=True, help_text="√252 × mean / std, rf = 0")
    max_drawdown = serializers.FloatField(help_text="of the TWR index, a positive fraction")
    hit_rate = serializers.FloatField(allow_null=True, help_text="share of days with r > 0")
    best_day = DaySerializer(allow_null=True)
    worst_day = DaySerializer(allow_null=True)


class SegmentRowSerializer(serializers.Serializer):
    key = serializers.CharField()
    pnl = serializers.DecimalField(**TOTAL)
    contribution = serializers.FloatField(help_text="Carino-linked; Σ = the period's TWR")


class WindowSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    period = serializers.CharField(help_text="1D, WTD, MTD, QTD, YTD, ITD or custom")
    as_of = serializers.DateField(allow_null=True)
    anchor = serializers.DateField(
        allow_null=True, help_text="the period covers the marked days after it"
    )
    days = serializers.IntegerField()
    twr = serializers.FloatField()


class AttributionSerializer(WindowSerializer):
    by = serializers.ChoiceField(choices=Dimension.choices)
    first_date = serializers.DateField(allow_null=True)
    last_date = serializers.DateField(allow_null=True)
    linking = serializers.CharField()
    pnl = serializers.DecimalField(**TOTAL, help_text="Σ daily P&L of the NAV, flows excluded")
    statistics = StatisticsSerializer()
    rows = SegmentRowSerializer(many=True)


SeriesPointSerializer = type(
    "SeriesPointSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "date": serializers.DateField(),
        "nav": serializers.DecimalField(**TOTAL),
        "pnl": serializers.DecimalField(**TOTAL, help_text="the NAV's daily P&L, flows excluded"),
        "return": serializers.FloatField(help_text="NAV(t) / (NAV(t−1) + flow(t)) − 1"),
        "index": serializers.FloatField(help_text="the TWR index, 1 at the anchor"),
    },
)


class SeriesSerializer(WindowSerializer):
    points = SeriesPointSerializer(many=True)
