from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("latest/", views.pack_page, name="briefing-latest-page"),
    path("<str:day>/", views.pack_page, name="briefing-page"),
]
