"""Pipeline steps of the portfolio app (``ops.pipelines`` chains them and records each run).

Each task is one service call on the run's portfolio and business date, returning a small
JSON summary; retries, late acknowledgement and failure recording come from ``StepTask``.
"""

from __future__ import annotations

from celery import shared_task

from ops.pipelines import StepTask
from pms_project.cache import cache_warm

from . import services


@shared_task(base=StepTask, bind=True, step="mark_to_market")
def mark_to_market_task(self, ticket: dict | None) -> dict | None:
    """EOD step 1: mark the book at the closes of D (a re-run replaces D's snapshots)."""

    def mark(portfolio, day):
        nav = services.mark_to_market(portfolio=portfolio, business_date=day)
        return {"nav": str(nav.nav), "daily_pnl": str(nav.daily_pnl)}

    return self.run_step(ticket, mark)


@shared_task(base=StepTask, bind=True, step="warm_caches")
def cache_warm_task(self, ticket: dict | None) -> dict | None:
    """The last step of both pipelines: the desk's first reads after it are cache hits."""
    return self.run_step(ticket, lambda portfolio, day: cache_warm(portfolio))
