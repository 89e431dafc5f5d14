"""Settings come from the environment only, through helpers that fail loudly on a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pms_project import embedded_pg
from pms_project.settings import env_bool, env_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("", False)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("PMS_FLAG", raw)
    assert env_bool("PMS_FLAG") is expected


def test_env_bool_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("PMS_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="PMS_FLAG"):
        env_bool("PMS_FLAG")


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("PMS_HOSTS", " a.example , b.example,,")
    assert env_list("PMS_HOSTS", "") == ["a.example", "b.example"]


def _settings_in_subprocess(env: dict[str, str], check: bool = True) -> list[str]:
    code = (
        "import django; from django.conf import settings; django.setup(); db = settings.DATABASES;"
        "print(db['default']['ENGINE'], db['default']['HOST'], db['default']['NAME']);"
        "print(settings.CACHES['default']['BACKEND']);"
        "print(settings.CELERY_BROKER_URL or '-'); print(settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=check
    )
    return out.stdout.split() if check else [out.stderr]


def test_no_variables_give_the_embedded_default(tmp_path):
    # Settings start the embedded PostgreSQL (in a temporary data folder here) and point at it.
    pgdata = tmp_path / "pgdata"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("CELERY_BROKER_URL", None)
    env.update(DJANGO_SETTINGS_MODULE="pms_project.settings", PMS_EMBEDDED_PGDATA=str(pgdata))
    try:
        values = _settings_in_subprocess(env)
        url = embedded_pg.running_url(pgdata)
    finally:
        embedded_pg.stop(pgdata)
    assert url is not None, "the embedded PostgreSQL is not running"
    socket_dir = url.split("@")[1].split(":")[0].replace("%2F", "/")  # the server's socket folder
    assert values == [
        "django.db.backends.postgresql",
        socket_dir,
        "pms",
        "django.core.cache.backends.locmem.LocMemCache",
        "-",
        "True",
    ]
    assert embedded_pg.running_url(pgdata) is None


def test_a_database_other_than_postgresql_is_refused():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="pms_project.settings")
    env["DATABASE_URL"] = "sqlite:///db.sqlite3"
    (stderr,) = _settings_in_subprocess(env, check=False)
    assert "DATABASE_URL must point at PostgreSQL" in stderr


def test_production_variables_select_postgres_redis_and_a_broker():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="pms_project.settings",
        DATABASE_URL="postgres://u:p@db.example:5432/pms",
        REDIS_URL="redis://cache.example:6379/1",
        CELERY_BROKER_URL="redis://cache.example:6379/2",
    )
    assert _settings_in_subprocess(env) == [
        "django.db.backends.postgresql",
        "db.example",
        "pms",
        "django_redis.cache.RedisCache",
        "redis://cache.example:6379/2",
        "False",
    ]


def test_the_broker_defaults_to_the_database_after_the_caches_and_never_shares_it():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="pms_project.settings")
    env.update(DATABASE_URL="postgres://u:p@db.example:5432/pms", REDIS_URL="redis://r:6379/1")
    env.pop("CELERY_BROKER_URL", None)
    assert _settings_in_subprocess(env)[-2:] == ["redis://r:6379/2", "False"]
    # the same database as the cache is refused at start
    env["CELERY_BROKER_URL"] = "redis://r:6379/1"
    (stderr,) = _settings_in_subprocess(env, check=False)
    assert "CELERY_BROKER_URL must not be the cache's Redis database" in stderr
    # set but empty: no broker, tasks run in-process
    env["CELERY_BROKER_URL"] = ""
    assert _settings_in_subprocess(env)[-2:] == ["-", "True"]


def test_the_price_drop_folder_is_taken_from_the_project_and_the_settle_time_checked():
    # A worker's working directory must not decide where the drop folder is.
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="pms_project.settings")
    env.update(PMS_PRICE_DROP_DIR="drops/in", PMS_PRICE_DROP_SETTLE_SECONDS="2.5")
    env["PYTHONPATH"] = str(ROOT)  # run from /, not from the project
    code = (
        "from django.conf import settings;"
        "print(settings.PMS_PRICE_DROP_DIR, settings.PMS_PRICE_DROP_SETTLE_SECONDS)"
    )

    def run(env):
        return subprocess.run(
            [sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True
        )

    assert run(env).stdout.split() == [str(ROOT / "drops" / "in"), "2.5"]
    env.pop("PMS_PRICE_DROP_DIR")
    assert run(env).stdout.split()[0] == str(ROOT / "var" / "prices" / "incoming")
    env["PMS_PRICE_DROP_SETTLE_SECONDS"] = "-1"
    assert "PMS_PRICE_DROP_SETTLE_SECONDS='-1' must be between" in run(env).stderr
