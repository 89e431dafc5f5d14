"""Attribution of a window of marked days: the reads behind the API, the EOD step and the
morning pack (SPEC §5).

A window covers the NAV snapshots after its anchor up to and including its end. The segments'
sums come from the daily totals the EOD step stored (days × segments rows); a day with no stored
totals, or marked again since they were stored, is summed from its position snapshots in the
same request (two more queries), so an answer is never stale.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import numpy as np

from pms_project.errors import PMSError
from portfolio import calculations as pcalc
from portfolio.models import Portfolio

from . import calculations as calc
from . import selectors
from .choices import Dimension, Period

LINKING = "carino"
CUSTOM = "custom"


@dataclasses.dataclass(frozen=True)
class Window:
    """The days after ``anchor`` up to and including ``end``."""

    period: str  # a Period value, or "custom"
    anchor: dt.date
    end: dt.date
    as_of: dt.date | None = None


def _bounds(portfolio: Portfolio, field: str) -> tuple[dt.date, dt.date]:
    first, last = selectors.history_bounds(portfolio)
    if first is None:
        raise PMSError(
            f"{portfolio.code} has no NAV snapshot yet: mark a business day first", field=field
        )
    return first, last


def resolve_window(
    portfolio: Portfolio,
    *,
    period: str | None = None,
    as_of: dt.date | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Window:
    """A standard period as of a date (default: MTD as of the last NAV snapshot), or the custom
    range ``start``..``end`` (both included; each defaults to the edge of the history). Dates
    outside the marked history are refused, naming the parameter."""
    custom = start is not None or end is not None
    if custom:
        if period is not None:
            raise PMSError("give a period or from/to, not both", field="period")
        if as_of is not None:
            raise PMSError("as_of goes with a period, not with from/to", field="as_of")
        first, last = _bounds(portfolio, "from" if start is not None else "to")
        start = start or first
        end = end or last
        if start < first or start > last:
            raise PMSError(_outside(start, first, last), field="from")
        if end < first or end > last:
            raise PMSError(_outside(end, first, last), field="to")
        if start > end:
            raise PMSError(f"{start.isoformat()} is after to {end.isoformat()}", field="from")
        return Window(period=CUSTOM, anchor=start - dt.timedelta(days=1), end=end)

    period = period or Period.MTD
    if period not in Period.values:
        raise PMSError(f"one of {', '.join(Period.values)}", field="period")
    first, last = _bounds(portfolio, "as_of")
    as_of = as_of or last
    if not pcalc.is_business_day(as_of):
        raise PMSError(f"{as_of.isoformat()} is not a business day (Mon–Fri)", field="as_of")
    if as_of < first or as_of > last:
        raise PMSError(_outside(as_of, first, last), field="as_of")
    anchor = calc.period_anchor(
        period,
        as_of,
        inception=portfolio.inception_date,
        previous_business_day=pcalc.previous_business_day,
    )
    return Window(period=period, anchor=anchor, end=as_of, as_of=as_of)


def _outside(day: dt.date, first: dt.date, last: dt.date) -> str:
    return (
        f"{day.isoformat()} is outside the marked history "
        f"({first.isoformat()} to {last.isoformat()})"
    )


def money_of_units(units: int) -> Decimal:
    return Decimal(int(units)).scaleb(-8)


def _weights(nav: selectors.NavDays, field: str) -> np.ndarray:
    negative = np.flatnonzero(nav.capital < 0)
    if len(negative):
        day = nav.dates[int(negative[0])].isoformat()
        raise PMSError(f"the capital at the start of {day} is negative", field=field)
    try:
        return calc.link_weights(nav.returns, nav.capital)
    except calc.AttributionInputError as exc:
        raise PMSError(str(exc), field=field) from exc


def attribution(
    portfolio: Portfolio,
    window: Window,
    *,
    dimensions=tuple(Dimension.values),
    nav: selectors.NavDays | None = None,
) -> dict:
    """The attribution of ``window`` by each of ``dimensions``: per segment the P&L and the
    Carino-linked contribution, the total P&L, the TWR and the statistics.

    C_k = Σ_t a_t pnl_k,t is linear in the days, so PostgreSQL adds it up: over the stored
    daily totals of the days whose stamp matches their marks, and over the position snapshots
    of the other (stale) days, per position; the two are combined per segment here."""
    nav = nav or selectors.nav_days(portfolio, after=window.anchor, upto=window.end)
    field = "from" if window.period == CUSTOM else "as_of"
    weights = dict(zip(nav.dates, _weights(nav, field).tolist(), strict=True))
    stale = set(nav.stale)
    fresh_days = [d for d in nav.dates if d not in stale]
    stale_days = sorted(stale)
    computed = {}
    try:
        if stale_days and dimensions:
            positions, units, linked = selectors.position_sums(
                portfolio, stale_days, [weights[d] for d in stale_days]
            )
            computed = calc.position_sums_by_segment(
                positions, units, linked, selectors.position_segments(portfolio), dimensions
            )
        by = {}
        for dim in dimensions:
            keys, units, linked = selectors.stored_sums(
                portfolio, dim, fresh_days, [weights[d] for d in fresh_days]
            )
            if dim in computed:
                c_keys, c_units, c_linked = computed[dim]
                keys = np.concatenate([keys, c_keys])
                units = np.concatenate([units, c_units])
                linked = np.concatenate([linked, c_linked])
            by[dim] = [
                {"key": r.key, "pnl": money_of_units(r.units), "contribution": r.contribution}
                for r in calc.combine(keys, units, linked)
            ]
    except calc.AttributionInputError as exc:
        raise PMSError(str(exc), field=field) from exc
    stats = calc.statistics(nav.dates, nav.returns)
    return {
        "portfolio": portfolio.code,
        "period": window.period,
        "as_of": window.as_of,
        "anchor": window.anchor if window.period != CUSTOM else None,
        "first_date": nav.dates[0] if nav.dates else None,
        "last_date": nav.dates[-1] if nav.dates else None,
        "days": stats.days,
        "linking": LINKING,
        "pnl": sum(nav.pnl, Decimal(0)),
        "twr": stats.twr,
        "statistics": statistics_dict(stats),
        "by": by,
    }


def statistics_dict(stats: calc.Statistics) -> dict:
    def day(pair):
        return None if pair is None else {"date": pair[0], "return": pair[1]}

    return {
        "twr": stats.twr,
        "volatility": stats.volatility,
        "sharpe": stats.sharpe,
        "max_drawdown": stats.max_drawdown,
        "hit_rate": stats.hit_rate,
        "best_day": day(stats.best_day),
        "worst_day": day(stats.worst_day),
    }


def attribution_by(portfolio: Portfolio, window: Window, by: str) -> dict:
    """One dimension's attribution, as the API answers it: rows {key, pnl, contribution}."""
    if by not in Dimension.values:
        raise PMSError(f"one of {', '.join(Dimension.values)}", field="by")
    result = attribution(portfolio, window, dimensions=(by,))
    rows = result.pop("by")[by]
    return {**result, "by": by, "rows": rows}


def series(portfolio: Portfolio, window: Window) -> dict:
    """The daily returns and the TWR index (1 at the anchor) of a window, for charts."""
    nav = selectors.nav_days(portfolio, after=window.anchor, upto=window.end)
    index = calc.twr_index(nav.returns) if nav.dates else np.empty(0)
    return {
        "portfolio": portfolio.code,
        "period": window.period,
        "as_of": window.as_of,
        "anchor": window.anchor if window.period != CUSTOM else None,
        "days": len(nav.dates),
        "twr": calc.twr(nav.returns),
        "points": [
            {"date": d, "nav": v, "pnl": p, "return": float(r), "index": float(i)}
            for d, v, p, r, i in zip(nav.dates, nav.nav, nav.pnl, nav.returns, index, strict=True)
        ],
    }
