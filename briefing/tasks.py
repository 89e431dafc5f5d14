"""Pipeline step of the briefing app (see ``portfolio/tasks.py``)."""

from __future__ import annotations

from celery import shared_task

from ops.pipelines import StepTask

from . import services


@shared_task(base=StepTask, bind=True, step="morning_pack")
def morning_pack_task(self, ticket: dict | None) -> dict | None:
    """Pre-open step 4: the pack of D from the close before D, replacing D's."""

    def pack(portfolio, day):
        stored = services.morning_pack_generate(portfolio=portfolio, business_date=day)
        return {"as_of": stored.as_of.isoformat(), "warnings": len(stored.content["warnings"])}

    return self.run_step(ticket, pack)
