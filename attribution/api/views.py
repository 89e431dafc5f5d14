"""Thin views over the attribution reports (SPEC §5, §10)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolio.api.views import PORTFOLIO_PARAM, portfolio_of, valid

from .. import report
from ..choices import Dimension, Period
from . import serializers as s

WINDOW_PARAMS = [
    PORTFOLIO_PARAM,
    OpenApiParameter("period", str, enum=Period.values, description="default MTD"),
    OpenApiParameter("as_of", str, description="YYYY-MM-DD; default the last NAV snapshot"),
    OpenApiParameter("from", str, description="YYYY-MM-DD, included; instead of a period"),
    OpenApiParameter("to", str, description="YYYY-MM-DD, included; instead of a period"),
]


def window_of(request: Request, serializer_class=s.WindowQuerySerializer):
    query = valid(serializer_class, request.query_params)
    portfolio = portfolio_of(request)
    window = report.resolve_window(
        portfolio,
        period=query.get("period"),
        as_of=query.get("as_of"),
        start=query.get("from"),
        end=query.get("to"),
    )
    return portfolio, window, query


class AttributionView(APIView):
    """P&L and Carino-linked contributions by segment over a period, with the TWR and the
    statistics of its daily returns."""

    @extend_schema(
        parameters=[
            *WINDOW_PARAMS,
            OpenApiParameter("by", str, enum=Dimension.values, description="default strategy"),
        ],
        responses=s.AttributionSerializer,
    )
    def get(self, request: Request) -> Response:
        portfolio, window, query = window_of(request, s.AttributionQuerySerializer)
        result = report.attribution_by(portfolio, window, query.get("by") or Dimension.STRATEGY)
        return Response(s.AttributionSerializer(result).data)


class SeriesView(APIView):
    """The daily returns, NAV and TWR index of a period, for charts."""

    @extend_schema(parameters=WINDOW_PARAMS, responses=s.SeriesSerializer)
    def get(self, request: Request) -> Response:
        portfolio, window, _ = window_of(request)
        return Response(s.SeriesSerializer(report.series(portfolio, window)).data)
