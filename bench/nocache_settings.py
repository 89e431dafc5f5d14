"""The project's settings with Django's dummy cache, for a bench's uncached server.

The read views cache their bodies (``pms_project.cache``), and the environment can only choose
Redis or the local-memory cache; ``http_baseline_bench`` runs gunicorn with
``DJANGO_SETTINGS_MODULE=bench.nocache_settings`` to measure what every request computes. With
the dummy cache nothing is stored, so each request is a MISS that computes its body.
"""

from __future__ import annotations

from pms_project.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
