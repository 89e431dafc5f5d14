"""Celery tasks of the portfolio app: thin, each one service call.

- The pipeline steps (``ops.pipelines`` chains them and records each run): each is one service
  call on the run's portfolio and business date, returning a small JSON summary; retries, late
  acknowledgement and failure recording come from ``StepTask``.
- The daily price ingest (09:00 UTC), a task of its own with its retry policy.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

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


# --- Daily price ingest (09:00 UTC, SPEC §8) ---------------------------------------------------


@shared_task(
    name="portfolio.tasks.ingest_prices",
    acks_late=True,
    # A database restart or a lost connection: the file being imported stays claimed in
    # processing/ and the retry resumes it (loading closes again is an upsert: no double count).
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=6,
)
def ingest_prices() -> dict:
    """Import the drop folder's complete CSV files of closes; the report as a dict. The cache
    needs nothing more: ``prices_load``'s bulk upsert invalidates the market namespaces."""
    return services.ingest_drop_folder().as_dict()
