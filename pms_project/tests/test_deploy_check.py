"""``manage.py check --deploy --fail-level WARNING`` passes with production's environment and
fails with the development defaults, so it can gate a deployment (docs/GOLIVE_CHECKLIST.md).

Each case runs manage.py in a subprocess: settings are read once, at import, from the environment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_PROXY_SSL_HEADER": "true",
    "DJANGO_SSL_REDIRECT": "true",
    "ALLOWED_HOSTS": "pms.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://pms.example.com",
}
# What a variable left over in the developer's shell must not change.
OURS = {*PRODUCTION, "DJANGO_HSTS_INCLUDE_SUBDOMAINS", "DJANGO_HSTS_PRELOAD", "PMS_THROTTLE_WRITES"}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The suite's DATABASE_URL and REDIS_URL (never the embedded default); no broker.
    base = {k: v for k, v in os.environ.items() if k not in OURS}
    base.update(DJANGO_SETTINGS_MODULE="pms_project.settings", CELERY_BROKER_URL="", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True
    )


@pytest.mark.slow
def test_production_settings_pass_check_deploy_at_warning_level():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_the_development_defaults_fail_it():
    # Given DEBUG on, the development key, no HTTPS settings
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="true")
    # Then the check fails, naming each
    assert result.returncode == 1
    for warning in ("security.W018", "security.W009", "security.W004", "security.W008"):
        assert warning in result.stderr


@pytest.mark.slow
def test_switching_hsts_subdomains_off_is_a_warning_to_accept():
    env = {**PRODUCTION, "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "false", "DJANGO_HSTS_PRELOAD": "false"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 1
    assert "security.W005" in result.stderr and "security.W021" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PMS_THROTTLE_WRITES", "fast"),
        ("PMS_THROTTLE_WRITES", "0/min"),
        ("DJANGO_CSRF_TRUSTED_ORIGINS", "pms.example.com"),
        ("PMS_LOGIN_ATTEMPTS_PER_MINUTE", "0"),
    ],
)
def test_a_bad_value_is_refused_at_start_naming_the_variable(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr
