"""Login brute force: at most ``PMS_LOGIN_ATTEMPTS_PER_MINUTE`` failed logins a minute per user
name and per client address, on the desk's login and the admin's.

- **What counts** is a failed attempt: a POST to a login view answered without a redirect (the
  form shown again with its error). A successful login is not counted, so a person who typed
  their password wrong twice is not locked out by logging in; once the limit is reached every
  attempt is refused, the right password too, until the window ends.
- **Refused** is a 429 page saying how long to wait, with ``Retry-After``, before the view checks
  any password.
- **Counters** are two cache keys per fixed one-minute window (``login:user:<digest>:<minute>``
  and ``login:addr:<address>:<minute>``): the user name's, whatever the address (a slow
  distributed guess), and the address's, whatever the name (one machine trying many names).
  A fixed window lets at most twice the limit through around a window's edge: still a few
  guesses a minute.
- **Client address**: ``REMOTE_ADDR``, or the last address of ``X-Forwarded-For`` (the one the
  desk's proxy appended) when ``PMS_TRUST_X_FORWARDED_FOR`` is on.
- **Redis down or slow**: the throttle fails open — the request goes on to the normal password
  check — with the shared breaker of ``pms_project.cache`` (one bounded timeout, then Redis is
  skipped for a few seconds; a warning once per outage). Locking everyone out of the desk during
  a cache outage would cost more than a few unthrottled guesses.

The API has no password endpoint (token or session authentication only), so nothing else is
throttled here; API writes have their own throttle (``pms_project/throttles.py``).
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.html import format_html

from .cache import FAILED, _call, breaker

WINDOW_SECONDS = 60
THROTTLED_VIEWS = frozenset({"login", "admin:login"})
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    "<title>Too many login attempts — PMS</title></head><body>"
    "<h1>Too many login attempts</h1>"
    '<p>Wait {} seconds, then <a href="{}">try again</a>.</p></body></html>'
)


def client_address(request) -> str:
    if settings.PMS_TRUST_X_FORWARDED_FOR:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def counter_keys(username: str, address: str, window: int) -> list[str]:
    # A digest: a user name is any text the client sends, not something to put in a key.
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login:user:{name}:{window}", f"login:addr:{address[:64]}:{window}"]


def _window() -> tuple[int, int]:
    """(the current window's number, seconds until it ends)."""
    now = time.time()
    return int(now // WINDOW_SECONDS), WINDOW_SECONDS - int(now % WINDOW_SECONDS)


def seconds_to_wait(username: str, address: str) -> int:
    """0 when an attempt may go on, else the seconds until the window ends."""
    if breaker.is_open():
        return 0
    window, left = _window()
    found = _call(cache.get_many, counter_keys(username, address, window))
    if found is FAILED:
        return 0
    limit = settings.PMS_LOGIN_ATTEMPTS_PER_MINUTE
    return left if any(count >= limit for count in found.values()) else 0


def record_failure(username: str, address: str) -> None:
    if breaker.is_open():
        return
    window, _ = _window()
    for key in counter_keys(username, address, window):
        # add() then incr(): incr of a missing key is an error; the key outlives its window.
        if _call(cache.add, key, 0, 2 * WINDOW_SECONDS) is FAILED:
            return
        if _call(cache.incr, key) is FAILED:
            return


def throttled_response(request, wait: int) -> HttpResponse:
    response = HttpResponse(format_html(PAGE, wait, request.get_full_path()), status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginThrottleMiddleware:
    """Refuses a login POST over the limit and counts the failed ones."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        attempt = getattr(request, "_pms_login_attempt", None)
        if attempt is not None and response.status_code == 200:
            record_failure(*attempt)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method != "POST" or match is None or match.view_name not in THROTTLED_VIEWS:
            return None
        username = request.POST.get("username", "")
        address = client_address(request)
        wait = seconds_to_wait(username, address)
        if wait:
            return throttled_response(request, wait)
        request._pms_login_attempt = (username, address)
        return None
