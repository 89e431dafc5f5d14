"""``/metrics``: the desk's own metrics, read from the database when Prometheus scrapes.

The rows are the truth (``PipelineRun``, ``RiskSnapshot``): reading them at scrape time makes the
figures survive restarts and agree whichever worker answers, and costs four queries whatever
the number of runs or portfolios (aggregated in SQL, never one query per row):

- ``pms_pipeline_last_success_timestamp_seconds{portfolio, pipeline}``: the latest
  ``finished_at`` of the succeeded runs;
- ``pms_pipeline_step_duration_seconds{pipeline, step}``: each step's seconds in the most
  recently finished run of the pipeline (whichever portfolio);
- ``pms_pipeline_failures_total{pipeline, step}``: failed attempts ever (``PipelineRun.failures``,
  which a re-run does not clear), 0 for every step that never failed so that the first failure
  is an increase;
- ``pms_limit_breaches{portfolio, metric, level}``: 1 when the portfolio's latest risk snapshot
  has that limit at or above its hard (``level="hard"``) or soft (``level="soft"``, below hard)
  bound, else 0;
- ``pms_database_up``, ``pms_cache_up``, ``pms_broker_up``: ``ops.health``'s checks (1 or 0).

A database that is down gives ``pms_database_up 0`` and none of the database's figures.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.db.models import Max
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from risk.choices import LimitStatus
from risk.models import RiskSnapshot

from . import health
from .choices import RunStatus
from .models import PipelineRun
from .pipelines import STEPS

logger = logging.getLogger(__name__)

# Summed in SQL: one row per (pipeline, step) that ever failed, whatever the number of runs.
FAILURES_SQL = """
    SELECT r.pipeline, f.key, SUM(f.value::bigint)
    FROM ops_pipelinerun r, jsonb_each_text(r.failures) f
    GROUP BY r.pipeline, f.key
"""


def _last_successes():
    return (
        PipelineRun.objects.filter(status=RunStatus.SUCCEEDED, finished_at__isnull=False)
        .values_list("portfolio__code", "pipeline")
        .annotate(last=Max("finished_at"))
        .order_by()
    )


def _last_finished_steps():
    """Per pipeline, the steps of its most recently finished run (DISTINCT ON: one index scan)."""
    return (
        PipelineRun.objects.filter(
            status__in=(RunStatus.SUCCEEDED, RunStatus.FAILED), finished_at__isnull=False
        )
        .order_by("pipeline", "-finished_at")
        .distinct("pipeline")
        .values_list("pipeline", "steps")
    )


def _latest_limits():
    """Per portfolio, the limits of its latest risk snapshot."""
    return (
        RiskSnapshot.objects.order_by("portfolio_id", "-date")
        .distinct("portfolio_id")
        .values_list("portfolio__code", "limits")
    )


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


class DeskCollector:
    """A prometheus-client collector: ``collect()`` runs at each scrape."""

    def collect(self):
        checks = {check.name: check for check in health.dependencies()}
        for name in ("database", "cache", "broker"):
            gauge = GaugeMetricFamily(
                f"pms_{name}_up",
                f"1 when the {name} answers, as /readyz checks it (an eager broker is up).",
            )
            gauge.add_metric([], 1.0 if checks[name].up else 0.0)
            yield gauge
        if not checks["database"].up:
            return
        try:
            families = list(self._from_database())
        except Exception:  # the database went away mid-scrape: the *_up gauges still go out
            logger.exception("metrics: reading the desk's figures failed")
            return
        yield from families

    def _from_database(self):
        last_success = GaugeMetricFamily(
            "pms_pipeline_last_success_timestamp_seconds",
            "When the latest succeeded run of the pipeline finished, per portfolio (Unix time).",
            labels=["portfolio", "pipeline"],
        )
        for code, pipeline, finished_at in _last_successes():
            last_success.add_metric([code, pipeline], finished_at.timestamp())
        yield last_success

        failures = CounterMetricFamily(
            "pms_pipeline_failures_total",
            "Failed attempts of a pipeline step, ever (a re-run does not clear them).",
            labels=["pipeline", "step"],
        )
        counts = {(pipeline, step.name): 0 for pipeline in STEPS for step in STEPS[pipeline]}
        for pipeline, step, count in _rows(FAILURES_SQL):
            counts[(pipeline, step)] = int(count)
        for (pipeline, step), count in sorted(counts.items()):
            failures.add_metric([pipeline, step], count)
        yield failures

        durations = GaugeMetricFamily(
            "pms_pipeline_step_duration_seconds",
            "Seconds each step took in the most recently finished run of the pipeline.",
            labels=["pipeline", "step"],
        )
        for pipeline, steps in _last_finished_steps():
            for step, record in sorted((steps or {}).items()):
                if isinstance(record, dict) and record.get("seconds") is not None:
                    durations.add_metric([pipeline, step], float(record["seconds"]))
        yield durations

        breaches = GaugeMetricFamily(
            "pms_limit_breaches",
            "1 when the latest risk snapshot has the limit breached at that level (hard: at or "
            "above the hard bound; soft: at or above the soft bound, below the hard one).",
            labels=["portfolio", "metric", "level"],
        )
        for code, limits in _latest_limits():
            for row in limits or []:
                status = row.get("status")
                metric = str(row.get("metric"))
                breaches.add_metric([code, metric, "hard"], float(status == LimitStatus.BREACH))
                breaches.add_metric([code, metric, "soft"], float(status == LimitStatus.WARNING))
        yield breaches


class _ProcessCollector:
    """This process's own metrics (requests, cache counters, process and GC figures)."""

    def collect(self):
        return REGISTRY.collect()


def exposition() -> bytes:
    """The text a scrape answers: the request and cache counters (this process's, or every
    worker's in multiprocess mode) and the desk's figures."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.PMS_PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PMS_PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(_ProcessCollector())
    registry.register(DeskCollector())
    return generate_latest(registry)
