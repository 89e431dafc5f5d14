"""Thin views over the morning packs (SPEC §6, §10)."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pms_project.cache_hits import CachedView
from pms_project.commands import parse_iso_date
from pms_project.errors import PMSError
from portfolio import selectors as portfolio_selectors
from portfolio.api.views import PORTFOLIO_PARAM, portfolio_of, valid

from .. import selectors, services
from . import serializers as s

LATEST = {"latest": True}


def _render(pack) -> bytes:
    return JSONRenderer().render(s.pack_data(pack))


def latest_body(portfolio) -> tuple[dict, bytes]:
    """(cache parameters, body) of the latest pack, for the view and cache_warm."""
    return LATEST, _render(selectors.pack_latest(portfolio))


class LatestPackView(CachedView):
    """The latest morning pack generated for the portfolio."""

    cache_namespace = "briefing"

    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.MorningPackSerializer)
    def get(self, request: Request) -> HttpResponse:
        portfolio = portfolio_of(request)
        return self.cached_response(portfolio.pk, LATEST, lambda: latest_body(portfolio)[1])


class PackOfDateView(CachedView):
    """The morning pack of one business date."""

    cache_namespace = "briefing"

    @extend_schema(
        parameters=[
            PORTFOLIO_PARAM,
            OpenApiParameter("day", str, OpenApiParameter.PATH, description="YYYY-MM-DD"),
        ],
        responses=s.MorningPackSerializer,
    )
    def get(self, request: Request, day: str) -> Response:
        date = parse_iso_date(day)
        if date is None:
            raise PMSError(f"{day!r} is not a date (YYYY-MM-DD)", field="date")
        portfolio = portfolio_of(request)
        return self.cached_response(
            portfolio.pk,
            {"date": date.isoformat()},
            lambda: _render(selectors.pack_get(portfolio, date)),
        )


class GeneratePackView(APIView):
    """Generate (or regenerate) the morning pack of a business date from the close before it."""

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.PackGenerateSerializer,
        responses={201: s.MorningPackSerializer},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.PackGenerateSerializer, request.data)
        pack = services.morning_pack_generate(
            portfolio=portfolio_of(request),
            business_date=data.get("date") or portfolio_selectors.today(),
            user=request.user,
        )
        return Response(s.pack_data(pack), status=status.HTTP_201_CREATED)
