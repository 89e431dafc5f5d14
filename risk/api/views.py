"""Thin views over the risk services and reports (SPEC §10)."""

from __future__ import annotations

import django_filters
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pms_project.cache_hits import CachedView
from portfolio.api.views import (
    PORTFOLIO_PARAM,
    DateRangeFilterSet,
    PortfolioListView,
    portfolio_of,
    schema_only,
    valid,
)

from .. import pretrade, report, selectors, services
from ..choices import Metric
from ..models import Alert, RiskLimit, RiskSnapshot
from . import serializers as s

RISK_GROUPS = frozenset({"risk"})


class LiveRiskView(CachedView):
    """Risk now: VaR and ES, exposures, drawdown and every limit at the book's latest marks."""

    cache_namespace = "risk"

    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.LiveRiskSerializer)
    def get(self, request: Request) -> HttpResponse:
        portfolio = portfolio_of(request)
        return self.cached_response(portfolio.pk, {}, lambda: live_body(portfolio)[1])


def live_body(portfolio) -> tuple[dict, bytes]:
    """(cache parameters, body) of the live risk: the portfolio is the whole key."""
    data = s.LiveRiskSerializer(services.risk_live(portfolio)).data
    return {}, JSONRenderer().render(data)


class RiskHistoryFilter(DateRangeFilterSet):
    class Meta:
        model = RiskSnapshot
        fields = []


class RiskHistoryView(PortfolioListView):
    """The EOD risk snapshots (``from``, ``to``), oldest first."""

    serializer_class = s.RiskSnapshotSerializer
    filterset_class = RiskHistoryFilter

    def portfolio_queryset(self, portfolio):
        return selectors.snapshot_list(portfolio)


@extend_schema_view(
    list=extend_schema(parameters=[PORTFOLIO_PARAM]),
    create=extend_schema(parameters=[PORTFOLIO_PARAM]),
    retrieve=extend_schema(parameters=[PORTFOLIO_PARAM]),
    partial_update=extend_schema(parameters=[PORTFOLIO_PARAM], request=s.RiskLimitUpdateSerializer),
    destroy=extend_schema(parameters=[PORTFOLIO_PARAM]),
)
class RiskLimitViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Limits of the portfolio; the "risk" group (and superusers) create, change and delete."""

    serializer_class = s.RiskLimitSerializer
    write_groups = RISK_GROUPS
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_fields = ["metric"]

    def get_queryset(self):
        if schema_only(self):
            return RiskLimit.objects.none()
        return RiskLimit.objects.filter(portfolio=portfolio_of(self.request)).select_related(
            "portfolio"
        )

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.risk_limit_create(
            portfolio=portfolio_of(self.request),
            metric=data["metric"],
            soft=data["soft"],
            hard=data["hard"],
        )

    def partial_update(self, request: Request, pk: str) -> Response:
        limit = self.get_object()
        data = valid(s.RiskLimitUpdateSerializer, request.data)
        limit = services.risk_limit_update(
            limit=limit, soft=data.get("soft"), hard=data.get("hard")
        )
        return Response(s.RiskLimitSerializer(limit).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.risk_limit_delete(limit=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class StressView(APIView):
    """Named shock scenarios and the worst historical windows on today's exposures."""

    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.StressReportSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.StressReportSerializer(report.stress_report(portfolio_of(request))).data)


class AlertFilter(DateRangeFilterSet):
    metric = django_filters.ChoiceFilter(choices=Metric.choices)

    class Meta:
        model = Alert
        fields = ["metric"]


class AlertListView(PortfolioListView):
    """Limit breaches, newest first: one per limit per business day."""

    serializer_class = s.AlertSerializer
    filterset_class = AlertFilter

    def portfolio_queryset(self, portfolio):
        return selectors.alert_list(portfolio)


class PretradeView(APIView):
    """VaR 99 and every limit before and after a hypothetical trade; writes nothing."""

    write_groups = frozenset({"trader", "approver", "risk"})

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.PretradeRequestSerializer,
        responses=s.PretradeImpactSerializer,
    )
    def post(self, request: Request) -> Response:
        data = valid(s.PretradeRequestSerializer, request.data)
        impact = pretrade.pretrade_impact(
            portfolio=portfolio_of(request),
            symbol=data["symbol"],
            quantity=data["quantity"],
            price=data["price"],
            strategy=data.get("strategy") or None,
        )
        return Response(s.PretradeImpactSerializer(impact).data)
