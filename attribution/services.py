"""The EOD attribution step (SPEC §5, §8): store the daily segment totals and the standard
periods as of a business date, replacing what a re-run of that date finds."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio.models import NavSnapshot, Portfolio
from portfolio.services.base import portfolio_lock, validate_business_date

from . import calculations as calc
from . import report, selectors
from .choices import Period
from .models import AttributionDay, AttributionResult, SegmentPnl

_COPY_SEGMENTS = "COPY attribution_segmentpnl (portfolio_id, date, dimension, key, pnl) FROM STDIN"


def segment_totals_store(portfolio: Portfolio, nav: selectors.NavDays) -> int:
    """Compute and store the daily segment totals of the days of ``nav`` that have none, or
    whose marks changed since; returns how many days were (re)computed."""
    stale = nav.stale
    if not stale:
        return 0
    computed = report.fresh_totals(portfolio, stale)
    marked = dict(zip(nav.dates, nav.marked_at, strict=True))
    SegmentPnl.objects.filter(portfolio=portfolio, date__in=stale).delete()
    # COPY: a year of a large book is tens of thousands of rows, which bulk_create would spend
    # seconds turning into model instances.
    with connection.cursor() as cursor, cursor.copy(_COPY_SEGMENTS) as copy:
        for dim, (days, keys, units) in computed.items():
            for day, key, amount in zip(days.tolist(), keys.tolist(), units.tolist(), strict=True):
                copy.write_row(
                    (portfolio.pk, calc.day_of(day), dim, key, report.money_of_units(amount))
                )
    AttributionDay.objects.filter(portfolio=portfolio, date__in=stale).delete()
    AttributionDay.objects.bulk_create(
        AttributionDay(portfolio=portfolio, date=day, marked_at=marked[day]) for day in stale
    )
    return len(stale)


def attribution_record(*, portfolio: Portfolio, business_date: dt.date) -> list[AttributionResult]:
    """The EOD step of ``business_date``: refresh the stored daily totals up to it, then store
    the attribution of every standard period as of it (a re-run replaces them)."""
    day = validate_business_date(business_date, field="date")
    with transaction.atomic():
        # The mark-to-market's lock: no day is marked again half-way through.
        portfolio_lock(portfolio)
        if not NavSnapshot.objects.filter(portfolio=portfolio, date=day).exists():
            raise PMSError(
                f"{day.isoformat()} is not marked to market: run mark_to_market first",
                field="date",
            )
        history = selectors.nav_days(portfolio, after=dt.date.min, upto=day)
        segment_totals_store(portfolio, history)
        results = []
        for period in Period.values:
            try:
                window = report.resolve_window(portfolio, period=period, as_of=day)
                result = report.attribution(portfolio, window)
            except PMSError as exc:  # the step's only input is the date
                raise PMSError(exc.message, field="date") from exc
            results.append(_store(portfolio, period, day, result))
        return results


def _store(portfolio: Portfolio, period: str, day: dt.date, result: dict) -> AttributionResult:
    segments = {
        dim: [{**row, "pnl": str(row["pnl"])} for row in rows] for dim, rows in result["by"].items()
    }
    stats = result["statistics"]
    statistics = {
        **stats,
        **{
            name: None
            if stats[name] is None
            else {**stats[name], "date": stats[name]["date"].isoformat()}
            for name in ("best_day", "worst_day")
        },
    }
    stored, _ = AttributionResult.objects.update_or_create(
        portfolio=portfolio,
        period=period,
        as_of=day,
        defaults={
            "anchor": result["anchor"],
            "first_date": result["first_date"],
            "last_date": result["last_date"],
            "days": result["days"],
            "pnl": result["pnl"],
            "twr": result["twr"],
            "statistics": statistics,
            "segments": segments,
        },
    )
    return stored


def attribution_range(
    *, portfolio: Portfolio, start: dt.date, end: dt.date
) -> list[list[AttributionResult]]:
    """Every business day from ``start`` to ``end``, in order, each its own transaction."""
    validate_business_date(start, field="from")
    validate_business_date(end, field="to")
    if start > end:
        raise PMSError("the range starts after it ends", field="from")
    return [
        attribution_record(portfolio=portfolio, business_date=day)
        for day in pcalc.business_days(start, end)
    ]
