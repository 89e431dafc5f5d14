from __future__ import annotations

# The application version: in the API schema and in every backup's manifest. Set before the
# Celery import below, which settings (importing it) may trigger.
__version__ = "0.1.0"

from .celery import app as celery_app

__all__ = ("__version__", "celery_app")
