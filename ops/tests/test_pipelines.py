"""The pipelines in process (the suite's eager Celery: each chain applied inline, through the
same tasks as on a worker), against real PostgreSQL and Redis."""

from __future__ import annotations

from attribution.models import AttributionResult
from briefing.models import MorningPack
from ops import pipelines
from ops.choices import Pipeline, RunStatus
from ops.models import PipelineRun
from pms_project.celery import app
from pms_project.errors import PMSError
from portfolio.models import NavSnapshot
from risk import services as risk_services
from risk.models import RiskSnapshot
from trades.choices import ProposalSource, ProposalStatus
from trades.models import TradeProposal

from .desk import FRI, NEXT_MON, SAT, THU, day_rows


def run(portfolio, pipeline=Pipeline.EOD, day=FRI, force=False):
    return pipelines.run_inprocess(portfolio=portfolio, pipeline=pipeline, day=day, force=force)


def assert_in_order(result: PipelineRun, pipeline: str) -> None:
    """Every step of the pipeline ran, one after the other (the JSON keeps no key order)."""
    names = [s.name for s in pipelines.STEPS[pipeline]]
    assert set(result.steps) == set(names)
    starts = [result.steps[name]["started_at"] for name in names]
    assert starts == sorted(starts)


def test_the_eod_marks_stores_risk_and_attribution_and_warms_in_order(desk):
    # given Thursday marked, when the EOD of Friday runs
    result, outcome = run(desk)
    # then every step ran in order, timed, with its service's summary
    assert outcome == pipelines.STARTED
    assert result.status == RunStatus.SUCCEEDED and result.attempts == 1 and not result.forced
    assert_in_order(result, Pipeline.EOD)
    assert all(s["status"] == "succeeded" and s["seconds"] >= 0 for s in result.steps.values())
    nav = NavSnapshot.objects.get(portfolio=desk, date=FRI)
    assert result.steps["mark_to_market"]["result"]["nav"] == str(nav.nav)
    risk = RiskSnapshot.objects.get(portfolio=desk, date=FRI)
    assert result.steps["risk_snapshot"]["result"]["scenarios"] == risk.scenarios > 60
    assert AttributionResult.objects.filter(portfolio=desk, as_of=FRI).count() == 6
    assert result.steps["warm_caches"]["result"] == {
        "book": True,
        "risk": True,
        "briefing": False,  # no morning pack yet: nothing to warm
        "attribution": True,
    }
    assert result.started_at <= result.finished_at and result.error == ""


def test_a_second_run_of_a_succeeded_date_is_a_no_op(desk):
    first, _ = run(desk)
    before = day_rows(desk, FRI)
    # when the EOD of Friday is started again without --force
    again, outcome = run(desk)
    # then nothing ran: same run, same attempt, same rows
    assert outcome == pipelines.DONE
    assert again.pk == first.pk and again.attempts == 1 and again.steps == first.steps
    assert day_rows(desk, FRI) == before


def test_a_forced_run_gives_identical_rows(desk):
    run(desk)
    run(desk, Pipeline.PREOPEN, NEXT_MON)
    eod, preopen = day_rows(desk, FRI), day_rows(desk, NEXT_MON)
    assert eod["nav"] and eod["positions"] and eod["risk"] and len(eod["attribution"]) == 6
    assert preopen["signals"] and preopen["packs"]
    generated = TradeProposal.objects.filter(portfolio=desk, source=ProposalSource.GENERATED)
    assert generated.count() > 0
    # when both are forced
    forced, outcome = run(desk, force=True)
    assert outcome == pipelines.STARTED and forced.forced and forced.attempts == 2
    forced_pre, _ = run(desk, Pipeline.PREOPEN, NEXT_MON, force=True)
    assert forced_pre.status == RunStatus.SUCCEEDED and forced_pre.forced
    # then every row is the same — no proposal duplicated, the same ids kept
    assert day_rows(desk, FRI) == eod
    assert day_rows(desk, NEXT_MON) == preopen
    assert forced_pre.steps["proposals"]["result"]["created"] == 0


def test_the_preopen_expires_proposes_and_packs_from_the_previous_close(desk):
    run(desk)  # Friday's close
    stale = TradeProposal.objects.get(portfolio=desk, date=THU)
    result, _ = run(desk, Pipeline.PREOPEN, NEXT_MON)
    assert result.status == RunStatus.SUCCEEDED
    assert_in_order(result, Pipeline.PREOPEN)
    stale.refresh_from_db()
    assert stale.status == ProposalStatus.EXPIRED
    assert result.steps["expire_proposals"]["result"] == {"expired": 1}
    pending = TradeProposal.objects.filter(portfolio=desk, status=ProposalStatus.PENDING)
    assert {p.date for p in pending} == {NEXT_MON}
    assert pending.count() == result.steps["proposals"]["result"]["created"] > 0
    pack = MorningPack.objects.get(portfolio=desk, date=NEXT_MON)
    assert pack.as_of == FRI and pack.content["warnings"] == []
    assert result.steps["morning_pack"]["result"] == {"as_of": FRI.isoformat(), "warnings": 0}


def test_a_failing_middle_step_fails_the_run_names_it_and_stops_the_chain(desk, monkeypatch):
    risk_services.risk_snapshot_record(portfolio=desk, business_date=THU)
    thursday = day_rows(desk, THU)

    def broken(**kwargs):
        raise PMSError("the risk engine is broken", field="date")

    monkeypatch.setattr(risk_services, "risk_snapshot_record", broken)
    # when the EOD of Friday meets a failing risk snapshot
    result, outcome = run(desk)
    # then the run failed at that step with its error; later steps never ran
    assert outcome == "failed"
    assert result.status == RunStatus.FAILED and result.failed_step == "risk_snapshot"
    assert result.error == "risk_snapshot: date: the risk engine is broken"
    assert result.steps["mark_to_market"]["status"] == "succeeded"
    assert result.steps["risk_snapshot"]["status"] == "failed"
    assert "attribution" not in result.steps and "warm_caches" not in result.steps
    assert not RiskSnapshot.objects.filter(portfolio=desk, date=FRI).exists()
    assert not AttributionResult.objects.filter(portfolio=desk, as_of=FRI).exists()
    # and the previous day's data is intact
    assert day_rows(desk, THU) == thursday
    # and once mended, a plain start runs the failed date again (a failure is not a success)
    monkeypatch.undo()
    again, outcome = run(desk)
    assert outcome == pipelines.STARTED
    assert again.status == RunStatus.SUCCEEDED and again.attempts == 2
    assert again.failed_step == "" and again.error == ""


def test_a_weekend_is_recorded_as_skipped_and_nothing_runs(desk):
    result, outcome = run(desk, day=SAT)
    assert outcome == pipelines.SKIPPED
    assert result.status == RunStatus.SKIPPED and result.steps == {} and result.attempts == 0
    assert result.note == "2024-03-09 (Saturday) is not a business day of MACRO1"
    assert not NavSnapshot.objects.filter(date=SAT).exists()
    pre, outcome = run(desk, Pipeline.PREOPEN, SAT)
    assert outcome == pipelines.SKIPPED and pre.status == RunStatus.SKIPPED
    assert not MorningPack.objects.filter(date=SAT).exists()


def test_a_start_while_running_is_refused_and_counted_and_its_owner_resumes(desk):
    # given a run started by one chain and not finished (its worker busy on a step)
    owner = pipelines.run_begin(portfolio=desk, pipeline=Pipeline.EOD, day=FRI, token="a" * 32)
    assert owner["outcome"] == pipelines.STARTED
    # when another start comes — even forced
    other = pipelines.run_begin(
        portfolio=desk, pipeline=Pipeline.EOD, day=FRI, force=True, token="b" * 32
    )
    # then it is refused, not queued, and the refusal is on the row
    assert other["outcome"] == pipelines.REFUSED
    row = PipelineRun.objects.get(pk=owner["run"])
    assert row.status == RunStatus.RUNNING and row.refusals == 1 and row.attempts == 1
    # and its steps do nothing
    assert pipelines.step_run(other, "mark_to_market", lambda p, d: 1 / 0) == other
    # while a redelivered message of the owner's chain resumes the run
    again = pipelines.run_begin(portfolio=desk, pipeline=Pipeline.EOD, day=FRI, token="a" * 32)
    assert again["outcome"] == pipelines.RESUMED


def test_dispatch_runs_one_chain_per_portfolio_after_commit(
    desk, django_capture_on_commit_callbacks
):
    from .desk import desk_build

    other = desk_build("MACRO2")
    with django_capture_on_commit_callbacks(execute=False) as queued_chains:
        queued = pipelines.dispatch(pipeline=Pipeline.EOD, day=FRI)
    # nothing ran before the commit: the chains wait for the rows
    assert len(queued_chains) == 2
    assert set(PipelineRun.objects.filter(business_date=FRI).values_list("status", flat=True)) == {
        RunStatus.PENDING
    }
    for chain in queued_chains:
        chain()
    assert [q["portfolio"] for q in queued] == ["MACRO1", "MACRO2"]
    runs = PipelineRun.objects.filter(pipeline=Pipeline.EOD, business_date=FRI)
    assert {r.portfolio_id: r.status for r in runs} == {
        desk.pk: RunStatus.SUCCEEDED,
        other.pk: RunStatus.SUCCEEDED,
    }
    weekend = pipelines.dispatch(pipeline=Pipeline.EOD, day=SAT)
    assert {q["outcome"] for q in weekend} == {pipelines.SKIPPED}


def test_every_step_task_is_acknowledged_late_and_retries_transient_errors_with_backoff():
    import importlib

    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
    for pipeline, steps in pipelines.STEPS.items():
        for step in steps:
            module, name = step.task.rsplit(".", 1)
            task = getattr(importlib.import_module(module), name)
            assert task.name == step.task and task.step == step.name, pipeline
            assert task.acks_late and task.reject_on_worker_lost
            assert task.autoretry_for == pipelines.TRANSIENT_ERRORS
            assert task.retry_backoff == 2 and task.max_retries == 5
