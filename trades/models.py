"""Signals, trade proposals and the audit trail (SPEC §3).

Fields, constraints and cheap properties only: the workflow (generate, approve, reject, expire)
lives in ``services``, which is the only writer.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from pms_project.formatting import qty
from pms_project.validators import plain_text_validator
from portfolio.models import MONEY, PRICE, QTY, Execution, Instrument, Portfolio, Strategy

from .choices import AuditAction, ProposalSource, ProposalStatus, Side


class Signal(models.Model):
    """A strategy's view on an instrument at a date: −1 (short) … +1 (long)."""

    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="signals")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="signals")
    date = models.DateField()
    value = models.FloatField()
    generator = models.CharField(max_length=40)
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date", "strategy", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["strategy", "instrument", "date"], name="signal_unique_strategy_inst_date"
            ),
            models.CheckConstraint(
                condition=Q(value__gte=-1) & Q(value__lte=1), name="signal_value_in_range"
            ),
        ]
        indexes = [models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.strategy} {self.instrument} {self.value:+.2f}"


class TradeProposal(models.Model):
    """A trade waiting for a second person: pending → approved | rejected | expired."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.PROTECT, related_name="proposals")
    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="proposals")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="proposals")
    date = models.DateField()
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.DecimalField(**QTY)  # unsigned contracts; the side gives the sign
    price = models.DecimalField(**PRICE)
    source = models.CharField(max_length=10, choices=ProposalSource.choices)
    rationale = models.TextField(blank=True, validators=[plain_text_validator])
    # The sizing of a generated proposal (SPEC §3): the signal, its target and the sleeve then.
    signal = models.ForeignKey(Signal, null=True, blank=True, on_delete=models.SET_NULL)
    signal_value = models.FloatField(null=True, blank=True)
    target_quantity = models.DecimalField(**QTY, null=True, blank=True)
    current_quantity = models.DecimalField(**QTY, null=True, blank=True)

    status = models.CharField(
        max_length=8, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    created_by = models.ForeignKey(  # null: the system (a generated proposal)
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposals_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(  # null on a decided proposal: the system expired it
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="proposals_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)  # the decision's note; a rejection's reason
    override_reason = models.TextField(blank=True)  # approved through a hard-limit breach
    original_quantity = models.DecimalField(**QTY, null=True, blank=True)  # when modified
    original_price = models.DecimalField(**PRICE, null=True, blank=True)
    execution = models.OneToOneField(
        Execution, null=True, blank=True, on_delete=models.PROTECT, related_name="proposal"
    )

    # Pre-trade check (risk.pretrade): at creation, and again at approval on the book then.
    var_99_before = models.DecimalField(**MONEY, null=True, blank=True)
    var_99_after = models.DecimalField(**MONEY, null=True, blank=True)
    utilization_before = models.FloatField(null=True, blank=True)  # the worst limit's
    utilization_after = models.FloatField(null=True, blank=True)
    breaks_hard_limit = models.BooleanField(default=False)
    risk_impact = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["-date", "-id"]
        permissions = [("approve_tradeproposal", "Can approve, modify or reject trade proposals")]
        constraints = [
            # Regeneration replaces the pending proposal of a sleeve and day; decided ones stay.
            models.UniqueConstraint(
                fields=["portfolio", "strategy", "instrument", "date"],
                condition=Q(status=ProposalStatus.PENDING),
                name="proposal_one_pending_per_sleeve_day",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="proposal_quantity_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="proposal_price_positive"),
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.APPROVED, execution__isnull=False)
                | (~Q(status=ProposalStatus.APPROVED) & Q(execution__isnull=True)),
                name="proposal_approved_has_execution",
            ),
            models.CheckConstraint(
                condition=~Q(status=ProposalStatus.REJECTED) | ~Q(note=""),
                name="proposal_rejected_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status=ProposalStatus.PENDING, decided_at__isnull=True)
                | (~Q(status=ProposalStatus.PENDING) & Q(decided_at__isnull=False)),
                name="proposal_decided_has_time",
            ),
        ]
        indexes = [models.Index(fields=["portfolio", "status", "date"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.date} {self.side} {qty(self.quantity)} {self.instrument}"

    @property
    def signed_quantity(self):
        return self.quantity if self.side == Side.BUY else -self.quantity


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("the audit trail is append-only")

    def delete(self):
        raise AppendOnlyError("the audit trail is append-only")


class AuditEvent(models.Model):
    """Who did what to which object, with its state before and after. Append-only: the model
    refuses updates and deletes, and a database trigger refuses them from anywhere else."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(  # null: the system (a pipeline, a command)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    actor_name = models.CharField(max_length=150)  # kept as it was, whatever happens to the user
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    portfolio = models.ForeignKey(Portfolio, null=True, blank=True, on_delete=models.PROTECT)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.CharField(max_length=40, blank=True)  # blank: many rows (closes loaded)
    object_repr = models.CharField(max_length=200)
    target = GenericForeignKey("content_type", "object_id")
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["portfolio", "at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("the audit trail is append-only")
