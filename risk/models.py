"""Risk limits, the alerts their breaches raise, stress scenarios and the EOD risk snapshots.

Limits and shocks are fractions (0.02 = 2 % of NAV; −0.10 = a 10 % fall): NUMERIC, as entered.
Computed figures are floats inside ``risk/calculations.py``; what is stored in base currency is
NUMERIC(28, 8) like every other amount of the book.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from pms_project.cache import InvalidatingQuerySet
from pms_project.validators import plain_text_validator
from portfolio.choices import AssetClass
from portfolio.models import Instrument, Portfolio

from .choices import Metric

MONEY = {"max_digits": 28, "decimal_places": 8}
# Totals over a whole book (sums of NUMERIC(28, 8) amounts), as in the book's API.
TOTAL = {"max_digits": 40, "decimal_places": 8}
FRACTION = {"max_digits": 12, "decimal_places": 6}
# A limit above 1,000 × NAV bounds nothing.
LIMIT_MAX = Decimal(1000)
SHOCK_MIN, SHOCK_MAX = Decimal(-1), Decimal(10)


class RiskLimit(models.Model):
    """A soft and a hard bound on one metric of one portfolio (fractions of NAV)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="risk_limits")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    soft = models.DecimalField(
        **FRACTION,
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(LIMIT_MAX)],
        help_text="warning at or above this fraction of NAV (0.02 = 2 %; leverage 3.0 = 300 %)",
    )
    hard = models.DecimalField(
        **FRACTION,
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(LIMIT_MAX)],
        help_text="breach at or above this fraction of NAV",
    )
    updated_at = models.DateTimeField(auto_now=True)

    cache_namespaces = ("risk",)
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["portfolio", "metric"], name="risklimit_unique_metric"),
            models.CheckConstraint(
                condition=models.Q(soft__gt=0) & models.Q(soft__lte=models.F("hard")),
                name="risklimit_soft_positive_at_most_hard",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.metric} {self.soft}/{self.hard}"

    def clean(self) -> None:
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise ValidationError({"soft": "the soft limit must not exceed the hard limit"})


class Alert(models.Model):
    """A limit breached on a business day: one per (portfolio, metric, date), however often
    risk is computed that day (the unique constraint makes concurrent computations agree)."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="alerts")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    date = models.DateField()
    limit = models.ForeignKey(
        RiskLimit, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    value = models.FloatField(help_text="the metric when the breach was first seen")
    soft = models.DecimalField(**FRACTION)
    hard = models.DecimalField(**FRACTION)
    utilization = models.FloatField()
    message = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "portfolio", "metric"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "metric", "date"], name="alert_unique_metric_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.date} {self.metric}"


class StressScenario(models.Model):
    """A named shock: a return per asset class, optionally overridden per instrument."""

    name = models.CharField(max_length=60, unique=True, validators=[plain_text_validator])
    description = models.CharField(max_length=300, blank=True, validators=[plain_text_validator])
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class StressShock(models.Model):
    """One return of a scenario (−0.10 = −10 %), for an asset class or for one instrument."""

    scenario = models.ForeignKey(StressScenario, on_delete=models.CASCADE, related_name="shocks")
    asset_class = models.CharField(max_length=10, choices=AssetClass.choices, blank=True)
    instrument = models.ForeignKey(
        Instrument, null=True, blank=True, on_delete=models.CASCADE, related_name="stress_shocks"
    )
    shock = models.DecimalField(
        **FRACTION,
        validators=[MinValueValidator(SHOCK_MIN), MaxValueValidator(SHOCK_MAX)],
        help_text="a return: −0.10 = −10 %; from −1 (a total loss) to 10",
    )

    class Meta:
        ordering = ["scenario", "asset_class", "instrument"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(asset_class="") & models.Q(instrument__isnull=False))
                | (~models.Q(asset_class="") & models.Q(instrument__isnull=True)),
                name="stressshock_class_xor_instrument",
            ),
            models.CheckConstraint(
                condition=models.Q(shock__gte=SHOCK_MIN) & models.Q(shock__lte=SHOCK_MAX),
                name="stressshock_shock_range",
            ),
            models.UniqueConstraint(
                fields=["scenario", "asset_class"],
                condition=~models.Q(asset_class=""),
                name="stressshock_unique_class",
            ),
            models.UniqueConstraint(
                fields=["scenario", "instrument"],
                condition=models.Q(instrument__isnull=False),
                name="stressshock_unique_instrument",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scenario} {self.asset_class or self.instrument} {self.shock}"

    def clean(self) -> None:
        if bool(self.asset_class) == (self.instrument_id is not None):
            raise ValidationError("a shock applies to an asset class or to one instrument")


class RiskSnapshot(models.Model):
    """Risk of the book as marked at the close of ``date``; re-running the date replaces it."""

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.PROTECT, related_name="risk_snapshots"
    )
    date = models.DateField()
    nav = models.DecimalField(**MONEY)
    var_95 = models.DecimalField(**TOTAL, null=True)
    var_99 = models.DecimalField(**TOTAL, null=True)
    es_975 = models.DecimalField(**TOTAL, null=True)
    parametric_var_95 = models.DecimalField(**TOTAL, null=True)
    parametric_var_99 = models.DecimalField(**TOTAL, null=True)
    scenarios = models.PositiveIntegerField()
    insufficient_history = models.BooleanField()
    gross_exposure = models.DecimalField(**TOTAL)
    net_exposure = models.DecimalField(**TOTAL)
    leverage = models.FloatField(null=True)
    largest_symbol = models.CharField(max_length=30, blank=True)
    largest_exposure = models.DecimalField(**TOTAL, null=True)
    drawdown = models.FloatField(help_text="of the flow-adjusted NAV index from its peak")
    nav_drawdown = models.FloatField(help_text="of NAV itself from its peak (flows included)")
    # {asset_class: {"net": "…", "gross": "…"}} as decimal strings.
    exposure_by_asset_class = models.JSONField(default=dict)
    # [{metric, value, soft, hard, utilization, status}] at the time of the snapshot.
    limits = models.JSONField(default=list)
    # Held instruments left out of the VaR because they have no return at all.
    no_history = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["portfolio", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "date"], name="risksnapshot_unique_portfolio_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.date}"
