"""Pipeline step of the risk app (see ``portfolio/tasks.py``)."""

from __future__ import annotations

from celery import shared_task

from ops.pipelines import StepTask

from . import services


@shared_task(base=StepTask, bind=True, step="risk_snapshot")
def risk_snapshot_task(self, ticket: dict | None) -> dict | None:
    """EOD step 2: the risk of D's close stored (replacing D's), with its alerts."""

    def snapshot(portfolio, day):
        risk = services.risk_snapshot_record(portfolio=portfolio, business_date=day)
        return {
            "var_99": None if risk.var_99 is None else str(risk.var_99),
            "scenarios": risk.scenarios,
        }

    return self.run_step(ticket, snapshot)
