"""Per-portfolio grants: who may see and change which portfolio (``PortfolioGrant``).

A user with no grant sees every portfolio; the first grant restricts them to the portfolios
granted, and revoking the last one gives them every portfolio again. Each change is audited and
renews the cached GETs' ``auth`` generation (the grant's signals).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import transaction

from pms_project.errors import PMSError
from trades.audit import audit_record
from trades.choices import AuditAction

from ..models import Portfolio, PortfolioGrant


def grant_user(username: str):
    """The user called ``username``, or a PMSError naming ``user``."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise PMSError(f"unknown user {username!r}", field="user")
    return user


def grant_portfolios(codes: Iterable[str]) -> list[Portfolio]:
    """The portfolios named by ``codes`` (in that order), or a PMSError naming every unknown one."""
    codes = list(dict.fromkeys(codes))
    found = {p.code: p for p in Portfolio.objects.filter(code__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise PMSError(f"unknown portfolio(s): {', '.join(unknown)}", field="portfolio")
    return [found[code] for code in codes]


def grants_add(*, user, portfolios: Iterable[Portfolio], granted_by=None) -> list[PortfolioGrant]:
    """Grant ``user`` each of ``portfolios``; the grants it already has are kept as they are.
    Returns the grants created (one audit event each)."""
    created = []
    with transaction.atomic():
        for portfolio in portfolios:
            grant, new = PortfolioGrant.objects.get_or_create(
                user=user, portfolio=portfolio, defaults={"granted_by": granted_by}
            )
            if new:
                created.append(grant)
                _audit(AuditAction.GRANT_ADD, grant, granted_by, after={"user": user.username})
    return created


def grants_revoke(*, user, portfolios: Iterable[Portfolio], revoked_by=None) -> int:
    """Revoke ``user``'s grants of ``portfolios`` (one audit event each); the number revoked."""
    with transaction.atomic():
        grants = list(
            PortfolioGrant.objects.filter(user=user, portfolio__in=list(portfolios))
            .select_related("portfolio")
            .order_by("portfolio__code")
        )
        for grant in grants:
            _audit(AuditAction.GRANT_REVOKE, grant, revoked_by, before={"user": user.username})
            grant.delete()  # row by row: its post_delete renews the ``auth`` generation
    return len(grants)


def _audit(action: str, grant: PortfolioGrant, actor, **state) -> None:
    audit_record(actor=actor, action=action, obj=grant, portfolio=grant.portfolio, **state)
