"""GET /api/ops/pipeline-runs/: the runs of the portfolio, filtered, read-only."""

from __future__ import annotations

import pytest

from ops import pipelines
from ops.choices import Pipeline
from portfolio.tests.api_support import (
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
)
from risk import services as risk_services

from .desk import FRI, NEXT_MON, SAT

URL = "/api/ops/pipeline-runs/"


@pytest.fixture
def runs(desk, monkeypatch):
    """Friday's EOD failed at the risk snapshot, then the weekend skipped, then Monday's
    pre-open succeeded (from Thursday's close: Friday's was never completed — the pack warns)."""

    def broken(**kwargs):
        raise RuntimeError("risk engine down")

    with monkeypatch.context() as patch:
        patch.setattr(risk_services, "risk_snapshot_record", broken)
        pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=FRI)
    pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.EOD, day=SAT)
    pipelines.run_inprocess(portfolio=desk, pipeline=Pipeline.PREOPEN, day=NEXT_MON)
    return desk


def test_the_runs_newest_first_with_steps_in_order(viewer_client, runs):
    response = viewer_client.get(URL)
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["pipeline"], r["business_date"], r["status"]) for r in rows] == [
        ("preopen", "2024-03-11", "succeeded"),
        ("eod", "2024-03-09", "skipped"),
        ("eod", "2024-03-08", "failed"),
    ]
    preopen, weekend, failed = rows
    assert [s["name"] for s in preopen["steps"]] == [
        s.name for s in pipelines.STEPS[Pipeline.PREOPEN]
    ]
    assert all(s["status"] == "succeeded" and s["seconds"] >= 0 for s in preopen["steps"])
    assert preopen["seconds"] > 0 and preopen["portfolio"] == "MACRO1"
    assert weekend["note"] == "2024-03-09 (Saturday) is not a business day of MACRO1"
    assert failed["failed_step"] == "risk_snapshot"
    assert failed["error"] == "risk_snapshot: RuntimeError: risk engine down"
    assert [s["name"] for s in failed["steps"]] == ["mark_to_market", "risk_snapshot"]
    assert failed["steps"][1]["error"] == "RuntimeError: risk engine down"


@pytest.mark.parametrize(
    "query, expected",
    [
        ("pipeline=eod", ["2024-03-09", "2024-03-08"]),
        ("status=failed", ["2024-03-08"]),
        ("from=2024-03-09", ["2024-03-11", "2024-03-09"]),
        ("to=2024-03-08", ["2024-03-08"]),
        ("from=2024-03-09&to=2024-03-10&pipeline=preopen", []),
        ("portfolio=MACRO1&status=succeeded", ["2024-03-11"]),
    ],
)
def test_filters(viewer_client, runs, query, expected):
    response = viewer_client.get(f"{URL}?{query}")
    assert response.status_code == 200
    assert [r["business_date"] for r in response.json()["results"]] == expected


@pytest.mark.parametrize(
    "query, field",
    [
        ("pipeline=lunch", "pipeline"),
        ("status=done", "status"),
        ("from=08/03/2024", "from"),
        ("to=", "to"),
        ("portfolio=NOPE", "portfolio"),
        ("limit=0", "limit"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(viewer_client, runs, query, field):
    assert_400_naming(viewer_client.get(f"{URL}?{query}"), field)


def test_read_only_and_login_required(anon_client, trader_client, runs):
    assert anon_client.get(URL).status_code == 401
    assert trader_client.post(URL, {}, format="json").status_code == 405
