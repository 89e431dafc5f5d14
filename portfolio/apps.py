from __future__ import annotations

from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        from pms_project.cache import register_warmer

        from . import signals
        from .api.views import book_body

        signals.connect()
        register_warmer("book", book_body)
