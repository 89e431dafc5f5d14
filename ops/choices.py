from __future__ import annotations

from django.db import models


class Pipeline(models.TextChoices):
    EOD = "eod", "End of day"
    PREOPEN = "preopen", "Pre-open"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # queued by the dispatcher, not started
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # not a business day of the portfolio
