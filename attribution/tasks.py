"""Pipeline step of the attribution app (see ``portfolio/tasks.py``)."""

from __future__ import annotations

from celery import shared_task

from ops.pipelines import StepTask

from . import services


@shared_task(base=StepTask, bind=True, step="attribution")
def attribution_task(self, ticket: dict | None) -> dict | None:
    """EOD step 3: the daily segment totals and the six standard periods as of D, replaced."""

    def attribute(portfolio, day):
        results = services.attribution_record(portfolio=portfolio, business_date=day)
        return {r.period: {"pnl": str(r.pnl), "twr": r.twr} for r in results}

    return self.run_step(ticket, attribute)
