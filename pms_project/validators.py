"""Input rules shared by every app: what a code, a text, a currency and a date may be.

Models declare these validators (the admin and ModelSerializers run them) and services call the
``check_*`` helpers, so the API, the admin and the commands refuse the same input with the same
message. Every app copies this pattern rather than writing its own regular expressions.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible

# Symbols and codes (instrument symbols, strategy and portfolio codes) are identifiers that travel
# in URLs, CSV files and FX pair names: upper-case ASCII letters and digits, and ". _ -" inside.
CODE_PATTERN = r"^[A-Z0-9](?:[A-Z0-9._-]*[A-Z0-9])?$"
CODE_HELP = "upper-case letters A–Z, digits 0–9 and . _ - (not first or last)"
code_validator = RegexValidator(CODE_PATTERN, f"use only {CODE_HELP}")
_CODE_RE = re.compile(CODE_PATTERN)

# Dates before this are typing mistakes, not market history (and too close to date.min to be
# moved back by a business day).
MIN_DATE = dt.date(1900, 1, 1)

# Codes that ISO 4217 lists but that are not money: "no currency" and the testing code.
_NOT_MONEY = frozenset({"XXX", "XTS"})


def is_code(value: str) -> bool:
    return isinstance(value, str) and bool(_CODE_RE.match(value))


def is_currency(value: str) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 3
        and value.isascii()
        and value.isupper()
        and value not in _NOT_MONEY
        # pycountry's lookup ignores case: "usd" is not a code, "USD" is.
        and pycountry.currencies.get(alpha_3=value) is not None
    )


def control_characters(value: str) -> bool:
    """True when ``value`` holds a control character (NUL, newline, escape…) or a lone surrogate."""
    return any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in value)


@deconstructible
class CurrencyValidator:
    message = "not an ISO 4217 currency code"

    def __call__(self, value: str) -> None:
        if not is_currency(value):
            raise ValidationError(f"{value!r} is {self.message}", code="invalid_currency")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CurrencyValidator)


@deconstructible
class PlainTextValidator:
    """One line of text for people: no control characters (NUL, tabs, new lines, escapes)."""

    message = "must not contain control characters"

    def __call__(self, value: str) -> None:
        if control_characters(value):
            raise ValidationError(self.message, code="control_characters")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainTextValidator)


@deconstructible
class MinDateValidator:
    def __call__(self, value: dt.date) -> None:
        if value < MIN_DATE:
            raise ValidationError(f"must be on or after {MIN_DATE.isoformat()}", code="min_date")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MinDateValidator)


currency_validator = CurrencyValidator()
plain_text_validator = PlainTextValidator()
min_date_validator = MinDateValidator()
