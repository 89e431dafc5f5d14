"""Thin views: validate the input, call a service or selector, serialize the answer."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import book, selectors, services
from ..models import CashFlow, Instrument, NavSnapshot, Portfolio, Position, Price, Strategy
from . import serializers as s

PORTFOLIO_PARAM = OpenApiParameter(
    "portfolio", str, description="portfolio code; optional when there is only one"
)


def portfolio_of(request: Request):
    code = request.query_params.get("portfolio")
    if not code and isinstance(request.data, dict):
        code = request.data.get("portfolio")
    return selectors.portfolio_get(code)


def valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PortfolioViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Portfolios; created by superusers or staff."""

    queryset = Portfolio.objects.all()
    serializer_class = s.PortfolioSerializer
    write_groups = frozenset()
    staff_may_write = True


class StrategyViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Strategy.objects.all()
    serializer_class = s.StrategySerializer
    filterset_fields = ["asset_class", "active"]


class InstrumentViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Instrument.objects.all()
    serializer_class = s.InstrumentSerializer
    filterset_fields = ["asset_class", "currency", "active"]


class PriceFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    start = django_filters.DateFilter(field_name="date", lookup_expr="gte", label="from")
    end = django_filters.DateFilter(field_name="date", lookup_expr="lte", label="to")

    class Meta:
        model = Price
        fields = ["symbol"]

    def __init__(self, data=None, *args, **kwargs):
        # "from" is a Python keyword: accept ?from= / ?to= on the wire.
        if data is not None:
            data = data.copy()
            for wire, name in (("from", "start"), ("to", "end")):
                if wire in data:
                    data[name] = data.pop(wire)[-1] if hasattr(data, "getlist") else data.pop(wire)
        super().__init__(data, *args, **kwargs)

    @property
    def errors(self):
        renamed = {"start": "from", "end": "to"}
        return {renamed.get(k, k): v for k, v in super().errors.items()}


class PriceListLoadView(generics.ListAPIView):
    """GET: closes by ``symbol``, ``from``, ``to``. POST: bulk load ``[{symbol, date, close}]``."""

    queryset = Price.objects.select_related("instrument").order_by("instrument__symbol", "date")
    serializer_class = s.PriceSerializer
    filterset_class = PriceFilter

    @extend_schema(request=s.PriceLoadRowSerializer(many=True), responses={201: dict})
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, list):
            return Response(
                {"prices": ["expected a JSON list of {symbol, date, close}"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = s.PriceLoadRowSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        loaded = services.prices_load(services.PriceRow(**row) for row in serializer.validated_data)
        return Response({"loaded": loaded}, status=status.HTTP_201_CREATED)


class PriceUpdateView(APIView):
    @extend_schema(request=s.PriceUpdateSerializer, responses=s.InstrumentSerializer)
    def post(self, request: Request) -> Response:
        data = valid(s.PriceUpdateSerializer, request.data)
        instrument = services.price_update_intraday(symbol=data["symbol"], price=data["price"])
        return Response(s.InstrumentSerializer(instrument).data)


class BookView(APIView):
    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.BookSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.BookSerializer(book.book_get(portfolio_of(request))).data)


class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.PositionSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        portfolio = portfolio_of(self.request)
        return Position.objects.filter(portfolio=portfolio).select_related(
            "portfolio", "instrument", "strategy"
        )

    def _result(self, execution, position, code=status.HTTP_200_OK) -> Response:
        position.refresh_from_db()
        body = {"execution_id": execution.id, "position": s.PositionSerializer(position).data}
        return Response(body, status=code)

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.PositionOpenSerializer,
        responses={201: s.ExecutionResultSerializer},
    )
    @action(detail=False, methods=["post"])
    def open(self, request: Request) -> Response:
        data = valid(s.PositionOpenSerializer, request.data)
        execution, position = services.position_open(
            portfolio=portfolio_of(request),
            symbol=data["symbol"],
            quantity=data["quantity"],
            price=data["price"],
            trade_date=data["trade_date"],
            strategy_code=data.get("strategy") or None,
            user=request.user,
        )
        return self._result(execution, position, status.HTTP_201_CREATED)

    @extend_schema(request=s.PositionCloseSerializer, responses=s.ExecutionResultSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        position = self.get_object()
        data = valid(s.PositionCloseSerializer, request.data)
        execution, position = services.position_close(
            position_id=position.id,
            price=data["price"],
            quantity=data.get("quantity"),
            trade_date=data["trade_date"],
            user=request.user,
        )
        return self._result(execution, position)


class MarkToMarketView(APIView):
    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.MtmRequestSerializer,
        responses=s.NavSnapshotSerializer,
    )
    def post(self, request: Request) -> Response:
        data = valid(s.MtmRequestSerializer, request.data)
        snapshot = services.mark_to_market(
            portfolio=portfolio_of(request), business_date=data["date"]
        )
        return Response(s.NavSnapshotSerializer(snapshot).data)


class NavFilter(PriceFilter):
    class Meta:
        model = NavSnapshot
        fields = []


NavFilter.base_filters.pop("symbol", None)


class NavView(generics.ListAPIView):
    serializer_class = s.NavSnapshotSerializer
    filterset_class = NavFilter

    def get_queryset(self):
        return NavSnapshot.objects.filter(portfolio=portfolio_of(self.request)).order_by("date")

    @extend_schema(parameters=[PORTFOLIO_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CashFlowViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.CashFlowSerializer

    def get_queryset(self):
        return CashFlow.objects.filter(portfolio=portfolio_of(self.request)).select_related(
            "portfolio"
        )

    def perform_create(self, serializer):
        serializer.instance = services.cash_flow_record(
            portfolio=portfolio_of(self.request),
            date=serializer.validated_data["date"],
            amount=serializer.validated_data["amount"],
            note=serializer.validated_data.get("note", ""),
        )
