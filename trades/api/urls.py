from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.include_format_suffixes = False
router.register("proposals", views.ProposalViewSet, basename="proposal")

urlpatterns = [
    path("signals/", views.SignalListView.as_view(), name="trade-signals"),
    path("audit/", views.AuditListView.as_view(), name="trade-audit"),
    *router.urls,
]
