"""Thin views over the morning packs (SPEC §6, §10)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from pms_project.commands import parse_iso_date
from pms_project.errors import PMSError
from portfolio import selectors as portfolio_selectors
from portfolio.api.views import PORTFOLIO_PARAM, portfolio_of, valid

from .. import selectors, services
from . import serializers as s


class LatestPackView(APIView):
    """The latest morning pack generated for the portfolio."""

    @extend_schema(parameters=[PORTFOLIO_PARAM], responses=s.MorningPackSerializer)
    def get(self, request: Request) -> Response:
        return Response(s.pack_data(selectors.pack_latest(portfolio_of(request))))


class PackOfDateView(APIView):
    """The morning pack of one business date."""

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
        return Response(s.pack_data(selectors.pack_get(portfolio_of(request), date)))


class GeneratePackView(APIView):
    """Generate (or regenerate) the morning pack of a business date from the close before it."""

    @extend_schema(
        parameters=[PORTFOLIO_PARAM],
        request=s.GenerateSerializer,
        responses={201: s.MorningPackSerializer},
    )
    def post(self, request: Request) -> Response:
        data = valid(s.GenerateSerializer, request.data)
        pack = services.morning_pack_generate(
            portfolio=portfolio_of(request),
            business_date=data.get("date") or portfolio_selectors.today(),
            user=request.user,
        )
        return Response(s.pack_data(pack), status=status.HTTP_201_CREATED)
