"""Domain errors shared by every app, and how the API answers them.

Services raise these; views and commands never build error bodies by hand. Each error names the
field (or the input) at fault so a client can show it next to what the user typed.
"""

from __future__ import annotations

from django.db import IntegrityError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


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


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PMSError):
        return Response(exc.as_dict(), status=exc.status_code)
    if isinstance(exc, IntegrityError):
        # A unique constraint lost a race with a concurrent request: a conflict, never a 500.
        return Response(
            {"non_field_errors": ["conflicting concurrent change; retry"]},
            status=status.HTTP_409_CONFLICT,
        )
    return exception_handler(exc, context)
