from __future__ import annotations

from django.apps import AppConfig


class TradesConfig(AppConfig):
    name = "trades"
