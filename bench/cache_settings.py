"""The project's settings with ``bench.cache_urls`` as the URLconf, for ``bench/cache_bench.py``.

``cache_bench`` runs gunicorn with ``DJANGO_SETTINGS_MODULE=bench.cache_settings`` so that the
server answers, next to every project URL, ``/bench/bare/``: a bare Django view (no auth, no DRF)
returning the bytes stored under ``bench:bare`` with one django-redis GET — the floor a cached hit
of the book is measured against. Everything else (the cache, middleware, database) is the
project's, configured by the environment.
"""

from __future__ import annotations

from pms_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.cache_urls"
