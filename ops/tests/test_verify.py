"""``manage.py verify`` against real PostgreSQL and Redis: the pipelines' desk, marked and run
through Friday's EOD and Monday's pre-open, is a healthy system; breaking one part of it fails
the check that names that part, and only that one."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F

from ops import pipelines
from ops.checks import FAIL, WARN, config, docs
from ops.checks.base import Check, run_one
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from portfolio.models import NavSnapshot, Portfolio, Position, PositionSnapshot
from portfolio.tests.fixtures import module_data
from risk.models import RiskSnapshot

from .desk import FRI, MON, NEXT_MON, THU, desk_build

GROUPS = {
    "configuration",
    "database",
    "cache",
    "broker",
    "schedules",
    "services",
    "integrity",
    "docs",
}
# As many as the predecessor's verify_phase3.py (SPEC §9).
PREDECESSOR_CHECKS = 29
# Nothing listens on port 1 (as pms_project/tests/test_cache.py's DEAD cache).
DEAD_REDIS = "redis://127.0.0.1:1/1"


@pytest.fixture(scope="module")
def _healthy_desk(django_db_setup, django_db_blocker):
    with module_data(django_db_blocker):
        portfolio = desk_build()
        for pipeline, day in ((Pipeline.EOD, FRI), (Pipeline.PREOPEN, NEXT_MON)):
            pipelines.run_inprocess(portfolio=portfolio, pipeline=pipeline, day=day)
        yield portfolio.pk


def _docs(root) -> None:
    """The five documents with just enough content for their checks."""
    (root / "docs").mkdir()
    sections = "".join(f"## Part {n}\ntext\n" for n in range(docs.MIN_SECTIONS))
    (root / "README.md").write_text(f"# PMS\n{sections}")
    (root / "docs" / "ARCHITECTURE.md").write_text(f"# Architecture\n{sections}")
    items = "".join(f"- [ ] item {n}\n" for n in range(docs.MIN_CHECKLIST_ITEMS))
    (root / "docs" / "GOLIVE_CHECKLIST.md").write_text(f"# Go-live\n{items}")
    (root / "docs" / "OPERATIONAL_RUNBOOK.md").write_text(
        "06:00 pre-market … 17:30 close\nWeekly\n"
    )
    scenarios = "".join(
        f"## Scenario {n}\n`manage.py restore`\n" for n in range(docs.MIN_DR_SCENARIOS)
    )
    (root / "docs" / "DR_PLAYBOOK.md").write_text(f"# DR\n{scenarios}")


def _broker_url(redis_url: str) -> str:
    """The suite's broker database: the one after the cache's, as the settings derive it."""
    parts = urlsplit(redis_url)
    return parts._replace(path=f"/{int(parts.path.lstrip('/') or 0) + 1}").geturl()


@pytest.fixture
def healthy(db, _healthy_desk, settings, tmp_path) -> Portfolio:
    """Production settings (HTTPS behind a proxy, a real key, a broker) on the healthy desk."""
    cache.clear()
    settings.DEBUG = False
    settings.SECRET_KEY = secrets.token_urlsafe(config.SECRET_KEY_MIN_LENGTH)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = config.HSTS_MIN_SECONDS
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CELERY_BROKER_URL = _broker_url(settings.REDIS_URL)
    _docs(tmp_path)
    settings.PMS_DOCS_ROOT = tmp_path
    return Portfolio.objects.get(pk=_healthy_desk)


def verify(*args: str) -> tuple[list[dict], CommandError | None]:
    """Run ``verify --json``: the results and the error it ended with (None: exit 0)."""
    out = io.StringIO()
    try:
        call_command("verify", "--json", *args, stdout=out)
        error = None
    except CommandError as exc:
        error = exc
    return json.loads(out.getvalue()), error


def failing(results: list[dict]) -> dict[str, str]:
    return {r["name"]: r["detail"] for r in results if not r["ok"]}


def test_a_healthy_system_passes_every_check_and_exits_0(healthy):
    # given the marked desk, its pipelines run, production settings, the docs
    # when verify runs
    results, error = verify()
    # then every check of every group passes, at least as many as the predecessor's
    assert error is None
    assert failing(results) == {}
    assert len(results) >= PREDECESSOR_CHECKS
    assert len({r["name"] for r in results}) == len(results)
    assert {r["group"] for r in results} == GROUPS
    assert all(set(r) == {"name", "group", "ok", "level", "detail"} for r in results)
    by_name = {r["name"]: r["detail"] for r in results}
    assert by_name["positions_match_ledger"] == "1 portfolio(s) consistent"
    assert by_name["cache_broker_separate"].startswith("cache on /")


def test_a_position_written_around_the_ledger_fails_the_ledger_check_naming_it(healthy):
    # given the UP position's quantity changed behind the services' back
    Position.objects.filter(portfolio=healthy, instrument__symbol="UP").update(quantity=41)
    # when verify runs
    results, error = verify()
    # then exactly the ledger check fails, naming the portfolio and the position, and exit is 1
    assert set(failing(results)) == {"positions_match_ledger"}
    detail = failing(results)["positions_match_ledger"]
    assert detail.startswith("MACRO1: UP/TREND: stored 41@") and "; ledger 40@" in detail
    assert error is not None and error.returncode == 1
    assert "positions_match_ledger" in str(error)


WED = MON + dt.timedelta(days=2)


def _nav_nudged(portfolio):
    NavSnapshot.objects.filter(portfolio=portfolio, date=THU).update(nav=F("nav") + 1)


def _wednesday_unmarked(portfolio):
    PositionSnapshot.objects.filter(position__portfolio=portfolio, date=WED).delete()
    NavSnapshot.objects.filter(portfolio=portfolio, date=WED).delete()


def _friday_mark_lost(portfolio):
    PositionSnapshot.objects.filter(
        position__portfolio=portfolio, date=FRI, position__instrument__symbol="FGBL"
    ).delete()


def _friday_risk_lost(portfolio):
    RiskSnapshot.objects.filter(portfolio=portfolio, date=FRI).delete()


def _eod_failed(portfolio):
    PipelineRun.objects.filter(portfolio=portfolio, pipeline=Pipeline.EOD).update(
        status=RunStatus.FAILED, failed_step="risk"
    )


@pytest.mark.parametrize(
    "corrupt, named, says",
    [
        (_nav_nudged, {"nav_continuity"}, f"MACRO1: {THU}: NAV"),
        (_wednesday_unmarked, {"nav_continuity", "nav_every_business_day"}, f"first {WED}"),
        (_friday_mark_lost, {"open_positions_marked"}, f"FGBL/MR has no mark on {FRI}"),
        (_friday_risk_lost, {"risk_attribution_current"}, f"no risk snapshot on {FRI}"),
        (_eod_failed, {"last_pipeline_runs"}, f"eod {FRI} failed at risk"),
    ],
)
def test_each_integrity_break_fails_the_check_that_names_it(healthy, corrupt, named, says):
    # given one part of the stored book broken behind the services' back
    corrupt(healthy)
    # when verify runs, then the checks of that part fail, naming what is wrong
    results, error = verify()
    assert set(failing(results)) == named
    assert any(says in detail for detail in failing(results).values())
    assert error is not None and error.returncode == 1


def test_an_unreachable_redis_fails_the_cache_round_trip_naming_the_error(healthy, settings):
    # given the cache pointed at a port where nothing listens
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05},
        }
    }
    # when verify runs
    results, error = verify()
    # then the round trip fails with the connection error; nothing else does
    assert set(failing(results)) == {"cache_round_trip"}
    assert "ConnectionError" in failing(results)["cache_round_trip"]
    assert error is not None and "cache_round_trip" in str(error)


def test_an_unreachable_broker_fails_the_broker_check(healthy, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/2"
    results, error = verify()
    assert set(failing(results)) == {"broker_reachable"}
    assert error is not None


def test_cache_and_broker_on_one_redis_database_fail(healthy, settings):
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    results, _ = verify()
    assert set(failing(results)) == {"cache_broker_separate"}


def test_development_settings_warn_without_failing_and_strict_fails_them(healthy, settings):
    # given the demo's settings: DEBUG on, the development key, plain HTTP, no broker
    settings.DEBUG = True
    settings.SECRET_KEY = "django-insecure-dev-key-set-DJANGO_SECRET_KEY-in-production"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    settings.SECURE_HSTS_SECONDS = 0
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.CELERY_BROKER_URL = ""
    advisory = {"debug_off", "secret_key", "secure_cookies", "hsts", "https", "broker_configured"}
    # when verify runs, then those are warnings and the run passes
    results, error = verify()
    assert error is None
    assert set(failing(results)) == advisory
    assert {r["level"] for r in results if not r["ok"]} == {"warning"}
    # and with --strict they fail it
    results, error = verify("--strict")
    assert {r["level"] for r in results if not r["ok"]} == {"error"}
    assert error is not None and "secret_key" in str(error)


def test_thin_docs_fail_naming_what_is_short(healthy, settings):
    checklist = settings.PMS_DOCS_ROOT / "docs" / "GOLIVE_CHECKLIST.md"
    checklist.write_text("- [ ] one\n" * (docs.MIN_CHECKLIST_ITEMS - 1))
    (settings.PMS_DOCS_ROOT / "docs" / "DR_PLAYBOOK.md").unlink()
    results, _ = verify()
    assert failing(results) == {
        "doc_golive_checklist": (
            f"docs/GOLIVE_CHECKLIST.md: {docs.MIN_CHECKLIST_ITEMS - 1} checklist items "
            f"(≥ {docs.MIN_CHECKLIST_ITEMS})"
        ),
        "doc_dr_playbook": "docs/DR_PLAYBOOK.md missing",
    }


def test_the_table_names_each_check_with_its_status_and_no_colour_off_a_terminal(healthy):
    out = io.StringIO()
    call_command("verify", stdout=out)
    text = out.getvalue()
    lines = text.splitlines()
    assert "\x1b[" not in text
    assert lines[0].split() == ["check", "group", "status", "detail"]
    rows = [line.split()[:3] for line in lines[2:-1]]
    assert ["positions_match_ledger", "integrity", "PASS"] in rows
    assert lines[-1].startswith(f"{len(rows)} checks: {len(rows)} passed, 0 warnings, 0 failed")


def test_a_check_that_raises_is_a_failure_naming_the_exception_and_dev_only_warns_if_advisory():
    def broken() -> tuple[bool, str]:
        raise RuntimeError("no route to host")

    plain = Check("broken", "database", broken)
    advisory = Check("broken_advisory", "configuration", broken, advisory_in_dev=True)
    result = run_one(plain, production=False)
    assert (result.ok, result.status, result.detail) == (
        False,
        FAIL,
        "RuntimeError: no route to host",
    )
    assert run_one(advisory, production=False).status == WARN
    assert run_one(advisory, production=True).status == FAIL
