"""The pages for people (SPEC §6): the printable morning pack and the desk dashboard at ``/``.

Server-rendered, login required (anonymous users are sent to the login), any desk role may read;
every number comes from the stored pack or from the owning apps' reports, formatted for reading
by the ``desk`` template filters. Charts are inline SVG (``charts``): no external asset."""

from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from pms_project.commands import parse_iso_date
from pms_project.errors import PMSError
from pms_project.permissions import may_read
from portfolio import selectors as portfolio_selectors
from portfolio.book import book_get
from risk import report as risk_report

from . import report, selectors

logger = logging.getLogger(__name__)


def _reader(request: HttpRequest) -> None:
    if not may_read(request.user):
        raise PermissionDenied("your role does not allow reading the desk's pages")


def _message(request: HttpRequest, exc: PMSError, title: str) -> HttpResponse:
    return render(
        request,
        "briefing/message.html",
        {"title": title, "message": exc.message, "field": exc.field},
        status=exc.status_code,
    )


@require_safe
@login_required
def pack_page(request: HttpRequest, day: str | None = None) -> HttpResponse:
    """The morning pack of ``day`` (default: the latest), one printed page per section."""
    _reader(request)
    try:
        portfolio = portfolio_selectors.portfolio_get(
            request.GET.get("portfolio") or None, request.user
        )
        if day is None:
            pack = selectors.pack_latest(portfolio)
        else:
            date = parse_iso_date(day)
            if date is None:
                raise PMSError(f"{day!r} is not a date (YYYY-MM-DD)", field="date")
            pack = selectors.pack_get(portfolio, date)
    except PMSError as exc:
        return _message(request, exc, "Morning pack")
    from . import charts  # matplotlib: loaded by the first page, not by every process start

    return render(
        request,
        "briefing/pack.html",
        {
            "pack": pack.content,
            "charts": charts.pack_charts(pack.content),
            "generated_at": pack.generated_at,
            "generated_by": pack.generated_by,
            "portfolio_code": portfolio.code,
        },
    )


@require_safe
@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Book summary, live risk and limits, pending proposals, the latest pack and the alerts. A
    section that cannot be computed (no marks yet, say) shows why; the others still answer."""
    _reader(request)
    try:
        portfolio = portfolio_selectors.portfolio_get(
            request.GET.get("portfolio") or None, request.user
        )
    except PMSError as exc:
        return _message(request, exc, "Desk dashboard")
    today = portfolio_selectors.today()
    errors: dict[str, str] = {}

    def section(name: str, compute):
        try:
            return compute()
        except PMSError as exc:
            errors[name] = exc.message
            return None

    book = section("book", lambda: book_get(portfolio))
    risk = section("risk", lambda: risk_report.risk_live(portfolio))
    pack = selectors.pack_latest_or_none(portfolio)
    from . import charts  # matplotlib: loaded by the first page, not by every process start

    return render(
        request,
        "briefing/dashboard.html",
        {
            "portfolio_code": portfolio.code,
            "book": book,
            "risk": risk,
            "proposals": report.proposals(portfolio, today),
            "pending_url": reverse("admin:trades_tradeproposal_changelist")
            + "?status__exact=pending",
            "pack": pack.content if pack else None,
            "pack_url": reverse("briefing-page", args=[pack.date.isoformat()]) if pack else None,
            "alerts": report.recent_alerts(portfolio),
            "charts": charts.dashboard_charts(risk) if risk else {},
            "errors": errors,
        },
    )
