from __future__ import annotations

from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "risk"

    def ready(self) -> None:
        from pms_project.cache import register_warmer

        from . import signals
        from .api.views import live_body

        signals.connect()
        register_warmer("risk", live_body)
