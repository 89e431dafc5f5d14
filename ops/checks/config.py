"""Configuration: the ``manage.py check --deploy`` essentials, read from settings.

Each is advisory on a development system (see ``base``): the embedded demo runs with DEBUG on, a
development key and plain HTTP on purpose. Production sets them through the environment.
"""

from __future__ import annotations

from django.conf import settings

from .base import check

GROUP = "configuration"
# Django's own threshold (security.W009): shorter keys, or keys with few distinct characters,
# are guessable.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE = 5
DEV_KEY_MARKERS = ("django-insecure", "dev-key")
# check --deploy (security.W004) asks for an HSTS header; a year is the usual preload minimum.
HSTS_MIN_SECONDS = 31_536_000


@check("debug_off", GROUP, advisory_in_dev=True)
def debug_off() -> tuple[bool, str]:
    return (not settings.DEBUG, f"DEBUG={settings.DEBUG}")


@check("secret_key", GROUP, advisory_in_dev=True)
def secret_key() -> tuple[bool, str]:
    key = settings.SECRET_KEY or ""
    if any(marker in key for marker in DEV_KEY_MARKERS):
        return False, "the development default: set DJANGO_SECRET_KEY"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE:
        return False, f"{len(key)} characters, {len(set(key))} distinct: too guessable"
    return True, f"{len(key)} characters, not the development default"


@check("allowed_hosts", GROUP, advisory_in_dev=True)
def allowed_hosts() -> tuple[bool, str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if not hosts:
        return False, "ALLOWED_HOSTS is empty"
    if "*" in hosts:
        return False, "ALLOWED_HOSTS contains '*'"
    return True, ", ".join(hosts)


@check("secure_cookies", GROUP, advisory_in_dev=True)
def secure_cookies() -> tuple[bool, str]:
    flags = {
        "SESSION_COOKIE_SECURE": getattr(settings, "SESSION_COOKIE_SECURE", False),
        "CSRF_COOKIE_SECURE": getattr(settings, "CSRF_COOKIE_SECURE", False),
    }
    off = [name for name, value in flags.items() if not value]
    return (not off, f"off: {', '.join(off)}" if off else "session and CSRF cookies secure")


@check("hsts", GROUP, advisory_in_dev=True)
def hsts() -> tuple[bool, str]:
    """A year of HSTS. Subdomains and preload are reported, not required: switching them off
    (DJANGO_HSTS_INCLUDE_SUBDOMAINS / DJANGO_HSTS_PRELOAD) is the desk's written choice, and
    ``check --deploy`` warns about it (security.W005 / W021)."""
    seconds = getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0
    extras = [
        f"{name} {'on' if getattr(settings, setting, False) else 'off'}"
        for name, setting in (
            ("includeSubDomains", "SECURE_HSTS_INCLUDE_SUBDOMAINS"),
            ("preload", "SECURE_HSTS_PRELOAD"),
        )
    ]
    return (seconds >= HSTS_MIN_SECONDS, f"SECURE_HSTS_SECONDS={seconds}, {', '.join(extras)}")


@check("https", GROUP, advisory_in_dev=True)
def https() -> tuple[bool, str]:
    """HTTPS enforced here (SECURE_SSL_REDIRECT) or by the proxy in front, which then tells
    Django the scheme (SECURE_PROXY_SSL_HEADER)."""
    redirect = getattr(settings, "SECURE_SSL_REDIRECT", False)
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if redirect:
        return True, "SECURE_SSL_REDIRECT on"
    if proxy:
        return True, f"behind a TLS proxy ({proxy[0]})"
    return False, "neither SECURE_SSL_REDIRECT nor SECURE_PROXY_SSL_HEADER"
