"""``GET /readyz`` and ``GET /metrics``: plain Django views, outside the API and its schema.

``/readyz`` answers without a login (SPEC §10), as ``/healthz``; ``/metrics`` answers a bearer
token or an allowed network only (``PMS_METRICS_TOKEN``, ``PMS_METRICS_ALLOWED_NETWORKS``).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from . import health, metrics


@never_cache
@require_safe
def readyz(request):
    """200 when the database, the cache and the broker answer, else 503 naming the failed ones.
    Never a 500: each check reports its own error (``ops.health``)."""
    checks = health.dependencies()
    failed = [check.name for check in checks if not check.up]
    body = {"status": "not ready" if failed else "ready"}
    if failed:
        body["failed"] = failed
    body["checks"] = {check.name: check.detail for check in checks}
    return JsonResponse(body, status=503 if failed else 200)


def _bearer(request) -> str | None:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def _from_allowed_network(request) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(network, strict=False)
        for network in settings.PMS_METRICS_ALLOWED_NETWORKS
    )


def metrics_allowed(request) -> int:
    """200 when allowed; 401 without credentials from elsewhere; 403 with a wrong token."""
    token = _bearer(request)
    expected = settings.PMS_METRICS_TOKEN
    if token is not None and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return 200
    if _from_allowed_network(request):
        return 200
    return 401 if "HTTP_AUTHORIZATION" not in request.META else 403


@never_cache
@require_safe
def metrics_view(request):
    status = metrics_allowed(request)
    if status == 401:
        response = HttpResponse("credentials required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if status == 403:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)
