"""The project's URLconf plus ``/bench/bare/`` (``bench.cache_settings``, for ``cache_bench``).

``bare`` is what a cached response costs at the least through Django: one django-redis GET of
the bytes ``cache_bench`` stored under ``bench:bare`` (the book's cached body, pickled by the same
cache), answered as they are — no authentication, no DRF, no generation tokens. Every middleware
of the project still runs, as for the book.
"""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import path

from pms_project.urls import (  # noqa: F401  (the error handlers of the project's URLconf)
    handler400,
    handler403,
    handler404,
    handler500,
)
from pms_project.urls import urlpatterns as project_urlpatterns

BARE_KEY = "bench:bare"


def bare(request: HttpRequest) -> HttpResponse:
    """The stored bytes from one django-redis GET (404 when ``cache_bench`` stored none)."""
    body = cache.get(BARE_KEY)
    if body is None:
        return HttpResponse(b'{"detail":"nothing stored"}', status=404)
    return HttpResponse(body, content_type="application/json")


urlpatterns = [*project_urlpatterns, path("bench/bare/", bare)]
