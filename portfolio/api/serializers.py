from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from pms_project.serializers import ModelSerializer, StrictCharField, StrictSlugRelatedField

from ..models import (
    CashFlow,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    Price,
    Strategy,
    validate_generator,
)

QTY = {"max_digits": 24, "decimal_places": 8}
PRICE = {"max_digits": 24, "decimal_places": 10}
MONEY = {"max_digits": 28, "decimal_places": 8}


class PortfolioSerializer(ModelSerializer):
    class Meta:
        model = Portfolio
        fields = [
            "id",
            "code",
            "name",
            "base_currency",
            "inception_date",
            "initial_capital",
            "calendar",
        ]


class StrategySerializer(ModelSerializer):
    generator = StrictCharField(
        max_length=40,
        required=False,
        allow_blank=True,
        help_text="a registered signal generator (momentum, mean_reversion, …); blank: manual",
    )
    instruments = StrictSlugRelatedField(
        slug_field="symbol",
        many=True,
        required=False,
        queryset=Instrument.objects.all(),
        help_text="symbols the generator trades (the active ones); none: every active "
        "instrument of the strategy's asset class (or every active instrument without one)",
    )

    class Meta:
        model = Strategy
        fields = [
            "id",
            "code",
            "name",
            "asset_class",
            "active",
            "risk_budget",
            "generator",
            "instruments",
        ]

    def validate_generator(self, value: str) -> str:
        try:
            validate_generator(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict["generator"]) from exc
        return value


class StrategyUpdateSerializer(StrategySerializer):
    class Meta(StrategySerializer.Meta):
        read_only_fields = ["code"]


class InstrumentSerializer(ModelSerializer):
    class Meta:
        model = Instrument
        fields = [
            "id",
            "symbol",
            "name",
            "asset_class",
            "currency",
            "multiplier",
            "active",
            "calendar",
            "last_price",
            "last_price_at",
        ]
        read_only_fields = ["last_price", "last_price_at"]

    def validate_multiplier(self, value):
        if value <= 0:
            raise serializers.ValidationError("must be greater than zero")
        return value


class PriceSerializer(ModelSerializer):
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)

    class Meta:
        model = Price
        fields = ["symbol", "date", "close"]


class PriceLoadRowSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=30)
    date = serializers.DateField()
    close = serializers.DecimalField(**PRICE)


class PriceUpdateSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=30)
    price = serializers.DecimalField(**PRICE)


class PositionSerializer(ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    symbol = serializers.CharField(source="instrument.symbol", read_only=True)
    strategy = serializers.CharField(source="strategy.code", read_only=True)

    class Meta:
        model = Position
        fields = [
            "id",
            "portfolio",
            "symbol",
            "strategy",
            "quantity",
            "avg_cost",
            "realized_pnl",
            "status",
            "opened_date",
            "closed_date",
        ]


class PositionOpenSerializer(serializers.Serializer):
    symbol = StrictCharField(max_length=30)
    quantity = serializers.DecimalField(**QTY, help_text="signed: + buys, − sells")
    price = serializers.DecimalField(**PRICE)
    strategy = StrictCharField(
        max_length=30, required=False, allow_blank=True, help_text="default MANUAL"
    )
    trade_date = serializers.DateField()


class PositionCloseSerializer(serializers.Serializer):
    price = serializers.DecimalField(**PRICE)
    quantity = serializers.DecimalField(
        **QTY, required=False, help_text="unsigned; omit to close everything"
    )
    trade_date = serializers.DateField()


class ExecutionResultSerializer(serializers.Serializer):
    execution_id = serializers.IntegerField()
    position = PositionSerializer()


class MtmRequestSerializer(serializers.Serializer):
    date = serializers.DateField()


class NavSnapshotSerializer(ModelSerializer):
    class Meta:
        model = NavSnapshot
        fields = ["date", "nav", "daily_pnl", "flow", "daily_return"]


class CashFlowSerializer(ModelSerializer):
    portfolio = serializers.CharField(source="portfolio.code", read_only=True)
    amount = serializers.DecimalField(**MONEY, help_text="+ subscription, − redemption")

    class Meta:
        model = CashFlow
        fields = ["id", "portfolio", "date", "amount", "note"]


class BookPositionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    asset_class = serializers.CharField()
    currency = serializers.CharField()
    strategy = serializers.CharField()
    quantity = serializers.DecimalField(**QTY)
    avg_cost = serializers.DecimalField(max_digits=28, decimal_places=12)
    price = serializers.DecimalField(**PRICE)
    price_date = serializers.DateField(help_text="the date of the mark (or of the execution)")
    price_source = serializers.ChoiceField(
        choices=["close", "intraday", "execution"],
        help_text="execution: the sleeve's last execution price (no close or intraday mark yet)",
    )
    mark_age_days = serializers.IntegerField(help_text="calendar days from price_date to today")
    stale = serializers.BooleanField(
        help_text="the mark is dated before the previous session of today on the instrument's "
        "calendar"
    )
    carried = serializers.BooleanField(
        help_text="the mark is a close carried over days its market was closed (its calendar): "
        "the book's as-of date is one of them"
    )
    fx = serializers.DecimalField(max_digits=24, decimal_places=12)
    exposure = serializers.DecimalField(**MONEY)
    unrealized = serializers.DecimalField(**MONEY)
    realized_pnl = serializers.DecimalField(**MONEY)
    daily_pnl = serializers.DecimalField(**MONEY)
    opened_date = serializers.DateField(allow_null=True)


class BookUnvaluedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    strategy = serializers.CharField()
    quantity = serializers.DecimalField(**QTY)
    reason = serializers.CharField()


# The book's totals sum rows that each fit NUMERIC(28, 8): 12 more digits of headroom.
BOOK_TOTAL = {"max_digits": 40, "decimal_places": 8}

# "1D" is no Python name: the fields are declared by their wire names.
BookPnlSerializer = type(
    "BookPnlSerializer",
    (serializers.Serializer,),
    {
        "__module__": __name__,
        "1D": serializers.DecimalField(**BOOK_TOTAL),
        "MTD": serializers.DecimalField(**BOOK_TOTAL),
        "YTD": serializers.DecimalField(**BOOK_TOTAL),
    },
)


class BookSerializer(serializers.Serializer):
    portfolio = serializers.CharField()
    base_currency = serializers.CharField()
    as_of = serializers.DateField()
    complete = serializers.BooleanField(help_text="false when some position is unvalued")
    nav = serializers.DecimalField(**BOOK_TOTAL)
    gross_exposure = serializers.DecimalField(**BOOK_TOTAL)
    net_exposure = serializers.DecimalField(**BOOK_TOTAL)
    leverage = serializers.FloatField(allow_null=True, help_text="gross / NAV; null when NAV is 0")
    exposure_by_asset_class = serializers.DictField(
        child=serializers.DecimalField(**BOOK_TOTAL), help_text="net exposure by asset class"
    )
    gross_exposure_by_asset_class = serializers.DictField(
        child=serializers.DecimalField(**BOOK_TOTAL), help_text="Σ |exposure| by asset class"
    )
    exposure_by_currency = serializers.DictField(child=serializers.DecimalField(**BOOK_TOTAL))
    pnl = BookPnlSerializer()
    positions = BookPositionSerializer(many=True)
    unvalued = BookUnvaluedSerializer(many=True, help_text="open positions that cannot be valued")
