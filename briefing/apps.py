from __future__ import annotations

from django.apps import AppConfig


class BriefingConfig(AppConfig):
    name = "briefing"
