"""Thin views: validate the input, call a service or selector, serialize the answer."""

from __future__ import annotations

import django_filters
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pms_project.cache_hits import CachedView
from pms_project.errors import PMSError
from pms_project.filters import StrictFilterSet

from .. import selectors, services
from ..book_json import book_json
from ..models import CashFlow, Instrument, NavSnapshot, Portfolio, Position, Price, Strategy
from . import serializers as s

PORTFOLIO_PARAM = OpenApiParameter(
    "portfolio", str, description="portfolio code; optional when there is only one"
)


def portfolio_of(request: Request):
    """The portfolio of ``?portfolio=CODE`` (or a ``portfolio`` key in a JSON object body),
    among those the user's grants allow (403 naming ``portfolio`` for another one)."""
    code = request.query_params.get("portfolio")
    if not code and isinstance(request.data, dict):
        code = request.data.get("portfolio")
    if code is not None and not isinstance(code, str):
        raise PMSError("a portfolio code is a string", field="portfolio")
    return selectors.portfolio_get(code, request.user)


def schema_only(view) -> bool:
    """drf-spectacular inspects querysets with no request portfolio: give it the model only."""
    return getattr(view, "swagger_fake_view", False)


class PortfolioListView(generics.ListAPIView):
    """The rows of the portfolio named by ``?portfolio=CODE``: subclasses give the queryset."""

    def portfolio_queryset(self, portfolio: Portfolio):
        raise NotImplementedError

    def get_queryset(self):
        if schema_only(self):
            return self.serializer_class.Meta.model.objects.none()
        return self.portfolio_queryset(portfolio_of(self.request))

    @extend_schema(parameters=[PORTFOLIO_PARAM])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PortfolioViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Portfolios (those the user's grants allow); created by superusers or staff."""

    serializer_class = s.PortfolioSerializer
    write_groups = frozenset()
    staff_may_write = True

    def get_queryset(self):
        if schema_only(self):
            return Portfolio.objects.all()
        return selectors.portfolios_visible_to(self.request.user)


@extend_schema_view(partial_update=extend_schema(request=s.StrategyUpdateSerializer))
class StrategyViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Strategies; PATCH changes one's name, asset class, risk budget, signal generator or
    instruments (its code, which positions and proposals name, stays)."""

    queryset = Strategy.objects.prefetch_related("instruments")
    serializer_class = s.StrategySerializer
    filterset_fields = ["asset_class", "active"]
    lookup_value_regex = r"[0-9]{1,18}"

    def partial_update(self, request: Request, pk: str) -> Response:
        serializer = s.StrategyUpdateSerializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(s.StrategySerializer(serializer.instance).data)


class InstrumentViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    queryset = Instrument.objects.all()
    serializer_class = s.InstrumentSerializer
    filterset_fields = ["asset_class", "currency", "active"]


# ``?from=`` / ``?to=``: "from" is a Python keyword, so the filters are declared by name. Declared
# under their wire names, their errors name them and the OpenAPI schema documents them.
DateRangeFilterSet = type(
    "DateRangeFilterSet",
    (StrictFilterSet,),
    {
        "__module__": __name__,
        # ISO dates only, as in request bodies: "04/03/2024" is ambiguous, not April 3rd.
        "from": django_filters.DateFilter(
            field_name="date", lookup_expr="gte", input_formats=["%Y-%m-%d"]
        ),
        "to": django_filters.DateFilter(
            field_name="date", lookup_expr="lte", input_formats=["%Y-%m-%d"]
        ),
    },
)


class PriceFilter(DateRangeFilterSet):
    symbol = django_filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = Price
        fields = ["symbol"]


def row_errors(errors) -> dict:
    """A bulk load's row errors keyed ``prices[i].field``, as the price services name them."""
    rows = errors.items() if isinstance(errors, dict) else enumerate(errors)
    flat = {}
    for index, row in rows:
        if not str(index).isdigit():  # about the whole list
            flat["prices"] = row
        elif isinstance(row, dict):
            for field, messages in row.items():
                key = f"prices[{index}]"  # a row that is not an object names the row itself
                flat[key if field == "non_field_errors" else f"{key}.{field}"] = messages
        elif row:  # a row that is not an object at all, e.g. null
            flat[f"prices[{index}]"] = row
    return flat


class PriceListLoadView(generics.ListAPIView):
    """GET: closes by ``symbol``, ``from``, ``to``. POST: bulk load ``[{symbol, date, close}]``."""

    body_name = "prices"  # names a bad row prices[i].field
    queryset = Price.objects.select_related("instrument").order_by("instrument__symbol", "date")
    serializer_class = s.PriceSerializer
    filterset_class = PriceFilter

    @extend_schema(
        request=s.PriceLoadRowSerializer(many=True),
        responses={201: inline_serializer("PricesLoaded", {"loaded": serializers.IntegerField()})},
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, list):
            return Response(
                {"prices": ["expected a JSON list of {symbol, date, close}"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = s.PriceLoadRowSerializer(data=request.data, many=True)
        if not serializer.is_valid():
            return Response(row_errors(serializer.errors), status=status.HTTP_400_BAD_REQUEST)
        loaded = services.prices_load(
            (services.PriceRow(**row) for row in serializer.validated_data), user=request.user
        )
        return Response({"loaded": loaded}, status=status.HTTP_201_CREATED)


class PriceUpdateView(APIView):
    @extend_schema(request=s.PriceUpdateSerializer, responses=s.InstrumentSerializer)
    def post(self, request: Request) -> Response:
        data = valid(s.PriceUpdateSerializer, request.data)
        instrument = services.price_update_intraday(
            symbol=data["symbol"], price=data["price"], user=request.user
        )
        return Response(s.InstrumentSerializer(instrument).data)


# The book's bytes come straight from book_json: DRF's field-by-field rendering of thousands of
# rows costs more than the book itself. BookSerializer still documents the answer (a docstring
# here would become the operation's description), and book_json renders what it would: its
# fields drive the rendering.
def book_body(portfolio: Portfolio) -> tuple[dict, bytes]:
    """(cache parameters, body) of the book: the portfolio is the whole key."""
    return {}, book_json(portfolio)


class BookView(CachedView):
    cache_namespace = "book"

    # Cached (SPEC §7): the JSON bytes are built once and a hit answers them as stored.
    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.BookSerializer)
    def get(self, request: Request) -> HttpResponse:
        portfolio = portfolio_of(request)
        return self.cached_response(portfolio.pk, {}, lambda: book_body(portfolio)[1])


@extend_schema_view(
    list=extend_schema(parameters=[PORTFOLIO_PARAM]),
    retrieve=extend_schema(parameters=[PORTFOLIO_PARAM]),
)
class PositionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.PositionSerializer
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_fields = ["status"]

    def get_queryset(self):
        if schema_only(self):
            return Position.objects.none()
        portfolio = portfolio_of(self.request)
        return Position.objects.filter(portfolio=portfolio).select_related(
            "portfolio", "instrument", "strategy"
        )

    def _result(self, execution, position, code=status.HTTP_200_OK) -> Response:
        """The answer to a booking, read in the booking's transaction: a connection lost while
        reading it (the position and its relations are loaded again) then undoes the booking
        too, rather than answering 500 for a booking that stays (a client would book it twice
        on retry)."""
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
        with transaction.atomic():  # see _result
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

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.PositionCloseSerializer,
        responses=s.ExecutionResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        position = self.get_object()
        data = valid(s.PositionCloseSerializer, request.data)
        with transaction.atomic():  # see _result
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
            portfolio=portfolio_of(request), business_date=data["date"], user=request.user
        )
        return Response(s.NavSnapshotSerializer(snapshot).data)


class NavFilter(DateRangeFilterSet):
    class Meta:
        model = NavSnapshot
        fields = []


class NavView(PortfolioListView):
    serializer_class = s.NavSnapshotSerializer
    filterset_class = NavFilter

    def portfolio_queryset(self, portfolio):
        return NavSnapshot.objects.filter(portfolio=portfolio).order_by("date")


@extend_schema_view(
    list=extend_schema(parameters=[PORTFOLIO_PARAM]),
    create=extend_schema(parameters=[PORTFOLIO_PARAM]),
)
class CashFlowViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.CashFlowSerializer

    def get_queryset(self):
        if schema_only(self):
            return CashFlow.objects.none()
        return CashFlow.objects.filter(portfolio=portfolio_of(self.request)).select_related(
            "portfolio"
        )

    def perform_create(self, serializer):
        serializer.instance = services.cash_flow_record(
            portfolio=portfolio_of(self.request),
            date=serializer.validated_data["date"],
            amount=serializer.validated_data["amount"],
            note=serializer.validated_data.get("note", ""),
            user=self.request.user,
        )
