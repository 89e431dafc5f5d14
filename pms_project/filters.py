"""Query-parameter filters that refuse what they do not understand.

django-filter ignores a blank value (``?to=``) and reads an unknown boolean (``?active=flase``) as
"no filter": both answer the whole list, and a typo looks like data. Here a filter parameter that
is present must hold a value, and a boolean one must say ``true`` or ``false``; otherwise the
answer is a 400 naming the parameter. Set as DRF's default filter backend, so every app's
``filterset_fields`` and FilterSets get it.
"""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend

BOOLEAN_VALUES = ("true", "false")


class StrictFilterSet(django_filters.FilterSet):
    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, flt in self.filters.items():
            if name not in self.data:
                continue
            raw = self.data.get(name)
            if raw == "":
                self.form.add_error(name, "must not be blank; leave the parameter out instead")
                valid = False
            elif isinstance(flt, django_filters.BooleanFilter) and raw not in BOOLEAN_VALUES:
                self.form.add_error(name, "must be true or false")
                valid = False
        return valid


class StrictFilterBackend(DjangoFilterBackend):
    filterset_base = StrictFilterSet
