from __future__ import annotations

from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class TradesConfig(AppConfig):
    name = "trades"

    def ready(self) -> None:
        # The desk's own signal generators register themselves when their module is imported.
        for module in settings.TRADES_SIGNAL_MODULES:
            import_module(module)
