"""The API's write throttle: POST/PUT/PATCH/DELETE per user at ``PMS_THROTTLE_WRITES``.

Reads are never throttled (the cached GETs of ``cache_hits`` do not even reach DRF). Over the
rate a write is a 429 with ``Retry-After`` before its view runs, so it writes nothing.

The history lives in the cache (Redis). With Redis down or slow the throttle fails open: the
write goes through, the shared breaker of ``pms_project.cache`` skips Redis for a few seconds and
logs once per outage. A desk that cannot write during a cache outage loses more than a throttle
that does not count for a few seconds.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import UserRateThrottle

from .cache import FAILED, _call, breaker


class WriteRateThrottle(UserRateThrottle):
    scope = "writes"

    def get_rate(self) -> str:
        # Read at each request, not at import as DRF's class attribute does, so a test's
        # settings override (and the settings module's validation) applies.
        return settings.PMS_THROTTLE_WRITES

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS or breaker.is_open():
            return True
        allowed = _call(super().allow_request, request, view)
        return True if allowed is FAILED else allowed
