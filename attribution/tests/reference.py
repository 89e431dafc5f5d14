"""An independent recomputation of SPEC §5 for the attribution tests.

It shares no code with ``attribution.calculations`` / ``report`` / ``selectors``: plain loops over
``math`` floats and ``Decimal`` sums, read through the ORM from the genuine position and NAV
snapshots that ``mark_to_market`` wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal

from portfolio.models import NavSnapshot, Portfolio, PositionSnapshot


def reference_linking(pnl: list[list[float]], capital: list[float]) -> tuple[list[float], float]:
    """(C_k per segment, R) with plain loops: c_k,t = pnl / capital, r_t = Σ_k c_k,t,
    k_t = ln(1 + r_t) / r_t (1 at 0), K = ln(1 + R) / R (1 at 0), C_k = Σ_t (k_t / K) c_k,t."""
    n_days, n_seg = len(pnl), len(pnl[0]) if pnl else 0
    c = [[pnl[t][k] / capital[t] for k in range(n_seg)] for t in range(n_days)]
    r = [sum(row) for row in c]
    return link(c, r), compound(r)


def compound(returns) -> float:
    growth = 1.0
    for rt in returns:
        growth *= 1.0 + rt
    return growth - 1.0


def link(c: list[list[float]], r: list[float]) -> list[float]:
    """Carino: C_k = Σ_t (k_t / K) c_k,t for a days × segments list of contributions."""
    big_r = compound(r)
    big_k = 1.0 if big_r == 0 else math.log1p(big_r) / big_r
    k = [1.0 if rt == 0 else math.log1p(rt) / rt for rt in r]
    n_seg = len(c[0]) if c else 0
    return [sum(k[t] / big_k * c[t][j] for t in range(len(r))) for j in range(n_seg)]


SEGMENT_OF = {
    "strategy": lambda p: p.strategy.code,
    "asset_class": lambda p: p.instrument.asset_class,
    "instrument": lambda p: p.instrument.symbol,
    "currency": lambda p: p.instrument.currency,
}
DIMENSIONS = tuple(SEGMENT_OF)


@dataclasses.dataclass
class Day:
    date: dt.date
    nav: Decimal
    pnl: Decimal  # the NAV's daily P&L
    flow: Decimal
    capital: Decimal  # NAV(t−1) + flow(t)
    ret: float  # NAV(t) / capital − 1
    stored_return: float
    segments: dict[str, dict[str, Decimal]]  # dimension → key → Σ daily_pnl of the snapshots


def history(portfolio: Portfolio) -> list[Day]:
    """Every marked day of ``portfolio``, oldest first, with its P&L per segment."""
    snaps = list(NavSnapshot.objects.filter(portfolio=portfolio).order_by("date"))
    per_day: dict[dt.date, dict[str, dict[str, Decimal]]] = defaultdict(
        lambda: {dim: defaultdict(Decimal) for dim in DIMENSIONS}
    )
    rows = PositionSnapshot.objects.filter(position__portfolio=portfolio).select_related(
        "position__strategy", "position__instrument"
    )
    for row in rows:
        for dim, of in SEGMENT_OF.items():
            per_day[row.date][dim][of(row.position)] += row.daily_pnl
    days = []
    previous = portfolio.initial_capital
    for snap in snaps:
        capital = previous + snap.flow
        days.append(
            Day(
                date=snap.date,
                nav=snap.nav,
                pnl=snap.daily_pnl,
                flow=snap.flow,
                capital=capital,
                ret=float(snap.nav / capital) - 1.0,
                stored_return=snap.daily_return,
                segments={dim: dict(per_day[snap.date][dim]) for dim in DIMENSIONS},
            )
        )
        previous = snap.nav
    return days


@dataclasses.dataclass
class Expected:
    dates: list[dt.date]
    twr: float
    pnl: Decimal
    returns: list[float]
    rows: dict[str, dict[str, tuple[Decimal, float]]]  # dimension → key → (pnl, contribution)


def expected(days: list[Day], after: dt.date, upto: dt.date, capital_from=None) -> Expected:
    """The attribution of the days with after < date ≤ upto. ``capital_from``: another history
    whose capitals (denominators) replace these days' own."""
    window = [d for d in days if after < d.date <= upto]
    capitals = {d.date: d.capital for d in (capital_from or days)}
    if capital_from is None:
        returns = [d.ret for d in window]
    else:
        returns = [float(d.pnl / capitals[d.date]) for d in window]
    rows = {}
    for dim in DIMENSIONS:
        keys = sorted({k for d in window for k in d.segments[dim]})
        c = [
            [float(d.segments[dim].get(k, Decimal(0))) / float(capitals[d.date]) for k in keys]
            for d in window
        ]
        linked = link(c, returns) if window else []
        rows[dim] = {
            k: (sum((d.segments[dim].get(k, Decimal(0)) for d in window), Decimal(0)), linked[j])
            for j, k in enumerate(keys)
        }
    return Expected(
        dates=[d.date for d in window],
        twr=compound(returns),
        pnl=sum((d.pnl for d in window), Decimal(0)),
        returns=returns,
        rows=rows,
    )
