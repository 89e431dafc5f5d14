"""Thin views over the attribution reports (SPEC §5, §10)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from pms_project.cache_hits import CachedView
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


class AttributionView(CachedView):
    """P&L and Carino-linked contributions by segment over a period, with the TWR and the
    statistics of its daily returns."""

    cache_namespace = "attribution"

    @extend_schema(
        parameters=[
            *WINDOW_PARAMS,
            OpenApiParameter("by", str, enum=Dimension.values, description="default strategy"),
        ],
        responses=s.AttributionSerializer,
    )
    def get(self, request: Request) -> HttpResponse:
        query = valid(s.AttributionQuerySerializer, request.query_params)
        portfolio = portfolio_of(request)
        params = cache_params(query, by=query.get("by") or Dimension.STRATEGY)
        return self.cached_response(
            portfolio.pk, params, lambda: attribution_body(portfolio, params)[1]
        )


class SeriesView(CachedView):
    """The daily returns, NAV and TWR index of a period, for charts."""

    cache_namespace = "attribution"

    @extend_schema(parameters=WINDOW_PARAMS, responses=s.SeriesSerializer)
    def get(self, request: Request) -> HttpResponse:
        query = valid(s.WindowQuerySerializer, request.query_params)
        portfolio = portfolio_of(request)
        params = cache_params(query, series=True)
        return self.cached_response(portfolio.pk, params, lambda: series_body(portfolio, params)[1])


def cache_params(query: dict, **extra) -> dict:
    """The validated parameters, defaults applied: ``?period=MTD`` and no period share a key."""
    custom = query.get("from") is not None or query.get("to") is not None
    return {
        "period": query.get("period") or (None if custom else Period.MTD),
        "as_of": query.get("as_of"),
        "from": query.get("from"),
        "to": query.get("to"),
        **extra,
    }


def _window(portfolio, params: dict):
    return report.resolve_window(
        portfolio,
        period=params["period"],
        as_of=params["as_of"],
        start=params["from"],
        end=params["to"],
    )


def attribution_body(portfolio, params: dict) -> tuple[dict, bytes]:
    result = report.attribution_by(portfolio, _window(portfolio, params), params["by"])
    return params, JSONRenderer().render(s.AttributionSerializer(result).data)


def series_body(portfolio, params: dict) -> tuple[dict, bytes]:
    result = report.series(portfolio, _window(portfolio, params))
    return params, JSONRenderer().render(s.SeriesSerializer(result).data)


def warm_attribution(portfolio) -> tuple[dict, bytes]:
    """The default request (MTD by strategy as of the last NAV snapshot), for cache_warm."""
    return attribution_body(portfolio, cache_params({}, by=Dimension.STRATEGY))
