"""Domain errors shared by every app, and how the API answers them.

Services raise these; views and commands never build error bodies by hand. Each error names the
field (or the input) at fault so a client can show it next to what the user typed.

Every answer under ``/api/`` is JSON, errors included: DRF's exception handler covers the views,
and the ``handler400/403/404/500`` functions below cover what happens before or outside them
(an unknown URL, a suspicious request, a crash).
"""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .exceptions import PayloadTooLarge

logger = logging.getLogger(__name__)

# A request that lost its database connection (PostgreSQL restarted, the backend terminated, a
# network cut) or met a transient error (deadlock, serialization): its transaction was rolled
# back, the next request reconnects (CONN_HEALTH_CHECKS), so the client may retry at once.
RETRY_AFTER_SECONDS = 1


class PMSError(Exception):
    """A rule of the desk was broken by the request; nothing was written."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


class MissingMarketDataError(PMSError):
    """A close or an FX rate the calculation needs is not in the database."""


class ConflictError(PMSError):
    status_code = status.HTTP_409_CONFLICT


class ForbiddenError(PMSError):
    """The user may not do this (a desk rule such as four-eyes, not a missing login)."""

    status_code = status.HTTP_403_FORBIDDEN


class NotFoundError(PMSError):
    status_code = status.HTTP_404_NOT_FOUND


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PMSError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, IntegrityError):
        # A unique constraint lost a race with a concurrent request: a conflict, never a 500.
        return Response(
            {"non_field_errors": ["conflicting concurrent change; retry"]},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": PayloadTooLarge.default_detail}, status=413)
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return Response(
            {"detail": "the database is unavailable; retry"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return exception_handler(exc, context)


# --- Errors outside DRF's views (wired in pms_project/urls.py) -------------------------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def json_bad_request(request, exception=None):
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": PayloadTooLarge.default_detail}, status=413)
        detail = "bad request"
        if isinstance(exception, SuspiciousOperation):
            detail = f"bad request: {exception}"
        return JsonResponse({"detail": detail}, status=400)
    return defaults.bad_request(request, exception)


def json_permission_denied(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "you do not have permission"}, status=403)
    return defaults.permission_denied(request, exception)


def json_page_not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": f"no such endpoint: {request.path}"}, status=404)
    return defaults.page_not_found(request, exception)


def json_server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "server error; it has been logged"}, status=500)
    return defaults.server_error(request)
