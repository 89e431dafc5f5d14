"""Pipeline runs (SPEC §8): one row per portfolio, pipeline and business date.

The row is the pipeline's memory and its lock: ``ops.pipelines`` moves it from pending to running
under a row lock (a second start is refused while it runs), records each step's time and result,
and marks it succeeded or failed naming the step. A succeeded date is not run again unless forced.
"""

from __future__ import annotations

from django.db import models

from portfolio.models import Portfolio

from .choices import Pipeline, RunStatus


class PipelineRun(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="pipeline_runs")
    pipeline = models.CharField(max_length=10, choices=Pipeline.choices)
    business_date = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    # {step: {"status", "started_at", "seconds", "attempt", "result" | "error"}}, in run order.
    steps = models.JSONField(default=dict, blank=True)
    failed_step = models.CharField(max_length=40, blank=True)
    # {step: failed attempts, ever}: a re-run clears ``steps`` and ``failed_step`` but not this,
    # so ``pms_pipeline_failures_total`` never goes down (a Prometheus counter).
    failures = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, help_text="the failed step and its error")
    note = models.CharField(max_length=200, blank=True, help_text="why it was skipped")
    forced = models.BooleanField(default=False, help_text="the last start re-ran a succeeded date")
    attempts = models.PositiveIntegerField(default=0, help_text="starts that ran the steps")
    refusals = models.PositiveIntegerField(
        default=0, help_text="starts refused because a run of the same date was running"
    )
    # Identifies the chain that owns a running run: a redelivered message of that chain resumes
    # it, any other start is refused.
    token = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-business_date", "portfolio", "pipeline"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "pipeline", "business_date"], name="pipelinerun_unique_day"
            )
        ]
        indexes = [models.Index(fields=["status", "business_date"])]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.pipeline} {self.business_date} {self.status}"

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
