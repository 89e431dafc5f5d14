"""Guards in front of every API view, for what no serializer ever sees.

- A body larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 JSON answer before anything reads
  it (the JSON parser enforces the same limit on bodies sent without a Content-Length).
- A query parameter (name or value) with a control character — ``?portfolio=%00`` — is a 400
  naming the parameter. PostgreSQL cannot store a NUL, and no code or date contains one.
- An error answer under ``/api/`` that is not JSON (Django's own pages, the DEBUG ones included)
  becomes ``{"detail": reason}`` with the same status.
- A cookie with a control character (``sessionid="\\000"``) is dropped, on every path, before
  the session or CSRF middleware looks it up in the database.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse

from .exceptions import PayloadTooLarge
from .validators import control_characters


class ApiInputGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name in [n for n, v in request.COOKIES.items() if control_characters(n + v)]:
            del request.COOKIES[name]
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        refused = self._refuse(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
            # An error rendered by Django itself (with DEBUG on, its technical 404 and 500 pages
            # bypass urls.handler404/500): the API answers JSON all the same.
            return JsonResponse(
                {"detail": response.reason_phrase or "error"}, status=response.status_code
            )
        return response

    @staticmethod
    def _refuse(request) -> JsonResponse | None:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number"}, status=400)
        if limit is not None and length > limit:
            return JsonResponse(
                {"detail": f"{PayloadTooLarge.default_detail} (at most {limit:,} bytes)"},
                status=413,
            )
        errors = {}
        for name, values in request.GET.lists():
            if control_characters(name):
                errors["<parameter>"] = ["a parameter name must not contain control characters"]
            elif any(control_characters(value) for value in values):
                errors[name] = ["must not contain control characters"]
        if errors:
            return JsonResponse(errors, status=400)
        return None
