"""Pagination of every list endpoint: ``?limit=`` and ``?offset=``, strictly validated.

DRF's LimitOffsetPagination silently ignores a malformed ``limit`` and passes any ``offset`` to
the database (``?offset=9223372036854775808`` is a "bigint out of range" 500). Here both must be
integers in range, or the answer is a 400 naming the parameter; the schema states the ranges.
"""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

from .errors import PMSError

MAX_LIMIT = 10_000
MAX_OFFSET = 10**9


def _int_param(request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise PMSError(f"must be a whole number from {low} to {high:,}", field=name)
    value = int(raw)
    if not low <= value <= high:
        raise PMSError(f"must be a whole number from {low} to {high:,}", field=name)
    return value


class StrictLimitOffsetPagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request) -> int:
        return _int_param(
            request, self.limit_query_param, default=self.default_limit, low=1, high=MAX_LIMIT
        )

    def get_offset(self, request) -> int:
        return _int_param(request, self.offset_query_param, default=0, low=0, high=MAX_OFFSET)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_LIMIT},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
