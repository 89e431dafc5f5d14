from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

# No format-suffix routes (`/positions/1.json`): JSON is the only format, and an undocumented
# route would answer 404 before authentication.
router = DefaultRouter()
router.include_format_suffixes = False
router.register("portfolios", views.PortfolioViewSet, basename="portfolio")
router.register("strategies", views.StrategyViewSet, basename="strategy")
router.register("instruments", views.InstrumentViewSet, basename="instrument")
router.register("positions", views.PositionViewSet, basename="position")
router.register("cashflows", views.CashFlowViewSet, basename="cashflow")

urlpatterns = [
    path("prices/", views.PriceListLoadView.as_view(), name="prices"),
    path("prices/update/", views.PriceUpdateView.as_view(), name="price-update"),
    path("book/", views.BookView.as_view(), name="book"),
    path("mtm/", views.MarkToMarketView.as_view(), name="mtm"),
    path("nav/", views.NavView.as_view(), name="nav"),
    *router.urls,
]
