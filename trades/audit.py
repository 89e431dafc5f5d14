"""Writing the audit trail: one function every service calls inside its own transaction.

A leaf module (it imports only ``trades.models``): the portfolio services call it for every manual
change of the book (open, close, intraday mark, closes loaded, cash flow, mark-to-market), the
trades services for every decision. The event commits or rolls back with the change it records.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .models import AuditEvent

SYSTEM = "system"


def state(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of ``obj`` as a JSON-able dict (foreign keys by id; decimals and dates are
    encoded as strings by the field's encoder)."""
    out = {}
    for name in fields:
        field = obj._meta.get_field(name)
        out[name] = getattr(obj, field.attname)
    return out


def _actor(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _event(actor, action, obj, portfolio_id, before, after, what="") -> AuditEvent:
    """``obj`` is the model instance changed, or a model class for a bulk change of its rows
    (closes loaded), then described by ``what``."""
    one = isinstance(obj, models.Model)
    return AuditEvent(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else SYSTEM,
        action=action,
        portfolio_id=portfolio_id,
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk) if one else "",
        object_repr=(str(obj) if one else what)[:200],
        before=before,
        after=after,
    )


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model | type[models.Model],
    portfolio=None,
    before: dict | None = None,
    after: dict | None = None,
    what: str = "",
) -> AuditEvent:
    """Append one event. ``actor`` is a user, or None (or an anonymous user) for the system."""
    portfolio_id = portfolio.pk if portfolio else None
    event = _event(_actor(actor), action, obj, portfolio_id, before, after, what)
    event.save()
    return event


def audit_many(
    *,
    actor,
    action: str,
    portfolio_id: int | None,
    changes: Iterable[tuple[models.Model, dict | None, dict | None]],
) -> list[AuditEvent]:
    """One event per (object, before, after), in one query (a bulk change such as expiry)."""
    user = _actor(actor)
    return AuditEvent.objects.bulk_create(
        _event(user, action, obj, portfolio_id, before, after) for obj, before, after in changes
    )
