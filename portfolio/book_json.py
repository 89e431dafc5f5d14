"""The book as the API's JSON body, rendered in one pass with orjson.

DRF renders the book field by field, a method call and a fresh decimal context per value; at
10,000 positions that costs more than computing the book. Here ``BookSerializer``'s own fields are
read once, at import, and compiled into plain functions that turn each value into what the field's
``to_representation`` gives (a decimal quantized to the field's places as a fixed-point string,
SPEC §10): the schema drf-spectacular publishes and the bytes come from the same declarations, and
a field of a kind this module does not know is an error at import, not a silent difference.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

import orjson
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from .api.serializers import BookSerializer
from .book import book_get
from .models import Portfolio

Render = Callable[[Any], Any]

# Fields whose values orjson already writes as the field does: str, int, bool, ISO dates.
_AS_IS = (
    serializers.CharField,
    serializers.ChoiceField,
    serializers.IntegerField,
    serializers.BooleanField,
)


def decimal_render(field: serializers.DecimalField) -> Callable[[Any], str]:
    """DRF's ``DecimalField.to_representation`` as a string: quantized to ``decimal_places`` in a
    context of ``max_digits`` digits (so a value too long raises, as DRF does), fixed-point."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    if not coerce or field.localize or field.normalize_output or field.decimal_places is None:
        raise TypeError(f"{field.field_name}: only plain decimal strings are rendered here")
    # DRF copies the thread's context at each call; a request thread's is the default one.
    context = Context(**({"prec": field.max_digits} if field.max_digits is not None else {}))
    rounding = field.rounding
    exponent = Decimal(".1") ** field.decimal_places
    quantize = Decimal.quantize

    def render(value: Any) -> str:
        # Tens of thousands of calls a book: the unbound method, and str() where it is the
        # fixed-point string (it turns to exponent notation below 1E-6, zero included).
        try:
            q = quantize(value, exponent, rounding, context)
        except TypeError:  # not a Decimal: DRF takes it through str()
            return render(Decimal(str(value).strip()))
        text = str(q)
        return text if "E" not in text else f"{q:f}"

    return render


def field_render(field: serializers.Field) -> Render | None:
    """How ``field`` renders a value that is not None; None when orjson writes it as is."""
    if isinstance(field, serializers.ListSerializer):
        if isinstance(field.child, serializers.Serializer):
            return _rows(field.child)
        item = field_render(field.child) or (lambda v: v)
        return lambda values: [None if v is None else item(v) for v in values]
    if isinstance(field, serializers.Serializer):
        rows = _rows(field)
        return lambda obj: rows([obj])[0]
    if isinstance(field, serializers.DictField):
        child = field_render(field.child) or (lambda v: v)
        return lambda d: {str(k): None if v is None else child(v) for k, v in d.items()}
    if isinstance(field, serializers.DecimalField):
        return decimal_render(field)
    if isinstance(field, serializers.FloatField):
        return float
    if isinstance(field, serializers.DateField):
        output = getattr(field, "format", api_settings.DATE_FORMAT)
        if output is None or output.lower() != ISO_8601:
            raise TypeError(f"{field.field_name}: only ISO dates are rendered here")
        return None
    if isinstance(field, _AS_IS):
        return None
    raise TypeError(f"{field.field_name}: no fast rendering for {type(field).__name__}")


def _rows(serializer: serializers.Serializer) -> Callable[[list], list[dict]]:
    """Mappings → the serializer's fields in its order, each rendered as the field does (None as
    null, as ``Serializer.to_representation`` does). Column by column: one loop per field over
    the rows costs less than one loop per row over the fields."""
    fields = [f for f in serializer.fields.values() if not f.write_only]
    for f in fields:
        if len(f.source_attrs) != 1:
            raise TypeError(f"{f.field_name}: only a key of the mapping is rendered here")
    names = [f.field_name for f in fields]
    columns = [(f.source_attrs[0], field_render(f)) for f in fields]

    def render(objs: list) -> list[dict]:
        values = [
            [o[key] for o in objs]
            if r is None
            else [None if (v := o[key]) is None else r(v) for o in objs]
            for key, r in columns
        ]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    return render


_render_book = field_render(BookSerializer())


def book_render(book: dict) -> bytes:
    """The API body of a ``book_get`` dict: what ``BookSerializer(book).data`` renders."""
    return orjson.dumps(_render_book(book))


def book_json(portfolio: Portfolio) -> bytes:
    """The book of ``portfolio`` as the bytes ``GET /api/portfolio/book/`` answers."""
    return book_render(book_get(portfolio))
