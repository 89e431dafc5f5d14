"""Database, migrations, cache, broker and the beat schedules of the running system."""

from __future__ import annotations

import importlib
import secrets
import time
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.questioner import NonInteractiveMigrationQuestioner
from django.db.migrations.state import ProjectState

from .base import check

# The desk's schedules as their migration creates them (SPEC §8): name → (task, minute, hour,
# day_of_week, description). Read from the migration, the one place they are written down.
SCHEDULES: dict[str, tuple] = importlib.import_module(
    "ops.migrations.0002_pipeline_schedules"
).SCHEDULES
# A broker that does not answer within this many seconds is down for an operator's purposes.
BROKER_TIMEOUT_SECONDS = 2.0


# --- Database -----------------------------------------------------------------------------------


@check("database_reachable", "database")
def database_reachable() -> tuple[bool, str]:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    ms = (time.monotonic() - started) * 1000
    name = connection.settings_dict.get("NAME")
    return one == 1, f"{name} on {connection.settings_dict.get('HOST') or 'socket'} ({ms:.0f} ms)"


@check("database_postgresql", "database")
def database_postgresql() -> tuple[bool, str]:
    """PostgreSQL at a version this Django supports (its own minimum, not ours to guess)."""
    if connection.vendor != "postgresql":
        return False, f"{connection.vendor}, not PostgreSQL"
    connection.ensure_connection()
    major, minor = divmod(connection.pg_version, 10000)
    minimum = connection.features.minimum_database_version
    ok = (major,) >= tuple(minimum)
    return ok, f"PostgreSQL {major}.{minor} (Django needs ≥ {'.'.join(map(str, minimum))})"


@check("migrations_applied", "database")
def migrations_applied() -> tuple[bool, str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = [f"{m.app_label}.{m.name}" for m, _ in plan]
        return False, f"{len(names)} unapplied: {', '.join(names[:5])}"
    return True, f"{len(executor.loader.applied_migrations)} applied, none pending"


@check("migrations_complete", "database")
def migrations_complete() -> tuple[bool, str]:
    """``makemigrations --check``: the models match the migrations (no change left unwritten)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    conflicts = loader.detect_conflicts()
    if conflicts:
        return False, "conflicting leaves: " + ", ".join(sorted(conflicts))
    autodetector = MigrationAutodetector(
        loader.project_state(),
        ProjectState.from_apps(apps),
        NonInteractiveMigrationQuestioner(specified_apps=None, dry_run=True),
    )
    changes = autodetector.changes(graph=loader.graph)
    if changes:
        return False, "models changed without a migration in: " + ", ".join(sorted(changes))
    return True, "models and migrations agree"


# --- Cache and broker ---------------------------------------------------------------------------


def _redis_target(url: str) -> tuple[str, int, int] | None:
    """(host, port, database) of a redis:// URL, None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"}:
        return None
    db = parts.path.lstrip("/") or "0"
    return parts.hostname or "localhost", parts.port or 6379, int(db) if db.isdigit() else 0


def _cache_location() -> str:
    location = settings.CACHES["default"].get("LOCATION", "")
    return location[0] if isinstance(location, list | tuple) else str(location)


@check("cache_round_trip", "cache")
def cache_round_trip() -> tuple[bool, str]:
    """Set, get and delete a random key on the configured cache (django-redis raises when Redis
    does not answer: the error is the detail)."""
    cache = caches["default"]
    key, value = f"verify:{secrets.token_hex(8)}", secrets.token_hex(8)
    started = time.monotonic()
    cache.set(key, value, timeout=30)
    got = cache.get(key)
    cache.delete(key)
    gone = cache.get(key) is None
    ms = (time.monotonic() - started) * 1000
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    where = f"{backend} {_cache_location()}".strip()
    if got != value:
        return False, f"{where}: read back {got!r}, not the value written"
    if not gone:
        return False, f"{where}: the key survived its delete"
    return True, f"{where}: set/get/delete in {ms:.1f} ms"


@check("cache_broker_separate", "cache")
def cache_broker_separate() -> tuple[bool, str]:
    """A cache flush (after a restore) must not drop queued tasks: never one Redis database."""
    cache, broker = _redis_target(_cache_location()), _redis_target(settings.CELERY_BROKER_URL)
    if cache is None or broker is None:
        return True, "not both on Redis: nothing shared"
    if cache == broker:
        return False, f"cache and broker both on redis {cache[0]}:{cache[1]}/{cache[2]}"
    return True, f"cache on /{cache[2]}, broker on /{broker[2]}"


@check("broker_configured", "broker", advisory_in_dev=True)
def broker_configured() -> tuple[bool, str]:
    """Without a broker tasks run eagerly in-process: fine for the demo, but production's beat
    and worker need one."""
    if not settings.CELERY_BROKER_URL:
        return False, "no CELERY_BROKER_URL: tasks run eagerly in-process"
    return True, _redacted(settings.CELERY_BROKER_URL)


@check("broker_reachable", "broker")
def broker_reachable() -> tuple[bool, str]:
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    if not url:
        return True, "eager mode: no broker to reach"
    timeout = BROKER_TIMEOUT_SECONDS
    with Connection(
        url,
        connect_timeout=timeout,
        transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout},
    ) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        return True, f"{conn.as_uri()} answers"


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return parts.geturl()


# --- Beat schedules -----------------------------------------------------------------------------


@check("beat_schedules", "schedules")
def beat_schedules() -> tuple[bool, str]:
    """The three periodic tasks exist, enabled, on their SPEC §8 crons in UTC."""
    from django_celery_beat.models import PeriodicTask

    tasks = PeriodicTask.objects.filter(name__in=SCHEDULES).select_related("crontab")
    found = {t.name: t for t in tasks}
    problems = []
    for name, (task, minute, hour, day_of_week, _) in SCHEDULES.items():
        row = found.get(name)
        if row is None:
            problems.append(f"{name} missing")
            continue
        if not row.enabled:
            problems.append(f"{name} disabled")
        if row.task != task:
            problems.append(f"{name} runs {row.task}, not {task}")
        cron = row.crontab
        if cron is None:
            problems.append(f"{name} has no crontab")
            continue
        want = (minute, hour, day_of_week, "*", "*")
        got = (cron.minute, cron.hour, cron.day_of_week, cron.day_of_month, cron.month_of_year)
        if got != want:
            problems.append(f"{name} cron {' '.join(got)}, not {' '.join(want)}")
        if str(cron.timezone) != "UTC":
            problems.append(f"{name} in {cron.timezone}, not UTC")
    if problems:
        return False, "; ".join(problems)
    return True, ", ".join(
        f"{name} {minute} {hour} * * {dow} UTC"
        for name, (_, minute, hour, dow, _) in SCHEDULES.items()
    )


@check("schedule_tasks_registered", "schedules")
def schedule_tasks_registered() -> tuple[bool, str]:
    """Every enabled schedule names a task the workers know (a typo there fails silently)."""
    from django_celery_beat.models import PeriodicTask

    from pms_project.celery import app

    app.loader.import_default_modules()
    known = set(app.tasks)
    named = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    unknown = sorted(named - known)
    if unknown:
        return False, "not registered: " + ", ".join(unknown)
    return True, f"{len(named)} scheduled tasks, all registered"
