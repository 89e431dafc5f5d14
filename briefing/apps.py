from __future__ import annotations

from django.apps import AppConfig


class BriefingConfig(AppConfig):
    name = "briefing"

    def ready(self) -> None:
        from pms_project.cache import register_warmer

        from . import signals
        from .api.views import latest_body

        signals.connect()
        register_warmer("briefing", latest_body)
