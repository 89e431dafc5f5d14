"""Request parsers (kept apart from errors.py, which DRF's settings import while loading)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding


class _NonFinite(str):
    """A NaN / Infinity / -Infinity token read from a JSON body (never leaves the parser)."""


def _non_finite_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, _NonFinite):
        yield path or "non_field_errors"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite_paths(item, f"{path}[{index}]")


class FiniteJSONParser(JSONParser):
    """JSON parser that answers a raw ``NaN`` / ``Infinity`` token with a 400 naming its field.

    Such tokens are not JSON, but Python's json module (and pandas) write them. DRF's strict
    parser rejects them with a parse error that names nothing; this one names the field, e.g.
    ``{"price": [...]}``, or ``{"prices[2].close": [...]}`` for a view whose ``body_name`` is
    ``prices`` and whose body is a list.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        try:
            reader = codecs.getreader(get_encoding(parser_context))(stream)
            data = json.load(reader, parse_constant=_NonFinite)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        prefix = ""
        if isinstance(data, list):
            prefix = getattr(parser_context.get("view"), "body_name", "")
        bad = list(_non_finite_paths(data, prefix))
        if bad:
            raise ValidationError({path: ["must be a finite number"] for path in bad})
        return data
