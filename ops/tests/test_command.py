"""``run_pipeline``: the chain in process, each step's time printed, exit 1 naming a failure."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ops.choices import RunStatus
from ops.models import PipelineRun

from .desk import FRI, NEXT_MON, SAT


def run_pipeline(*args) -> str:
    out = StringIO()
    call_command("run_pipeline", *args, stdout=out)
    return out.getvalue()


def test_eod_then_preopen_print_each_step_and_its_time(desk):
    out = run_pipeline("eod", "--date", FRI.isoformat())
    for step in ("mark_to_market", "risk_snapshot", "attribution", "warm_caches"):
        assert re.search(rf"^  {step} +succeeded +\d+\.\d{{3}} s", out, re.M), out
    assert "MACRO1 eod 2024-03-08: succeeded in" in out
    out = run_pipeline("preopen", "--date", NEXT_MON.isoformat(), "--portfolio", "MACRO1")
    assert re.search(r"^  expire_proposals +succeeded .*\{\"expired\": 1\}", out, re.M), out
    assert "MACRO1 preopen 2024-03-11: succeeded" in out


def test_again_is_a_no_op_unless_forced(desk):
    run_pipeline("eod", "--date", FRI.isoformat())
    assert "already succeeded; nothing run" in run_pipeline("eod", "--date", FRI.isoformat())
    out = run_pipeline("eod", "--date", FRI.isoformat(), "--force")
    assert "succeeded (forced)" in out
    assert PipelineRun.objects.get(business_date=FRI).attempts == 2


def test_a_failed_step_exits_non_zero_naming_it(desk):
    # Monday's EOD: no close of Monday 2024-03-11 exists
    with pytest.raises(CommandError) as caught:
        run_pipeline("eod", "--date", NEXT_MON.isoformat())
    message = str(caught.value)
    assert message.startswith("MACRO1 eod 2024-03-11: failed at mark_to_market: date: no close")
    run = PipelineRun.objects.get(business_date=NEXT_MON)
    assert run.status == RunStatus.FAILED and run.failed_step == "mark_to_market"


def test_a_weekend_is_skipped_and_bad_arguments_refused(desk):
    assert "skipped — 2024-03-09 (Saturday) is not a business day" in run_pipeline(
        "eod", "--date", SAT.isoformat()
    )
    with pytest.raises(CommandError, match="portfolio: unknown portfolio 'NOPE'"):
        run_pipeline("eod", "--portfolio", "NOPE")
    with pytest.raises(CommandError, match="invalid choice"):
        run_pipeline("lunch")
