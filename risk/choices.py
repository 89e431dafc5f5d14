from __future__ import annotations

from django.db import models


class Metric(models.TextChoices):
    """What a ``RiskLimit`` bounds; every value is a fraction of NAV (leverage: gross / NAV)."""

    VAR_95 = "var_95", "Historical VaR 95 %"
    VAR_99 = "var_99", "Historical VaR 99 %"
    ES_975 = "es_975", "Expected shortfall 97.5 %"
    GROSS_LEVERAGE = "gross_leverage", "Gross leverage (gross / NAV)"
    NET_EXPOSURE = "net_exposure", "Net exposure (|net| / NAV)"
    GROSS_FX = "gross_fx", "Gross exposure, FX"
    GROSS_RATES = "gross_rates", "Gross exposure, rates"
    GROSS_EQUITY = "gross_equity", "Gross exposure, equity"
    GROSS_COMMODITY = "gross_commodity", "Gross exposure, commodity"
    GROSS_CREDIT = "gross_credit", "Gross exposure, credit"
    LARGEST_INSTRUMENT = "largest_instrument", "Largest single instrument (|net| / NAV)"
    DRAWDOWN = "drawdown", "Drawdown from peak"


# The gross-by-asset-class metric of each asset class.
GROSS_METRIC_OF_CLASS = {
    "FX": Metric.GROSS_FX,
    "RATES": Metric.GROSS_RATES,
    "EQUITY": Metric.GROSS_EQUITY,
    "COMMODITY": Metric.GROSS_COMMODITY,
    "CREDIT": Metric.GROSS_CREDIT,
}


class LimitStatus(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    BREACH = "breach", "Breach"
    UNAVAILABLE = "unavailable", "Unavailable"
