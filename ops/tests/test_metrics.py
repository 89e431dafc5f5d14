"""GET /metrics: who may read it, the desk's figures after real pipeline runs and cache hits, and
the alert rules naming only exported metrics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from ops import pipelines
from ops.choices import Pipeline
from portfolio.tests.api_support import api_test_defaults  # noqa: F401 (autouse fixture)
from risk import services as risk_services
from risk.models import RiskLimit, RiskSnapshot

from .desk import FRI

URL = "/metrics"
RULES = Path(settings.BASE_DIR, "ops", "prometheus", "alerts.yml")
OUTSIDE = "203.0.113.7"  # TEST-NET-3: in no allowed network
TOKEN = "a-long-random-scrape-token"

# The names the alert rules and the docs rely on (SPEC §9, issue 12).
DESK_METRICS = {
    "pms_pipeline_last_success_timestamp_seconds",
    "pms_pipeline_step_duration_seconds",
    "pms_pipeline_failures_total",
    "pms_limit_breaches",
    "pms_cache_hits_total",
    "pms_cache_misses_total",
    "pms_cache_up",
    "pms_broker_up",
    "pms_database_up",
    "pms_http_requests_total",
    "pms_http_request_duration_seconds_bucket",
}


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} of one allowed scrape."""
    response = client.get(URL)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def exported_names(client) -> set[str]:
    """Every name a PromQL expression may use: samples, and counters without a sample yet."""
    text = client.get(URL).content.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(family.name + "_total")
        names.update(sample.name for sample in family.samples)
    return names


def value(samples, name: str, **labels) -> float:
    return samples[name][tuple(sorted(labels.items()))]


# --- Who may read it ------------------------------------------------------------------------


def test_refused_from_an_unlisted_address_without_credentials(anon_client, db):
    response = anon_client.get(URL, REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"pms_" not in response.content


@override_settings(PMS_METRICS_TOKEN=TOKEN)
def test_a_wrong_token_is_forbidden_and_the_right_one_accepted(anon_client, db):
    wrong = anon_client.get(URL, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403 and b"pms_" not in wrong.content
    other_scheme = anon_client.get(URL, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Token {TOKEN}")
    assert other_scheme.status_code == 403
    right = anon_client.get(URL, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert right.status_code == 200 and b"pms_database_up 1.0" in right.content


def test_no_token_configured_accepts_no_token(anon_client, db):
    # given PMS_METRICS_TOKEN unset (the default), an empty bearer is not a match
    assert settings.PMS_METRICS_TOKEN == ""
    response = anon_client.get(URL, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_the_allowed_networks_need_no_token(anon_client, db):
    # the test client's REMOTE_ADDR is 127.0.0.1, in the default networks
    assert anon_client.get(URL).status_code == 200
    with override_settings(PMS_METRICS_ALLOWED_NETWORKS=["203.0.113.0/24"]):
        assert anon_client.get(URL, REMOTE_ADDR=OUTSIDE).status_code == 200
        assert anon_client.get(URL).status_code == 401  # loopback no longer listed


# --- The desk's figures ---------------------------------------------------------------------


def _limits(portfolio) -> None:
    """Gross leverage over its hard bound (a breach); net exposure over its soft bound only."""
    RiskLimit.objects.create(
        portfolio=portfolio,
        metric="gross_leverage",
        soft=Decimal("0.000001"),
        hard=Decimal("0.000002"),
    )
    RiskLimit.objects.create(
        portfolio=portfolio, metric="net_exposure", soft=Decimal("0.000001"), hard=Decimal(1000)
    )


def test_a_pipeline_run_and_a_cache_hit_appear_with_their_values(anon_client, viewer_client, desk):
    # given limits on the desk, when Friday's EOD runs
    _limits(desk)
    run, _ = pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    assert run.status == "succeeded"
    # and the book is read: warmed by the run (a hit), then emptied (a miss, then a hit)
    before = scrape(anon_client)
    assert viewer_client.get("/api/portfolio/book/")["X-Cache"] == "HIT"
    cache.clear()
    assert viewer_client.get("/api/portfolio/book/")["X-Cache"] == "MISS"
    assert viewer_client.get("/api/portfolio/book/")["X-Cache"] == "HIT"
    after = scrape(anon_client)
    # then the last success is the run's finish, per portfolio and pipeline
    last = "pms_pipeline_last_success_timestamp_seconds"
    stamp = value(after, last, portfolio=desk.code, pipeline="eod")
    assert stamp == pytest.approx(run.finished_at.timestamp(), abs=1e-3)
    # each step's seconds are the run's
    for step, record in run.steps.items():
        seconds = value(after, "pms_pipeline_step_duration_seconds", pipeline="eod", step=step)
        assert seconds == pytest.approx(record["seconds"])
    assert len(after["pms_pipeline_step_duration_seconds"]) == len(pipelines.STEPS["eod"])
    # no failure, but every step has its series at 0
    failures = after["pms_pipeline_failures_total"]
    assert len(failures) == sum(len(steps) for steps in pipelines.STEPS.values())
    assert set(failures.values()) == {0.0}
    # the breaches are the snapshot's
    snapshot = RiskSnapshot.objects.get(portfolio=desk, date=FRI)
    statuses = {row["metric"]: row["status"] for row in snapshot.limits}
    assert statuses == {"gross_leverage": "breach", "net_exposure": "warning"}
    breaches = {
        (dict(labels)["metric"], dict(labels)["level"]): v
        for labels, v in after["pms_limit_breaches"].items()
        if dict(labels)["portfolio"] == desk.code
    }
    assert breaches == {
        ("gross_leverage", "hard"): 1.0,
        ("gross_leverage", "soft"): 0.0,
        ("net_exposure", "hard"): 0.0,
        ("net_exposure", "soft"): 1.0,
    }
    # the book's miss and hit were counted
    hits, misses = "pms_cache_hits_total", "pms_cache_misses_total"
    book = (("namespace", "book"),)
    assert after[hits][book] - before.get(hits, {}).get(book, 0.0) == 2.0
    assert after[misses][book] - before.get(misses, {}).get(book, 0.0) == 1.0
    # and the dependencies are up; the requests were counted by view
    assert value(after, "pms_database_up") == value(after, "pms_cache_up") == 1.0
    assert value(after, "pms_broker_up") == 1.0  # eager: nothing to be down
    book_200 = (("method", "GET"), ("status", "200"), ("view", "api/portfolio/book/"))
    counted = after["pms_http_requests_total"]
    assert book_200 in counted, sorted(counted)
    assert counted[book_200] - before["pms_http_requests_total"].get(book_200, 0.0) == 3.0


def test_a_failure_is_counted_and_a_successful_rerun_does_not_uncount_it(
    anon_client, desk, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("risk engine down")

    # when Friday's EOD fails at the risk snapshot, then runs again successfully
    with monkeypatch.context() as patch:
        patch.setattr(risk_services, "risk_snapshot_record", broken)
        failed, _ = pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    assert failed.status == "failed"
    during = scrape(anon_client)
    assert value(during, "pms_pipeline_failures_total", pipeline="eod", step="risk_snapshot") == 1
    assert "pms_pipeline_last_success_timestamp_seconds" not in during or not any(
        dict(labels).get("portfolio") == desk.code
        for labels in during["pms_pipeline_last_success_timestamp_seconds"]
    )
    # the failed run's steps are the last durations: up to the failed one
    seconds = value(
        during, "pms_pipeline_step_duration_seconds", pipeline="eod", step="risk_snapshot"
    )
    assert seconds == pytest.approx(failed.steps["risk_snapshot"]["seconds"])
    again, _ = pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    assert again.status == "succeeded"
    after = scrape(anon_client)
    # then the counter stayed (a Prometheus counter never goes down) and the success shows
    assert value(after, "pms_pipeline_failures_total", pipeline="eod", step="risk_snapshot") == 1
    assert value(after, "pms_pipeline_failures_total", pipeline="eod", step="attribution") == 0
    assert value(
        after, "pms_pipeline_last_success_timestamp_seconds", portfolio=desk.code, pipeline="eod"
    ) == pytest.approx(again.finished_at.timestamp(), abs=1e-3)


def test_the_collector_reads_the_database_in_a_fixed_number_of_queries(
    anon_client, desk, django_assert_max_num_queries
):
    pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    # SELECT 1 of the database check, then the four aggregated reads
    with django_assert_max_num_queries(5):
        assert anon_client.get(URL).status_code == 200


# --- The alert rules ----------------------------------------------------------------------------


def _rules() -> list[dict]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_the_alert_rules_parse_and_name_only_exported_metrics(anon_client, viewer_client, desk):
    # given every kind of figure present (a run, a breach, a cache miss and hit)
    _limits(desk)
    pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    cache.clear()
    viewer_client.get("/api/portfolio/book/")
    viewer_client.get("/api/portfolio/book/")
    exported = exported_names(anon_client)
    assert DESK_METRICS <= exported, sorted(DESK_METRICS - exported)
    # when the rules are read
    rules = _rules()
    alerts = {rule["alert"] for rule in rules if "alert" in rule}
    assert alerts == {
        "PMSEodMissed",
        "PMSPipelineFailed",
        "PMSLimitBreached",
        "PMSCacheDown",
        "PMSBrokerDown",
        "PMSDatabaseDown",
    }
    used = set()
    for rule in rules:
        used |= set(re.findall(r"\bpms_[a-z0-9_]+", rule["expr"]))
        if "alert" in rule:
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert "docs/OPERATIONAL_RUNBOOK.md" in rule["annotations"]["description"]
            assert rule["annotations"]["summary"]
    # then every metric an expression uses is exported
    assert used >= {"pms_pipeline_failures_total", "pms_limit_breaches", "pms_cache_up"}
    assert used <= exported, sorted(used - exported)


# On PATH, or where scripts/ensure_promtool.sh (run by `make test`) puts it: the virtualenv's bin/.
PROMTOOL = shutil.which("promtool") or shutil.which(
    "promtool", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")
@pytest.mark.parametrize(
    "command",
    [["check", "rules", RULES.name], ["test", "rules", RULES.with_name("alerts_test.yml").name]],
    ids=["check", "unit-tests"],
)
def test_promtool_accepts_the_rules_and_their_unit_tests(command):
    # the unit tests fire each alert on series shaped as /metrics exports them (weekday and
    # weekend EOD ages, a failure in the last hour, hard and soft breaches, a dependency down)
    result = subprocess.run(
        [PROMTOOL, *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=RULES.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_readyz_and_metrics_are_not_in_the_api_schema():
    # they are plain Django views like /healthz: no login, no API body, nothing to fuzz
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    assert paths and "/api/portfolio/book/" in paths
    assert not {"/readyz", "/metrics", "/healthz"} & set(paths)


def test_a_bad_allowed_network_is_refused_at_start():
    # given a network that does not parse, when the settings load, then they fail naming it
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="pms_project.settings")
    env["PMS_METRICS_ALLOWED_NETWORKS"] = "10.0.0.0/8,not-a-network"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "PMS_METRICS_ALLOWED_NETWORKS: 'not-a-network' is not a network" in result.stderr
