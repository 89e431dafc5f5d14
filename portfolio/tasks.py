"""Celery tasks of the portfolio app: thin, each one service call and a retry policy."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from portfolio import services

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
