"""docker-compose.yml describes the production stack the docs promise (SPEC §9).

Docker may not run containers on the machines that run the suite, so the file is parsed (PyYAML,
with the ``<<`` merge of the ``x-app`` anchor resolved as compose resolves it) and checked:
the services and their commands, one beat, the healthchecks, named volumes, and that every app
service shares one configuration — the same env_file, DATABASE_URL, REDIS_URL and broker — built
from ``.env.example``, which must list every variable the application reads.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_example() -> dict[str, str]:
    """NAME → value of .env.example, commented-out settings included (value after ``# NAME=``)."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def command(service: dict) -> str:
    return " ".join(service.get("command", []))


def test_the_stack_has_its_seven_services(services):
    assert set(services) == {"postgres", "redis", *APP_SERVICES}


def test_postgres_16_and_redis_7_with_their_healthchecks(services):
    assert services["postgres"]["image"] == "postgres:16"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["image"] == "redis:7"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    # Queued tasks survive a restart of Redis (DR_PLAYBOOK.md, "Redis lost").
    assert "--appendonly" in services["redis"]["command"]


def test_the_image_carries_pg_dump_of_the_servers_major_version(services):
    """`manage.py backup` runs pg_dump in the app image; pg_dump refuses a newer server."""
    major = services["postgres"]["image"].split(":")[1]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG PG_MAJOR={major}" in dockerfile
    assert "postgresql-client-${PG_MAJOR}" in dockerfile


def test_app_services_commands(services):
    assert command(services["migrate"]) == "python manage.py migrate --noinput"
    assert command(services["web"]).startswith(
        "gunicorn pms_project.wsgi:application --bind 0.0.0.0:8000"
    ) or "exec gunicorn pms_project.wsgi:application --bind 0.0.0.0:8000" in command(
        services["web"]
    )
    assert command(services["worker"]).startswith("celery -A pms_project worker")
    beat = command(services["beat"])
    assert beat.startswith("celery -A pms_project beat")
    assert "--scheduler django_celery_beat.schedulers:DatabaseScheduler" in beat
    # Only the worker consumes tasks: no embedded beat (-B) anywhere, so beat stays unique.
    for name in APP_SERVICES:
        assert " -B" not in command(services[name]) and "--beat" not in command(services[name])


def test_exactly_one_beat(services):
    beat = services["beat"]
    assert beat["deploy"]["replicas"] == 1
    assert "scale" not in beat
    assert [name for name in services if "beat" in command(services[name]).split()] == ["beat"]


def test_healthchecks_of_web_and_worker(services):
    web = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in web
    worker = " ".join(services["worker"]["healthcheck"]["test"])
    assert "celery -A pms_project inspect ping" in worker


def test_app_services_start_after_healthy_services_and_migrations(services):
    assert services["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        assert services[name]["restart"] == "unless-stopped"


def test_named_volumes(compose, services):
    named = set(compose["volumes"])
    assert {"pgdata", "redisdata", "prices", "backups"} <= named
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redisdata:/data" in services["redis"]["volumes"]
    for name in APP_SERVICES:
        sources = {volume.split(":")[0] for volume in services[name]["volumes"]}
        assert sources <= named, f"{name} mounts a host path or an undeclared volume"
    # The drop folder is shared: the vendor writes, the worker's ingest renames.
    assert "prices:/app/var/prices" in services["worker"]["volumes"]
    assert "backups:/app/backups" in services["web"]["volumes"]


def test_app_services_share_one_configuration(services):
    first = services[APP_SERVICES[0]]
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == [".env"], name
        assert service["environment"] == first["environment"], name
        assert service["build"] == "."
    env = first["environment"]
    assert (
        env["DATABASE_URL"].startswith("postgres://pms:")
        and "@postgres:5432/pms" in env["DATABASE_URL"]
    )
    assert env["REDIS_URL"] == "redis://redis:6379/1"
    # Never the cache's database: a cache flush must not drop queued tasks.
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/2"
    assert env["DJANGO_DEBUG"] == "false"


def test_env_example_lists_every_setting_the_application_reads(services):
    settings_py = (ROOT / "pms_project" / "settings.py").read_text()
    read = set(re.findall(r'env_(?:str|bool|float|int|list)\(\s*"([A-Z][A-Z0-9_]*)"', settings_py))
    read |= set(
        re.findall(
            r'environ\.get\("([A-Z][A-Z0-9_]*)"',
            (ROOT / "pms_project" / "embedded_pg.py").read_text(),
        )
    )
    assert {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "PMS_PRICE_DROP_DIR"} <= read
    example = env_example()
    assert read <= set(example), f"missing from .env.example: {sorted(read - set(example))}"
    # What compose interpolates comes from .env too.
    interpolated = set(
        re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "docker-compose.yml").read_text())
    )
    assert interpolated <= set(example), sorted(interpolated - set(example))


def test_env_example_holds_placeholders_not_secrets():
    example = env_example()
    assert example["DJANGO_DEBUG"] == "false"
    for name in ("DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "PMS_METRICS_TOKEN"):
        assert example[name].startswith("change-me"), name
    assert "*" not in example["ALLOWED_HOSTS"]
    # The placeholder password is the one DATABASE_URL carries, so a copy works once both change.
    assert f":{example['POSTGRES_PASSWORD']}@" in example["DATABASE_URL"]
