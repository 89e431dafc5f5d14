"""The EOD attribution step (SPEC §5, §8): store the daily segment totals and the standard
periods as of a business date, replacing what a re-run of that date finds."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.db import connection, transaction

from pms_project.errors import PMSError
from portfolio.models import NavSnapshot, Portfolio
from portfolio.services.base import (
    business_date_range,
    portfolio_lock,
    validate_business_date,
)

from . import calculations as calc
from . import report, selectors
from .choices import Dimension, Period
from .models import AttributionDay, AttributionResult, SegmentPnl

_COPY_SEGMENTS = "COPY attribution_segmentpnl (portfolio_id, date, dimension, key, pnl) FROM STDIN"


def daily_totals(
    portfolio: Portfolio, days: list[dt.date], dimensions=tuple(Dimension.values)
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Daily segment totals of ``days`` by ``dimensions``, computed from their position
    snapshots (two queries: the position-days packed, one groupby per dimension)."""
    if not days:
        return {}
    segments = selectors.position_segments(portfolio)
    try:
        day_numbers, positions, units = selectors.position_days(portfolio, days)
        frames = calc.segment_totals(day_numbers, positions, units, segments, dimensions)
    except calc.AttributionInputError as exc:
        raise PMSError(str(exc), field="date") from exc
    return {
        dim: (f["day"].to_numpy(), f["key"].to_numpy(dtype=object), f["units"].to_numpy())
        for dim, f in frames.items()
    }


def segment_totals_store(portfolio: Portfolio, nav: selectors.NavDays) -> int:
    """Compute and store the daily segment totals of the days of ``nav`` that have none, or
    whose marks changed since; returns how many days were (re)computed."""
    stale = nav.stale
    if not stale:
        return 0
    computed = daily_totals(portfolio, stale)
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
        segment_totals_store(portfolio, selectors.nav_days(portfolio, after=dt.date.min, upto=day))
        # Read once (after the store, so that every day reads its stored totals), sliced per period.
        history = selectors.nav_days(portfolio, after=dt.date.min, upto=day)
        results = []
        for period in Period.values:
            try:
                window = report.resolve_window(portfolio, period=period, as_of=day)
                nav = history.window(window.anchor, window.end)
                result = report.attribution(portfolio, window, nav=nav)
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
    return [
        attribution_record(portfolio=portfolio, business_date=day)
        for day in business_date_range(start, end)
    ]
