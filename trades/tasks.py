"""Pipeline steps of the trades app (see ``portfolio/tasks.py``): the pre-open's first three."""

from __future__ import annotations

from celery import shared_task

from ops.pipelines import StepTask

from . import services


@shared_task(base=StepTask, bind=True, step="expire_proposals")
def proposals_expire_task(self, ticket: dict | None) -> dict | None:
    """Pre-open step 1: the portfolio's proposals still pending from before D expire."""

    def expire(portfolio, day):
        return {"expired": services.proposals_expire(today=day, portfolio=portfolio)}

    return self.run_step(ticket, expire)


@shared_task(base=StepTask, bind=True, step="signals")
def signals_generate_task(self, ticket: dict | None) -> dict | None:
    """Pre-open step 2: the signals of D (every generating strategy; an upsert, so each
    portfolio's chain storing them again changes nothing)."""

    def signals(portfolio, day):
        run = services.signals_generate(day=day)
        return {"signals": len(run.signals), "skipped": len(run.skipped)}

    return self.run_step(ticket, signals)


@shared_task(base=StepTask, bind=True, step="proposals")
def proposals_generate_task(self, ticket: dict | None) -> dict | None:
    """Pre-open step 3: the proposals of D, the system's (replacing D's pending generated ones,
    keeping those unchanged, never touching a decided one)."""

    def propose(portfolio, day):
        result = services.proposals_generate(portfolio=portfolio, day=day)
        return {
            "created": len(result.created),
            "kept": len(result.kept),
            "removed": result.removed,
            "skipped": len(result.skipped),
        }

    return self.run_step(ticket, propose)
