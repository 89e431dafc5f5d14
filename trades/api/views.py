"""Thin views over the trades services and selectors (SPEC §10)."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from pms_project.filters import StrictFilterSet
from portfolio import selectors as portfolio_selectors
from portfolio.api.views import (
    PORTFOLIO_PARAM,
    DateRangeFilterSet,
    PortfolioListView,
    portfolio_of,
    schema_only,
    valid,
)

from .. import selectors, services
from ..choices import AuditAction, ProposalSource, ProposalStatus
from ..models import AuditEvent, Signal, TradeProposal
from . import serializers as s

ISO = ["%Y-%m-%d"]
DECISIONS = frozenset({"approve", "reject", "modify_approve"})


class CanDecide(BasePermission):
    """Decisions: users with ``trades.approve_tradeproposal`` (group "approver", superusers)."""

    message = "only approvers (permission trades.approve_tradeproposal) decide proposals"

    def has_permission(self, request, view) -> bool:
        return services.may_decide(request.user)


class ProposalFilter(DateRangeFilterSet):
    status = django_filters.ChoiceFilter(choices=ProposalStatus.choices)
    date = django_filters.DateFilter(input_formats=ISO)
    strategy = django_filters.CharFilter(field_name="strategy__code")
    symbol = django_filters.CharFilter(field_name="instrument__symbol")
    source = django_filters.ChoiceFilter(choices=ProposalSource.choices)

    class Meta:
        model = TradeProposal
        fields = ["status", "date", "strategy", "symbol", "source"]


@extend_schema_view(
    list=extend_schema(parameters=[PORTFOLIO_PARAM]),
    retrieve=extend_schema(parameters=[PORTFOLIO_PARAM]),
    create=extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.ProposalCreateSerializer,
        responses={201: s.TradeProposalSerializer},
    ),
)
class ProposalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Trade proposals of the portfolio, newest first. Traders propose and generate; approvers
    decide (never their own: four-eyes)."""

    serializer_class = s.TradeProposalSerializer
    filterset_class = ProposalFilter
    lookup_value_regex = r"[0-9]{1,18}"

    def get_permissions(self):
        if self.action in DECISIONS:
            return [CanDecide()]
        return super().get_permissions()

    def get_queryset(self):
        if schema_only(self):
            return TradeProposal.objects.none()
        return selectors.proposal_list(portfolio_of(self.request))

    def create(self, request: Request) -> Response:
        data = valid(s.ProposalCreateSerializer, request.data)
        proposal = services.proposal_create(
            portfolio=portfolio_of(request),
            symbol=data["symbol"],
            side=data["side"],
            quantity=data.get("quantity"),
            price=data.get("price"),
            day=data.get("date"),
            strategy_code=data.get("strategy") or None,
            rationale=data.get("rationale", ""),
            user=request.user,
        )
        return Response(s.TradeProposalSerializer(proposal).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.GenerateSerializer,
        responses=s.GenerationResultSerializer,
    )
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        """Signals of the date, then the proposals they size (replacing the day's pending
        generated ones; decided ones are never touched)."""
        data = valid(s.GenerateSerializer, request.data)
        result = services.proposals_generate(
            portfolio=portfolio_of(request),
            day=data.get("date") or portfolio_selectors.today(),
            user=request.user,
        )
        return Response(s.GenerationResultSerializer(result).data)

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.ApproveSerializer,
        responses=s.TradeProposalSerializer,
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        data = valid(s.ApproveSerializer, request.data)
        proposal = services.proposal_approve(
            proposal_id=self.get_object().pk,
            user=request.user,
            note=data.get("note", ""),
            override_reason=data.get("override_reason", ""),
        )
        return Response(s.TradeProposalSerializer(proposal).data)

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.ModifyApproveSerializer,
        responses=s.TradeProposalSerializer,
    )
    @action(detail=True, methods=["post"], url_path="modify-approve")
    def modify_approve(self, request: Request, pk: str) -> Response:
        data = valid(s.ModifyApproveSerializer, request.data)
        proposal = services.proposal_modify_approve(
            proposal_id=self.get_object().pk,
            user=request.user,
            quantity=data.get("quantity"),
            price=data.get("price"),
            note=data.get("note", ""),
            override_reason=data.get("override_reason", ""),
        )
        return Response(s.TradeProposalSerializer(proposal).data)

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.RejectSerializer,
        responses=s.TradeProposalSerializer,
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        data = valid(s.RejectSerializer, request.data)
        proposal = services.proposal_reject(
            proposal_id=self.get_object().pk, user=request.user, reason=data["reason"]
        )
        return Response(s.TradeProposalSerializer(proposal).data)


class SignalFilter(DateRangeFilterSet):
    date = django_filters.DateFilter(input_formats=ISO)
    strategy = django_filters.CharFilter(field_name="strategy__code")
    symbol = django_filters.CharFilter(field_name="instrument__symbol")

    class Meta:
        model = Signal
        fields = ["date", "strategy", "symbol", "generator"]


class SignalListView(generics.ListAPIView):
    """Signals of every generating strategy (not per portfolio), newest first."""

    serializer_class = s.SignalSerializer
    filterset_class = SignalFilter

    def get_queryset(self):
        return selectors.signal_list()


def _at_date(lookup: str) -> django_filters.DateFilter:
    return django_filters.DateFilter(field_name="at__date", lookup_expr=lookup, input_formats=ISO)


# ``from``/``to`` on the event's UTC date; declared by their wire names ("from" is a keyword).
AuditFilter = type(
    "AuditFilter",
    (StrictFilterSet,),
    {
        "__module__": __name__,
        "action": django_filters.ChoiceFilter(choices=AuditAction.choices),
        "actor": django_filters.CharFilter(field_name="actor_name"),
        "from": _at_date("gte"),
        "to": _at_date("lte"),
        "Meta": type("Meta", (), {"model": AuditEvent, "fields": ["action", "actor"]}),
    },
)


class AuditListView(PortfolioListView):
    """The audit trail of the portfolio (and of what belongs to no portfolio, such as intraday
    marks), newest first. Read-only: nobody edits or deletes it."""

    serializer_class = s.AuditEventSerializer
    filterset_class = AuditFilter

    def portfolio_queryset(self, portfolio):
        return selectors.audit_list(portfolio)
