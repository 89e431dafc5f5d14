"""The pipelines' own tasks: the dispatchers beat calls (one chain per portfolio) and the
first and last link of each chain. The steps are in their apps' ``tasks.py``."""

from __future__ import annotations

import datetime as dt

from celery import shared_task

from portfolio.models import Portfolio

from . import pipelines
from .choices import Pipeline

RETRY = {
    "autoretry_for": pipelines.TRANSIENT_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
    "reject_on_worker_lost": True,
}


def _day(iso: str | None) -> dt.date | None:
    return dt.date.fromisoformat(iso) if iso else None


@shared_task(**RETRY)
def eod_dispatch_task(day: str | None = None, force: bool = False) -> list[dict]:
    """Beat, 21:00 UTC Mon–Fri: the EOD chain of every portfolio for ``day`` (default today)."""
    return pipelines.dispatch(pipeline=Pipeline.EOD, day=_day(day), force=force)


@shared_task(**RETRY)
def preopen_dispatch_task(day: str | None = None, force: bool = False) -> list[dict]:
    """Beat, 09:30 UTC Mon–Fri: the pre-open chain of every portfolio for ``day`` (default
    today)."""
    return pipelines.dispatch(pipeline=Pipeline.PREOPEN, day=_day(day), force=force)


@shared_task(**RETRY)
def pipeline_begin_task(
    portfolio_id: int, pipeline: str, day: str, force: bool, token: str
) -> dict:
    return pipelines.run_begin(
        portfolio=Portfolio.objects.get(pk=portfolio_id),
        pipeline=pipeline,
        day=dt.date.fromisoformat(day),
        force=force,
        token=token,
    )


@shared_task(**RETRY)
def pipeline_finish_task(ticket: dict | None) -> dict | None:
    return pipelines.run_finish(ticket)
