"""Writes of the risk app: limits, the alerts their breaches raise, the EOD risk snapshots.

Validation first, raising ``PMSError`` naming the field; then one transaction.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio.models import Portfolio
from portfolio.services import business_date_range, validate_business_date

from . import calculations as calc
from . import report
from .choices import Metric
from .models import LIMIT_MAX, Alert, RiskLimit, RiskSnapshot

# --- Limits -----------------------------------------------------------------------------------


def _validate_fraction(value, *, field: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise PMSError("must be a finite number", field=field)
    if value <= 0:
        raise PMSError("must be greater than zero (a fraction of NAV: 0.02 = 2 %)", field=field)
    if value > LIMIT_MAX:
        raise PMSError(f"must be at most {LIMIT_MAX} (× NAV)", field=field)
    return value


def validate_limit(*, metric: str, soft: Decimal, hard: Decimal) -> None:
    if metric not in Metric.values:
        raise PMSError(
            f"unknown metric {metric!r}: one of {', '.join(Metric.values)}", field="metric"
        )
    _validate_fraction(soft, field="soft")
    _validate_fraction(hard, field="hard")
    if soft > hard:
        raise PMSError("the soft limit must not exceed the hard limit", field="soft")


def risk_limit_create(
    *, portfolio: Portfolio, metric: str, soft: Decimal, hard: Decimal
) -> RiskLimit:
    validate_limit(metric=metric, soft=soft, hard=hard)
    with transaction.atomic():
        if RiskLimit.objects.filter(portfolio=portfolio, metric=metric).exists():
            raise PMSError(
                f"{portfolio.code} already has a {metric} limit: change that one", field="metric"
            )
        # A concurrent create of the same metric loses on the unique constraint: a 409.
        return RiskLimit.objects.create(portfolio=portfolio, metric=metric, soft=soft, hard=hard)


def risk_limit_update(
    *, limit: RiskLimit, soft: Decimal | None = None, hard: Decimal | None = None
) -> RiskLimit:
    with transaction.atomic():
        limit = RiskLimit.objects.select_for_update().get(pk=limit.pk)
        # A new bound that crosses the one kept is named as the field the client sent.
        crossing = "hard" if soft is None else "soft"
        soft = limit.soft if soft is None else soft
        hard = limit.hard if hard is None else hard
        try:
            validate_limit(metric=limit.metric, soft=soft, hard=hard)
        except PMSError as exc:
            if exc.field == "soft" and soft > hard:
                raise PMSError(exc.message, field=crossing) from exc
            raise
        limit.soft, limit.hard = soft, hard
        limit.save(update_fields=["soft", "hard", "updated_at"])
        return limit


def risk_limit_delete(*, limit: RiskLimit) -> None:
    limit.delete()


# --- Alerts -----------------------------------------------------------------------------------


def alerts_record(*, portfolio: Portfolio, day: dt.date, limits: list[dict]) -> int:
    """One ``Alert`` per breached limit for ``day``; a limit already alerted that day adds
    nothing. Concurrent calls agree through the unique constraint (ON CONFLICT DO NOTHING).
    Returns the number of limits in breach."""
    breaches = [row for row in limits if row["status"] == calc.BREACH]
    if breaches:
        Alert.objects.bulk_create(
            [
                Alert(
                    portfolio=portfolio,
                    metric=row["metric"],
                    date=day,
                    limit_id=row["id"],
                    value=row["value"],
                    soft=row["soft"],
                    hard=row["hard"],
                    utilization=row["utilization"],
                    message=(
                        f"{Metric(row['metric']).label}: {row['value']:.2%} of NAV breaches "
                        f"the hard limit {row['hard']:.2%}"
                    ),
                )
                for row in breaches
            ],
            ignore_conflicts=True,
        )
    return len(breaches)


def alert_day(today: dt.date) -> dt.date:
    """The business day a live breach is dated: today, or the last business day at a weekend."""
    return today if pcalc.is_business_day(today) else pcalc.previous_business_day(today)


def risk_live(portfolio: Portfolio) -> dict:
    """Live risk (``report.risk_live``), recording an alert for each limit in breach today."""
    result = report.risk_live(portfolio)
    alerts_record(
        portfolio=portfolio,
        day=alert_day(portfolio_selectors.today()),
        limits=result["limits"],
    )
    return result


# --- EOD snapshots ----------------------------------------------------------------------------


def risk_snapshot_record(*, portfolio: Portfolio, business_date: dt.date) -> RiskSnapshot:
    """The risk of ``business_date`` at its close, stored (a re-run replaces it), and its alerts.

    Reads D's position and NAV snapshots (the date must be marked) and returns up to D, so a
    re-run of a past date gives the same figures whatever happened later.
    """
    day = validate_business_date(business_date, field="date")
    result = report.risk_of_day(portfolio, day)
    var = result["var"]
    exposures = result["exposures"]
    largest = exposures["largest"] or {}
    with transaction.atomic():
        snapshot, _ = RiskSnapshot.objects.update_or_create(
            portfolio=portfolio,
            date=day,
            defaults={
                "nav": result["nav"],
                **{name: var[name]["amount"] for name in report.VAR_FIGURES},
                "scenarios": result["scenarios"],
                "insufficient_history": result["insufficient_history"],
                "gross_exposure": exposures["gross"],
                "net_exposure": exposures["net"],
                "leverage": exposures["leverage"],
                "largest_symbol": largest.get("symbol", ""),
                "largest_exposure": largest.get("exposure"),
                "drawdown": result["drawdown"]["drawdown"],
                "nav_drawdown": result["drawdown"]["nav_drawdown"],
                "exposure_by_asset_class": {
                    cls: {"net": str(v["net"]), "gross": str(v["gross"])}
                    for cls, v in exposures["by_asset_class"].items()
                },
                "limits": [_json_limit(row) for row in result["limits"]],
                "no_history": result["no_history"],
            },
        )
        alerts_record(portfolio=portfolio, day=day, limits=result["limits"])
    return snapshot


def _json_limit(row: dict) -> dict:
    return {**row, "soft": str(row["soft"]), "hard": str(row["hard"])}


def risk_snapshot_range(
    *, portfolio: Portfolio, start: dt.date, end: dt.date
) -> list[RiskSnapshot]:
    """Every business day from ``start`` to ``end``, in order, each its own transaction."""
    return [
        risk_snapshot_record(portfolio=portfolio, business_date=day)
        for day in business_date_range(start, end)
    ]
