"""The book's data: portfolios, instruments, prices, the execution ledger, positions, snapshots.

Money and quantities are NUMERIC. The scales below are the ones the pure ledger in
``calculations.py`` quantizes to, so that rebuilding a position from the ledger reproduces the
stored row digit for digit.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Cast

from pms_project.cache import MARKET, ROUTES, InvalidatingQuerySet
from pms_project.errors import PMSError
from pms_project.validators import (
    code_validator,
    currency_validator,
    min_date_validator,
    plain_text_validator,
)

from . import calendars
from .choices import AssetClass, ExecutionSource, PositionStatus

QTY = {"max_digits": 24, "decimal_places": 8}
PRICE = {"max_digits": 24, "decimal_places": 10}
COST = {"max_digits": 28, "decimal_places": 12}
MONEY = {"max_digits": 28, "decimal_places": 8}
RATE = {"max_digits": 24, "decimal_places": 12}

# Largest magnitudes the rules allow (see services): far inside the columns' own limits, so that
# sums over a whole book never overflow NUMERIC(28, 8).
NAV_LIMIT = Decimal(10) ** 18
MULTIPLIER_LIMIT = Decimal(10) ** 9

CALENDAR_HELP = (
    "the trading calendar: blank for weekdays (Mon–Fri), an exchange-calendars name "
    "(XNYS, XETR, XLON, CMES, XEUR…) or holidays:CC for a country's public holidays"
)


def calendar_validator(code: str) -> None:
    """A code ``portfolio.calendars`` resolves (the admin, ModelSerializers, ``clean_fields``)."""
    try:
        calendars.validate_code(code)
    except PMSError as exc:
        raise ValidationError(exc.message) from exc


def calendar_field() -> models.CharField:
    return models.CharField(
        max_length=30,
        blank=True,
        default="",
        validators=[calendar_validator],
        help_text=CALENDAR_HELP,
    )


class Portfolio(models.Model):
    code = models.CharField(max_length=20, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200, validators=[plain_text_validator])
    base_currency = models.CharField(max_length=3, validators=[currency_validator], default="USD")
    inception_date = models.DateField(validators=[min_date_validator])
    initial_capital = models.DecimalField(
        **MONEY, validators=[MinValueValidator(Decimal(0)), MaxValueValidator(NAV_LIMIT)]
    )
    # The days the desk marks and runs its EOD and pre-open chains.
    calendar = calendar_field()
    created_at = models.DateTimeField(auto_now_add=True)

    # A portfolio change also changes what ``?portfolio=CODE`` or no parameter resolves to.
    cache_namespaces = (*MARKET, ROUTES)
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class CashFlow(models.Model):
    """A subscription (+) or redemption (−); it happens at the start of its day."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="cash_flows")
    date = models.DateField()
    amount = models.DecimalField(**MONEY)
    note = models.CharField(max_length=200, blank=True, validators=[plain_text_validator])
    created_at = models.DateTimeField(auto_now_add=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "date", "id"]
        indexes = [models.Index(fields=["portfolio", "date"])]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.date} {self.amount}"


class Instrument(models.Model):
    symbol = models.CharField(max_length=30, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200, validators=[plain_text_validator])
    asset_class = models.CharField(max_length=10, choices=AssetClass.choices)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    multiplier = models.DecimalField(
        max_digits=20,
        decimal_places=6,
        default=Decimal(1),
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(MULTIPLIER_LIMIT)],
    )
    active = models.BooleanField(default=True)
    # The days its market is open: on a closed day its previous close carries into the MTM, and
    # its returns run over its open days only.
    calendar = calendar_field()
    # Intraday mark set by update-price; the EOD close of D falls back to it when no Price of D.
    last_price = models.DecimalField(**PRICE, null=True, blank=True)
    last_price_at = models.DateTimeField(null=True, blank=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            # A zero or negative mark converts nothing and values nothing (1 / 0 as an FX rate).
            models.CheckConstraint(
                condition=models.Q(last_price__isnull=True) | models.Q(last_price__gt=0),
                name="instrument_last_price_positive",
            )
        ]

    def __str__(self) -> str:
        return self.symbol


class Strategy(models.Model):
    """A sleeve of the book. Lives in portfolio because positions are split by strategy."""

    code = models.CharField(max_length=30, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200, validators=[plain_text_validator])
    asset_class = models.CharField(max_length=10, choices=AssetClass.choices, blank=True)
    active = models.BooleanField(default=True)
    # A fraction of NAV: 0.02 = 2 %.
    risk_budget = models.DecimalField(
        max_digits=10,
        decimal_places=6,
        default=Decimal(0),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    # The trades app's signal generator (a registered name); blank: a manual strategy.
    generator = models.CharField(max_length=40, blank=True)
    # What the generator trades; none named: every active instrument of the strategy's asset
    # class, or every active instrument when the strategy has no asset class.
    instruments = models.ManyToManyField(Instrument, blank=True, related_name="strategies")

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "strategies"

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        super().clean()
        validate_generator(self.generator)


def validate_generator(name: str) -> None:
    """A registered signal generator, or blank. The registry is the trades app's leaf module
    ``trades.generators`` (pure, no model import), read here so the admin and the API refuse a
    name no generator answers to."""
    from trades import generators

    if name and name not in generators.names():
        known = ", ".join(generators.names())
        raise ValidationError({"generator": f"unknown generator {name!r}; registered: {known}"})


class Price(models.Model):
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="prices")
    date = models.DateField(validators=[min_date_validator])
    close = models.DecimalField(**PRICE)
    # The close as float8, kept by PostgreSQL, for the numerical reads (returns, VaR, signals):
    # they run on floats anyway, and converting 300,000 NUMERICs per read costs more than the
    # read itself. Money stays in ``close``.
    close_float = models.GeneratedField(
        expression=Cast("close", models.FloatField()),
        output_field=models.FloatField(),
        db_persist=True,
    )

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["instrument", "date"]
        constraints = [
            # The float close rides in the index: history reads are index-only scans.
            models.UniqueConstraint(
                fields=["instrument", "date"],
                include=["close_float"],
                name="price_unique_instrument_date",
            ),
            models.CheckConstraint(condition=models.Q(close__gt=0), name="price_close_positive"),
        ]
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.instrument} {self.date} {self.close}"


class Position(models.Model):
    """Current state of one (portfolio, instrument, strategy) sleeve; always equal to its ledger."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="positions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="positions")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="positions")
    quantity = models.DecimalField(**QTY, default=Decimal(0))
    avg_cost = models.DecimalField(**COST, default=Decimal(0))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal(0))
    status = models.CharField(
        max_length=6, choices=PositionStatus.choices, default=PositionStatus.OPEN
    )
    opened_date = models.DateField(null=True, blank=True)
    closed_date = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "instrument", "strategy"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "instrument", "strategy"], name="position_unique_sleeve"
            )
        ]
        indexes = [models.Index(fields=["portfolio", "status"])]

    def __str__(self) -> str:
        return f"{self.portfolio} {self.instrument} {self.strategy} {self.quantity}"


class ImmutableRowError(Exception):
    pass


class Execution(models.Model):
    """One immutable line of the ledger. Corrections are new executions, never edits."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="executions")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="executions")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="executions")
    trade_date = models.DateField()
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(**PRICE)
    source = models.CharField(max_length=10, choices=ExecutionSource.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["trade_date", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(quantity=0), name="execution_nonzero_qty"),
            models.CheckConstraint(
                condition=models.Q(price__gt=0), name="execution_price_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["portfolio", "trade_date"]),
            # A sleeve's executions after a date (mark-to-market from the previous snapshot, the
            # position's replay in ledger order) and after an id (back-dated bookings).
            models.Index(
                fields=["portfolio", "instrument", "strategy", "trade_date", "id"],
                name="execution_sleeve_date",
            ),
            models.Index(
                fields=["portfolio", "instrument", "strategy", "id"],
                include=["trade_date"],
                name="execution_sleeve_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trade_date} {self.instrument} {self.quantity}@{self.price}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise ImmutableRowError("executions are immutable; book a correcting execution")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRowError("executions are immutable; book a correcting execution")


class PositionSnapshot(models.Model):
    """One sleeve marked at the close of ``date``, with its ledger state as of that date.

    The state (quantity, ``avg_cost``, realized_pnl, opened/closed dates) is where the next
    mark-to-market starts from instead of replaying the sleeve's ledger from inception.
    ``ledger_watermark`` is the largest execution id when the row was written: an execution of
    the sleeve dated on or before ``date`` with a larger id was booked after it (back-dated), so
    the state no longer holds and the sleeve is replayed in full. Rows without a watermark (written
    before migration 0007) are replayed in full as well.
    """

    date = models.DateField()
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="snapshots")
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(**PRICE)
    fx = models.DecimalField(**RATE)
    exposure = models.DecimalField(**MONEY)
    realized_pnl = models.DecimalField(**MONEY)
    unrealized = models.DecimalField(**MONEY)
    total_pnl = models.DecimalField(**MONEY)
    daily_pnl = models.DecimalField(**MONEY)
    # Marked at its previous close because its market was closed on ``date``.
    carried = models.BooleanField(default=False)
    avg_cost = models.DecimalField(**COST, null=True, blank=True)
    opened_date = models.DateField(null=True, blank=True)
    closed_date = models.DateField(null=True, blank=True)
    ledger_watermark = models.BigIntegerField(null=True, blank=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["date", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["position", "date"], name="possnap_unique_position_date"
            )
        ]
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.position_id}"


class NavSnapshot(models.Model):
    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="nav_snapshots")
    date = models.DateField()
    nav = models.DecimalField(**MONEY)
    daily_pnl = models.DecimalField(**MONEY)
    flow = models.DecimalField(**MONEY)
    daily_return = models.FloatField()
    created_at = models.DateTimeField(auto_now=True)

    cache_namespaces = MARKET
    objects = InvalidatingQuerySet.as_manager()

    class Meta:
        ordering = ["portfolio", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["portfolio", "date"], name="navsnap_unique_portfolio_date"
            )
        ]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.date} {self.nav}"


class PortfolioGrant(models.Model):
    """``user`` may see and change ``portfolio``. A user with at least one grant sees only the
    portfolios granted; a user with none sees every portfolio (the single-desk default);
    superusers see all. Changing grants renews the cached GETs' ``auth`` generation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolio_grants"
    )
    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="grants")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "portfolio__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "portfolio"], name="grant_unique_user_portfolio"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} → {self.portfolio_id}"
