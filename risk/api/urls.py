from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_format_suffixes = False
router.register("limits", views.RiskLimitViewSet, basename="risklimit")

urlpatterns = [
    path("live/", views.LiveRiskView.as_view(), name="risk-live"),
    path("history/", views.RiskHistoryView.as_view(), name="risk-history"),
    path("stress/", views.StressView.as_view(), name="risk-stress"),
    path("alerts/", views.AlertListView.as_view(), name="risk-alerts"),
    path("pretrade/", views.PretradeView.as_view(), name="risk-pretrade"),
    *router.urls,
]
