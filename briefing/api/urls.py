from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("latest/", views.LatestPackView.as_view(), name="briefing-latest"),
    path("generate/", views.GeneratePackView.as_view(), name="briefing-generate"),
    path("<str:day>/", views.PackOfDateView.as_view(), name="briefing-date"),
]
