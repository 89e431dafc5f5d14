from __future__ import annotations

from django.db import models


class AssetClass(models.TextChoices):
    FX = "FX", "FX"
    RATES = "RATES", "Rates"
    EQUITY = "EQUITY", "Equity"
    COMMODITY = "COMMODITY", "Commodity"
    CREDIT = "CREDIT", "Credit"


class ExecutionSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    PROPOSAL = "proposal", "Proposal"
    CLOSE = "close", "Close"


class PositionStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


MANUAL_STRATEGY_CODE = "MANUAL"
