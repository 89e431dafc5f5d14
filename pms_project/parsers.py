"""Request parsers (kept apart from errors.py, which DRF's settings import while loading).

The API reads JSON only. A body is refused before any view sees it when it is too large (413),
nested too deeply, or holds a value the database cannot store or the desk never means: a raw
``NaN`` / ``Infinity`` token, a NUL or other control character inside a key, a lone UTF-16
surrogate. Each refusal is a 400 naming the field, e.g. ``{"prices[2].close": [...]}``.
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser, get_encoding

from .exceptions import PayloadTooLarge

# No request of the API nests deeper than a list of objects; 32 leaves room and bounds the walk.
MAX_DEPTH = 32


class _NonFinite(str):
    """A NaN / Infinity / -Infinity token read from a JSON body (never leaves the parser)."""


def _string_problem(value: str, *, key: bool) -> str | None:
    if "\x00" in value:
        return "must not contain a NUL character"
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        return "must not contain a lone UTF-16 surrogate"
    if key and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "a field name must not contain control characters"
    return None


def body_problems(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """Every value of ``data`` the API refuses, keyed by its path; iterative (no recursion)."""
    problems: dict[str, list[str]] = {}
    stack: list[tuple[Any, str, int]] = [(data, prefix, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems[path or "non_field_errors"] = [f"nested deeper than {MAX_DEPTH} levels"]
            continue
        if isinstance(value, _NonFinite):
            problems[path or "non_field_errors"] = ["must be a finite number"]
        elif isinstance(value, str):
            problem = _string_problem(value, key=False)
            if problem:
                problems[path or "non_field_errors"] = [problem]
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                problem = _string_problem(key, key=True)
                if problem:
                    # The key itself is unprintable: name its position, not the raw key.
                    problems[f"{path}.<key>" if path else "<key>"] = [problem]
                    continue
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((item, f"{path}[{index}]", depth + 1))
    return problems


def read_limited(stream) -> bytes:
    """The whole body, or a 413 as soon as it passes ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read(limit + 1) if stream is not None else b""
    if limit is not None and len(raw) > limit:
        raise PayloadTooLarge()
    return raw


class FiniteJSONParser(JSONParser):
    """JSON parser that names the field of every value it refuses (see the module docstring).

    ``NaN`` / ``Infinity`` are not JSON, but Python's json module (and pandas) write them; DRF's
    strict parser rejects them with a message that names nothing. For a view whose body is a list,
    ``body_name`` names its rows: ``prices[2].close``.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        raw = read_limited(stream)
        try:
            text = codecs.decode(raw, get_encoding(parser_context))
            data = json.loads(text, parse_constant=_NonFinite)
        except RecursionError as exc:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels") from exc
        except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
            raise ParseError(f"JSON parse error - {exc}") from exc
        prefix = ""
        if isinstance(data, list):
            prefix = getattr(parser_context.get("view"), "body_name", "")
        problems = body_problems(data, prefix)
        if problems:
            raise ValidationError(problems)
        return data
