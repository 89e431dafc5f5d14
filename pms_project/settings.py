"""Settings for the PMS.

This is the only module that reads ``os.environ`` (with ``embedded_pg``, for its data folder).
Production differs from the embedded demo by environment values alone:

- ``DATABASE_URL``: a PostgreSQL URL; default the embedded PostgreSQL (``embedded_pg``: a server
  from a wheel in ``.pgdata/``, or ``PMS_EMBEDDED_PGDATA``), started or reused on first import.
- ``REDIS_URL``: the cache; default Django's local-memory cache.
- ``CELERY_BROKER_URL``: default ``REDIS_URL``; with neither, tasks run eagerly in-process.
- ``DJANGO_SECRET_KEY``, ``DJANGO_DEBUG``, ``ALLOWED_HOSTS``.
- ``DJANGO_SECURE_COOKIES``, ``DJANGO_HSTS_SECONDS``, ``DJANGO_HSTS_INCLUDE_SUBDOMAINS``,
  ``DJANGO_HSTS_PRELOAD``, ``DJANGO_SSL_REDIRECT``, ``DJANGO_PROXY_SSL_HEADER``,
  ``DJANGO_CSRF_TRUSTED_ORIGINS``: HTTPS in production (off by default).
- ``PMS_LOGIN_ATTEMPTS_PER_MINUTE``, ``PMS_TRUST_X_FORWARDED_FOR``, ``PMS_THROTTLE_WRITES``: the
  login and API write throttles.
- ``PMS_PRICE_DROP_DIR``, ``PMS_PRICE_DROP_SETTLE_SECONDS``: the daily price ingest's drop folder.
- ``PMS_METRICS_TOKEN``, ``PMS_METRICS_ALLOWED_NETWORKS``, ``PROMETHEUS_MULTIPROC_DIR``: who may
  read ``/metrics``, and where gunicorn's workers share their counters.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from pms_project import __version__

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false)")


def env_float(name: str, default: float, *, low: float, high: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name}={raw!r} must be between {low} and {high}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)
# The embedded demo runs with a fixed development key; `manage.py check --deploy` flags it.
SECRET_KEY = env_str(
    "DJANGO_SECRET_KEY", "django-insecure-dev-key-set-DJANGO_SECRET_KEY-in-production"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
# HTTPS (off by default: the embedded demo is plain HTTP). Production behind a TLS proxy sets
# DJANGO_SECURE_COOKIES=true, DJANGO_HSTS_SECONDS=31536000 and DJANGO_PROXY_SSL_HEADER=true (the
# proxy sends X-Forwarded-Proto), or DJANGO_SSL_REDIRECT=true when Django terminates TLS itself.
# `manage.py verify` fails production settings without them.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES")
SECURE_HSTS_SECONDS = int(env_float("DJANGO_HSTS_SECONDS", 0, low=0, high=10 * 31_536_000))
# With HSTS on, the header also covers subdomains and allows preloading unless switched off
# (`check --deploy` then warns: security.W005 / W021, a choice the desk accepts in writing).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=SECURE_HSTS_SECONDS > 0
)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT")
if env_bool("DJANGO_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Django's defaults, stated so that nobody turns them off by accident (check --deploy reads them).
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Origins (scheme and host, e.g. https://pms.example.com) whose form posts CSRF accepts when they
# differ from the host Django sees — a proxy that rewrites Host, say. Comma-separated.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
for _origin in CSRF_TRUSTED_ORIGINS:
    if not re.fullmatch(r"https?://[^/\s]+", _origin):
        raise ImproperlyConfigured(
            f"DJANGO_CSRF_TRUSTED_ORIGINS: {_origin!r} is not an origin (e.g. https://pms.example.com)"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "portfolio",
    "trades",
    "risk",
    "attribution",
    "briefing",
    "ops",
]

MIDDLEWARE = [
    # First: it times and counts every request, whatever answers it (pms_project/metrics.py).
    "pms_project.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pms_project.middleware.ApiInputGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After CSRF: a POST without its token never reaches a login view nor counts as an attempt.
    "pms_project.login_throttle.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After a successful write to the book's API, the book is stored again (SPEC §7).
    "pms_project.cache.WriteThroughMiddleware",
]

ROOT_URLCONF = "pms_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "pms_project.wsgi.application"

# --- Database --------------------------------------------------------------------------------
# One database everywhere: PostgreSQL. Without DATABASE_URL, every command (manage.py, the
# server, a worker) starts the embedded server — or reuses the running one — and leaves it
# running for the next; `make run` stops it on exit, `python -m pms_project.embedded_pg stop` too.
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    from pms_project import embedded_pg

    DATABASE_URL = embedded_pg.database_url()
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=60,
        # Without health checks a database restart turns pooled connections into 500s.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache -----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                # A hung Redis must cost a request tens of milliseconds, not seconds. Errors are
                # not ignored here: pms_project.cache catches them, falls back to the database
                # and logs once per outage (django-redis would log every request).
                "SOCKET_CONNECT_TIMEOUT": 0.05,
                "SOCKET_TIMEOUT": 0.05,
            },
            "KEY_PREFIX": "pms",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# TTLs in seconds (SPEC §7; the predecessor's numbers).
PMS_CACHE_TTL = {"book": 30, "risk": 60, "morning_pack": 300, "attribution": 300}

# Where people reach the site: seed_demo prints its login hints with it (`make run` sets it from
# RUN_ADDR).
PMS_BASE_URL = env_str("PMS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


# --- Celery ----------------------------------------------------------------------------------
def _next_redis_database(url: str) -> str:
    """The same Redis server, the database after the cache's: redis://h:6379/1 → /2."""
    parts = urlsplit(url)
    number = parts.path.lstrip("/") or "0"
    if not number.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL: {number!r} is not a Redis database number")
    return urlunsplit(parts._replace(path=f"/{int(number) + 1}"))


# The broker's queues never share the cache's database: a cache flush (after a restore, say)
# must not drop queued tasks. Default: the database after REDIS_URL's.
# Set but empty (the test suite, `make test`): no broker, tasks run eagerly.
CELERY_BROKER_URL = env_str(
    "CELERY_BROKER_URL", _next_redis_database(REDIS_URL) if REDIS_URL else ""
)
if REDIS_URL and CELERY_BROKER_URL.rstrip("/") == REDIS_URL.rstrip("/"):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must not be the cache's Redis database (REDIS_URL): use another one"
    )
# With no broker at all the embedded demo runs tasks eagerly, in-process.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Redis redelivers a message its worker took and never acknowledged (the whole worker killed,
# not just a pool child: that one Celery requeues at once) after this many seconds. It must
# exceed the longest task, or a running task is delivered a second time. The fault tests set
# it to a few seconds; the sweep looking for such messages runs often enough for it.
CELERY_VISIBILITY_TIMEOUT = env_float("CELERY_VISIBILITY_TIMEOUT", 3600, low=1, high=86400)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, int(CELERY_VISIBILITY_TIMEOUT // 10))),
    "unacked_restore_throttle": 1 if CELERY_VISIBILITY_TIMEOUT < 1000 else 10,
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The demo serves static files with runserver/whitenoise without a collectstatic step.
WHITENOISE_USE_FINDERS = True

# The desk's pages have their own login: the admin's accepts staff only, and viewers and traders
# are not staff.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- Throttles (pms_project/login_throttle.py, pms_project/throttles.py) -----------------------
# Failed logins allowed per minute (a fixed window) per user name and per client address, on the
# desk's login and the admin's; the next attempt is a 429 with Retry-After.
PMS_LOGIN_ATTEMPTS_PER_MINUTE = int(env_float("PMS_LOGIN_ATTEMPTS_PER_MINUTE", 5, low=1, high=1000))
# The client address is REMOTE_ADDR. Behind the desk's proxy that is the proxy's address for all:
# set true only when a proxy that appends the client's address to X-Forwarded-For is the only way
# in; the last address of the header is then the client (earlier ones are the client's own say).
PMS_TRUST_X_FORWARDED_FOR = env_bool("PMS_TRUST_X_FORWARDED_FOR")
# Writes (POST/PUT/PATCH/DELETE) to the API per user, in DRF's rate syntax (number/period with
# period s, m, h or d); reads are not throttled. 1200/min leaves twice the 600 writes a minute a
# busy feed sends.
PMS_THROTTLE_WRITES = env_str("PMS_THROTTLE_WRITES", "1200/min").strip()
if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", PMS_THROTTLE_WRITES):
    raise ImproperlyConfigured(
        f"PMS_THROTTLE_WRITES={PMS_THROTTLE_WRITES!r} is not a rate (e.g. 1200/min)"
    )

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous API call gets 401 with "WWW-Authenticate: Token".
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "pms_project.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["pms_project.permissions.DeskRolePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["pms_project.filters.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "pms_project.pagination.StrictLimitOffsetPagination",
    # Writes per user at PMS_THROTTLE_WRITES; reads pass (the class reads the setting itself).
    "DEFAULT_THROTTLE_CLASSES": ["pms_project.throttles.WriteRateThrottle"],
    "PAGE_SIZE": 1000,
    "EXCEPTION_HANDLER": "pms_project.errors.api_exception_handler",
    # The API reads and writes JSON only. The parser refuses, naming the field, what the
    # database cannot store (NUL, lone surrogates) and raw NaN / Infinity tokens.
    "DEFAULT_PARSER_CLASSES": ["pms_project.parsers.FiniteJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Money and quantities leave the API as decimal strings, never rounded floats.
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PMS API",
    "DESCRIPTION": "Portfolio management system of a macro trading desk.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    # Only /healthz and /readyz answer without a login (SPEC §10); the schema is no exception.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: the desk's network may not reach a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the risk metrics wherever they appear (limits, alerts, pre-trade breaches).
    "ENUM_NAME_OVERRIDES": {"RiskMetricEnum": "risk.choices.Metric"},
    # The error responses (400/401/403/404/409/413 with one error body) and the links between
    # operations, on every operation; the enum hook is drf-spectacular's default.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pms_project.schema.postprocess_error_responses_and_links",
    ],
}

# --- Trades ----------------------------------------------------------------------------------
# A generated proposal worth less than this fraction of NAV (|quantity| × price × multiplier × fx)
# is skipped: approvers are not asked to decide dust. 0.001 = 0.1 % of NAV.
TRADES_MIN_TRADE_NAV_FRACTION = env_float("PMS_MIN_TRADE_NAV_FRACTION", 0.001, low=0.0, high=1.0)
# Modules with the desk's own signal generators (``@trades.generators.register``), imported at
# start-up: comma-separated dotted paths.
TRADES_SIGNAL_MODULES = env_list("PMS_SIGNAL_MODULES", "")

# --- Price ingest (SPEC §8: the 09:00 UTC slot) -------------------------------------------------
# `portfolio.services.ingest_drop_folder` imports the complete `*.csv` files (date,symbol,close)
# dropped here and moves each into the subfolders `processed/` or `rejected/` (with its reason),
# created on demand. Subfolders, not siblings: a rename inside one filesystem is atomic, and a
# mounted drop folder keeps its outcomes on its own volume. A relative path is taken from the
# project folder, whatever the worker's working directory.
PMS_PRICE_DROP_DIR = BASE_DIR / (env_str("PMS_PRICE_DROP_DIR") or Path("var", "prices", "incoming"))
# A file changed less than this many seconds ago may still be being written (a writer that does
# not use the `.part` then rename convention): it is left for the next run.
PMS_PRICE_DROP_SETTLE_SECONDS = env_float(
    "PMS_PRICE_DROP_SETTLE_SECONDS", 5.0, low=0.0, high=86400.0
)

# The folder whose README.md and docs/ `manage.py verify` checks (a test points it elsewhere).
PMS_DOCS_ROOT = BASE_DIR

# --- Monitoring (SPEC §9) ----------------------------------------------------------------------
# /metrics answers a request that carries ``Authorization: Bearer <PMS_METRICS_TOKEN>`` (when the
# token is set) or comes from one of these networks (comma-separated CIDRs; REMOTE_ADDR as
# gunicorn sees it — behind a proxy that is the proxy's address).
PMS_METRICS_TOKEN = env_str("PMS_METRICS_TOKEN")
PMS_METRICS_ALLOWED_NETWORKS = env_list("PMS_METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
for _network in PMS_METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"PMS_METRICS_ALLOWED_NETWORKS: {_network!r} is not a network (e.g. 10.0.0.0/8)"
        ) from None
# Set for gunicorn with several workers: each worker writes its request and cache counters in
# this (empty at start) folder and /metrics adds them up (prometheus-client's multiprocess mode,
# which reads the same variable itself when it is imported).
PMS_PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
