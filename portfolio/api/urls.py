from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
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
