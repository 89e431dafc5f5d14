from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.AttributionView.as_view(), name="attribution"),
    path("series/", views.SeriesView.as_view(), name="attribution-series"),
]
