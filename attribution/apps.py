from __future__ import annotations

from django.apps import AppConfig


class AttributionConfig(AppConfig):
    name = "attribution"

    def ready(self) -> None:
        from pms_project.cache import register_warmer

        from .api.views import warm_attribution

        register_warmer("attribution", warm_attribution)
