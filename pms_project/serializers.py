"""Serializer fields every app's API uses, stricter than DRF's defaults where JSON is concerned."""

from __future__ import annotations

from django.db import models
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from pms_project.commands import parse_iso_date


class StrictBooleanField(serializers.BooleanField):
    """A JSON ``true`` or ``false`` only: DRF's field also takes 0, 1, "yes", "on", "t"…"""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class StrictCharField(serializers.CharField):
    """A JSON string only: DRF's field turns 0 into "0" and true into "True"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer with strict strings and booleans for the model's fields."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.BooleanField: StrictBooleanField,
        models.CharField: StrictCharField,
    }


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A JSON list only: DRF's field takes any iterable, so ``{}`` passes as an empty list."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictSlugRelatedField(serializers.SlugRelatedField):
    """A related object by a string slug; ``many=True`` takes a JSON list of them."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        child_kwargs = {
            key: value for key, value in kwargs.items() if key not in MANY_RELATION_KWARGS
        }
        list_kwargs = {"child_relation": cls(*args, **child_kwargs)}
        for key in MANY_RELATION_KWARGS:
            if key in kwargs:
                list_kwargs[key] = kwargs[key]
        return StrictManyRelatedField(**list_kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class IsoDateField(serializers.DateField):
    """A date written YYYY-MM-DD only: ``strptime`` would also take ``2024-3-4``."""

    def to_internal_value(self, value):
        day = parse_iso_date(value) if isinstance(value, str) else None
        if day is None:
            self.fail("invalid", format="YYYY-MM-DD")
        return day


class QuerySerializer(serializers.Serializer):
    """Query parameters: one that is present must hold a value. DRF reads a blank optional
    parameter (``?by=``) as absent, so a typo would answer the default instead of a 400."""

    def to_internal_value(self, data):
        blank = {
            name: ["must not be blank; leave the parameter out instead"]
            for name in self.fields
            if name in data and data.get(name) == ""
        }
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)
