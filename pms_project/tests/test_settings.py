"""Settings come from the environment only, through helpers that fail loudly on a bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

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


def _settings_in_subprocess(env: dict[str, str]) -> list[str]:
    code = (
        "import django; from django.conf import settings; django.setup();"
        "print(settings.DATABASES['default']['ENGINE']);"
        "print(settings.CACHES['default']['BACKEND']);"
        "print(settings.CELERY_BROKER_URL or '-'); print(settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def test_no_variables_give_the_embedded_default():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("CELERY_BROKER_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "pms_project.settings"
    assert _settings_in_subprocess(env) == [
        "django.db.backends.sqlite3",
        "django.core.cache.backends.locmem.LocMemCache",
        "-",
        "True",
    ]


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
        "django_redis.cache.RedisCache",
        "redis://cache.example:6379/2",
        "False",
    ]
