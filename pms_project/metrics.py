"""The process's own Prometheus metrics: requests (count, latency) and cache hits and misses.

They are counted where they happen, in memory, at the cost of a dict lookup and a lock; the
desk's metrics read from the database (last runs, failures, breaches) and the dependencies'
``*_up`` gauges are computed when ``/metrics`` is scraped instead (``ops/metrics.py``).

Under gunicorn each worker counts its own requests. With ``PROMETHEUS_MULTIPROC_DIR`` set (an
empty folder at start), prometheus-client writes every worker's values in that folder and
``/metrics`` adds them up, whichever worker answers the scrape; without it, a scrape sees the
counters of the worker that answered it only (fine for one worker, ``runserver`` and the tests).

Labels are bounded: the view's URL pattern (``unresolved`` for a path no URL matched, so a scan of
random paths adds one series, not one per path), the method among the standard ones, the status.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "pms_http_requests_total",
    "HTTP requests answered, by method, view (URL pattern) and status code.",
    ["method", "view", "status"],
)
LATENCY = Histogram(
    "pms_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and view (URL pattern).",
    ["method", "view"],
)
CACHE_HITS = Counter(
    "pms_cache_hits_total", "Cached GETs answered from Redis, by namespace.", ["namespace"]
)
CACHE_MISSES = Counter(
    "pms_cache_misses_total",
    "Cached GETs computed from the database (a miss, or Redis unavailable), by namespace.",
    ["namespace"],
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED = "unresolved"

_cache_children: dict[tuple[str, bool], object] = {}


def cache_counted(namespace: str, hit: bool) -> None:
    """One hit or miss of ``namespace`` (its child counter looked up once per process)."""
    child = _cache_children.get((namespace, hit))
    if child is None:
        child = (CACHE_HITS if hit else CACHE_MISSES).labels(namespace)
        _cache_children[(namespace, hit)] = child
    child.inc()


def view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    # The URL pattern names the view unambiguously (URL names repeat across apps), without the
    # path's ids: "api/portfolio/positions/<int:pk>/close/".
    return match.route or match.view_name or match._func_path


class RequestMetricsMiddleware:
    """Counts and times every request (first in ``MIDDLEWARE``: the other middlewares' time is
    part of what a client waits for)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        view = view_label(request)
        LATENCY.labels(method, view).observe(time.perf_counter() - started)
        REQUESTS.labels(method, view, str(response.status_code)).inc()
        return response
