"""Reads for attribution: the NAV days, the position-days and the stored daily segment totals.

P&L crosses the wire as int64 units of 1e-8 (PostgreSQL multiplies the NUMERIC(28, 8) amount,
exactly). A report has PostgreSQL add up the period per position or per stored segment — Σ pnl
and Σ a_t × pnl, with the day's linking weight a_t passed as an array — so a year of 10,000
positions comes back as 10,000 rows, summed by parallel workers. The daily totals that the EOD
step stores come back packed into one binary string per position — one query whatever the
number of rows, no Python object per row (as ``portfolio.selectors.closes_frame``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import DataError, connection
from django.db.models import Max, Min, OuterRef, Subquery

from portfolio.models import NavSnapshot, Portfolio, Position

from . import calculations as calc
from .models import AttributionDay

# One packed entry: int4 days since 1970-01-01, then int8 P&L in 1e-8 units.
PACKED = np.dtype([("day", ">i4"), ("units", ">i8")])
_PACK = (
    "string_agg(int4send({date} - DATE '1970-01-01') || int8send(({pnl} * 100000000)::int8), "
    "''::bytea)"
)


@dataclasses.dataclass(frozen=True)
class NavDays:
    """The marked days of a window, oldest first, with what the stored totals were built from."""

    dates: list[dt.date]
    nav: list[Decimal]
    pnl: list[Decimal]
    capital: np.ndarray  # NAV(t−1) + flow(t) = NAV(t) − P&L(t), float
    returns: np.ndarray
    marked_at: list  # NavSnapshot.created_at: changes whenever the day is marked again
    stored_at: list  # AttributionDay.marked_at of the stored totals (None: none stored)

    def window(self, after: dt.date, upto: dt.date) -> NavDays:
        """The days with after < date ≤ upto: what ``nav_days`` would read for them."""
        keep = [k for k, d in enumerate(self.dates) if after < d <= upto]
        lo, hi = (keep[0], keep[-1] + 1) if keep else (0, 0)
        return NavDays(
            dates=self.dates[lo:hi],
            nav=self.nav[lo:hi],
            pnl=self.pnl[lo:hi],
            capital=self.capital[lo:hi],
            returns=self.returns[lo:hi],
            marked_at=self.marked_at[lo:hi],
            stored_at=self.stored_at[lo:hi],
        )

    @property
    def stale(self) -> list[dt.date]:
        """Days whose stored segment totals are missing or older than the day's marks."""
        return [
            d
            for d, marked, stored in zip(self.dates, self.marked_at, self.stored_at, strict=True)
            if stored != marked
        ]


def history_bounds(portfolio: Portfolio) -> tuple[dt.date | None, dt.date | None]:
    """The first and last NAV snapshot dates (None, None before the first mark)."""
    agg = NavSnapshot.objects.filter(portfolio=portfolio).aggregate(
        first=Min("date"), last=Max("date")
    )
    return agg["first"], agg["last"]


def nav_days(portfolio: Portfolio, *, after: dt.date, upto: dt.date) -> NavDays:
    """The NAV snapshots with after < date ≤ upto and the stamps of their stored totals: one
    query."""
    stamp = AttributionDay.objects.filter(portfolio=portfolio, date=OuterRef("date")).values(
        "marked_at"
    )[:1]
    rows = list(
        NavSnapshot.objects.filter(portfolio=portfolio, date__gt=after, date__lte=upto)
        .annotate(stored_at=Subquery(stamp))
        .order_by("date")
        .values_list("date", "nav", "daily_pnl", "daily_return", "created_at", "stored_at")
    )
    return NavDays(
        dates=[r[0] for r in rows],
        nav=[r[1] for r in rows],
        pnl=[r[2] for r in rows],
        capital=np.array([float(r[1] - r[2]) for r in rows], dtype=float),
        returns=np.array([r[3] for r in rows], dtype=float),
        marked_at=[r[4] for r in rows],
        stored_at=[r[5] for r in rows],
    )


def _unpack(packed: list[tuple]) -> tuple[list, np.ndarray, np.ndarray]:
    """(owners, days, units) of rows (owner, packed bytes): each entry's owner, day and units."""
    blobs = [bytes(blob) for _, blob in packed]
    entries = np.frombuffer(b"".join(blobs), dtype=PACKED)
    counts = np.array([len(b) // PACKED.itemsize for b in blobs], dtype=np.int64)
    owners = [owner for owner, _ in packed]
    return owners, counts, entries


def _fetch(sql: str, params: list) -> list[tuple]:
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    except DataError as exc:  # bigint out of range: a P&L sum beyond 92 bn
        raise calc.AttributionInputError("the P&L is too large to attribute exactly") from exc


def position_days(
    portfolio: Portfolio, days: list[dt.date]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(days, position ids, units) of every position snapshot of ``days``: one query."""
    if not days:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    sql = (
        f"SELECT s.position_id, {_PACK.format(date='s.date', pnl='s.daily_pnl')} "
        "FROM portfolio_positionsnapshot s JOIN portfolio_position p ON p.id = s.position_id "
        "WHERE p.portfolio_id = %s AND s.date = ANY(%s) GROUP BY s.position_id"
    )
    packed = _fetch(sql, [portfolio.pk, list(days)])
    owners, counts, entries = _unpack(packed)
    positions = np.repeat(np.array(owners, dtype=np.int64), counts)
    return (
        entries["day"].astype(np.int64),
        positions,
        entries["units"].astype(np.int64),
    )


def position_segments(portfolio: Portfolio) -> pd.DataFrame:
    """Each position's segment in every dimension, indexed by position id."""
    rows = list(
        Position.objects.filter(portfolio=portfolio).values_list(
            "id",
            "strategy__code",
            "instrument__asset_class",
            "instrument__symbol",
            "instrument__currency",
        )
    )
    frame = pd.DataFrame(
        rows, columns=["id", "strategy", "asset_class", "instrument", "currency"]
    ).set_index("id")
    return frame


def _weights_by_day(days: list[dt.date], weights) -> tuple[dt.date, list[float]]:
    """(base, w): w[(d − base).days] (1-based, as PostgreSQL indexes arrays) is the weight of
    day d; the days between carry 0 and are never read."""
    base = min(days) - dt.timedelta(days=1)
    w = [0.0] * (max(days) - base).days
    for day, weight in zip(days, weights, strict=True):
        w[(day - base).days - 1] = float(weight)
    return base, w


def position_sums(
    portfolio: Portfolio, days: list[dt.date], weights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position ids, Σ pnl in 1e-8 units, Σ weight(day) × pnl) over the position snapshots of
    ``days``, per position: one query, which PostgreSQL runs in parallel over the position-days
    and answers with one row per position (NUMERIC sums: exact)."""
    if not days:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=float)
    base, w = _weights_by_day(days, weights)
    sql = (
        "SELECT s.position_id, (SUM(s.daily_pnl) * 100000000)::int8, "
        "SUM(s.daily_pnl::float8 * (%s::float8[])[s.date - %s::date]) "
        "FROM portfolio_positionsnapshot s JOIN portfolio_position p ON p.id = s.position_id "
        "WHERE p.portfolio_id = %s AND s.date = ANY(%s::date[]) GROUP BY s.position_id"
    )
    rows = _fetch(sql, [w, base, portfolio.pk, list(days)])
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=float),
    )


def stored_sums(
    portfolio: Portfolio, dimension: str, days: list[dt.date], weights
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keys, Σ pnl in 1e-8 units, Σ weight(day) × pnl) per segment of one dimension over the
    stored daily totals of ``days``: one query, one row per segment."""
    if not days:
        empty = np.empty(0, dtype=np.int64)
        return np.empty(0, dtype=object), empty, np.empty(0, dtype=float)
    base, w = _weights_by_day(days, weights)
    sql = (
        "SELECT key, (SUM(pnl) * 100000000)::int8, "
        "SUM(pnl::float8 * (%s::float8[])[date - %s::date]) FROM attribution_segmentpnl "
        "WHERE portfolio_id = %s AND dimension = %s AND date = ANY(%s::date[]) GROUP BY key"
    )
    rows = _fetch(sql, [w, base, portfolio.pk, dimension, list(days)])
    return (
        np.array([r[0] for r in rows], dtype=object),
        np.array([r[1] for r in rows], dtype=np.int64),
        np.array([r[2] for r in rows], dtype=float),
    )
