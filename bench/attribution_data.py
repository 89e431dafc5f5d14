"""The attribution benchmark's data and its independent checks (see ``attribution_bench``).

The book is built set-based (two INSERT … SELECTs); the reference is recomputed with two plain
GROUP BYs and plain numpy Carino linking, independent of the ``attribution`` app's code; every
answer the benchmark times is checked against it (``check_result``, ``same_rows``).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.db import connection, transaction

from attribution import calculations as calc
from attribution import report
from bench import common
from portfolio import calculations as pcalc
from portfolio.choices import AssetClass, PositionStatus
from portfolio.models import (
    CashFlow,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    Strategy,
)

FIRST_DAY = dt.date(2024, 7, 1)
NUM_DAYS = 250
NUM_INSTRUMENTS = 200
NUM_STRATEGIES = 50
SMALL_INSTRUMENTS = 20  # × 50 strategies: the 1,000-position book
SHORT_DAYS = 20  # the 10,000 × 20 window of the query-count proof
ASSET_CLASSES = [
    AssetClass.EQUITY,
    AssetClass.RATES,
    AssetClass.CREDIT,
    AssetClass.COMMODITY,
    AssetClass.FX,
]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD"]
CAPITAL = Decimal("50000000")
# Business day index → amount: a subscription and a redemption, at the start of their day.
FLOWS = {60: Decimal("10000000"), 180: Decimal("-5000000")}
DIMENSIONS = list(calc.DIMENSIONS)
TOLERANCE = 1e-12
BATCH = 5000


def fail(message: str, code: int) -> None:
    common.fail("attribution_bench", message, code)


# --- The data ---------------------------------------------------------------------------------


def business_days(first: dt.date, count: int) -> list[dt.date]:
    days = []
    day = first
    while len(days) < count:
        if pcalc.is_business_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


DAYS = business_days(FIRST_DAY, NUM_DAYS)
LAST_DAY = DAYS[-1]


def superuser() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cur.fetchone()[0])


def build_reference() -> tuple[list[Instrument], list[Strategy]]:
    """The instruments (asset classes and currencies cycling independently: 5 and 6 are coprime)
    and the strategies, shared by both books."""
    Instrument.objects.bulk_create(
        Instrument(
            symbol=f"ATTR{i:04d}",
            name=f"Attribution instrument {i}",
            asset_class=ASSET_CLASSES[i % len(ASSET_CLASSES)],
            currency=CURRENCIES[i % len(CURRENCIES)],
        )
        for i in range(NUM_INSTRUMENTS)
    )
    Strategy.objects.bulk_create(
        Strategy(code=f"STRAT{j:02d}", name=f"Strategy {j}") for j in range(NUM_STRATEGIES)
    )
    instruments = list(Instrument.objects.filter(symbol__startswith="ATTR").order_by("symbol"))
    strategies = list(Strategy.objects.filter(code__startswith="STRAT").order_by("code"))
    return instruments, strategies


def build_book(
    code: str, instruments: list[Instrument], strategies: list[Strategy]
) -> tuple[Portfolio, float]:
    """A portfolio holding every instrument in every strategy, one snapshot per position and day
    (one INSERT … SELECT), two flows and its NAV snapshots (one INSERT … SELECT); returns the
    portfolio and the seconds the position snapshots took."""
    portfolio = Portfolio.objects.create(
        code=code,
        name=f"Attribution benchmark {code}",
        base_currency="USD",
        inception_date=pcalc.previous_business_day(FIRST_DAY),
        initial_capital=CAPITAL,
    )
    Position.objects.bulk_create(
        (
            Position(
                portfolio=portfolio,
                instrument=inst,
                strategy=strat,
                quantity=Decimal(100 + (i * 37 + j * 11) % 900),
                avg_cost=Decimal(50 + (i * 7 + j) % 150),
                status=PositionStatus.OPEN,
                opened_date=FIRST_DAY,
            )
            for i, inst in enumerate(instruments)
            for j, strat in enumerate(strategies)
        ),
        batch_size=BATCH,
    )
    CashFlow.objects.bulk_create(
        CashFlow(portfolio=portfolio, date=DAYS[k], amount=amount, note="bench")
        for k, amount in FLOWS.items()
    )
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if superuser():
            # The position ids come from the join itself: the per-row foreign-key check (as long
            # as the insert itself here) would prove nothing; check_book counts the rows after.
            cur.execute("SET LOCAL session_replication_role = replica")
        # Day by day, as the daily marks write them (a position's history spread over the table).
        cur.execute(
            """
            INSERT INTO portfolio_positionsnapshot
                (date, position_id, quantity, price, fx, exposure, realized_pnl, unrealized,
                 total_pnl, daily_pnl, carried)
            SELECT d.day, p.id, p.quantity, p.avg_cost::numeric(24, 10), 1,
                   p.quantity * p.avg_cost::numeric(24, 8), 0, 0, 0,
                   round((hashtext(p.id || '-' || d.day)::numeric %% 100000) / 100, 2), false
            FROM (SELECT g::date AS day FROM generate_series(%s::date, %s::date, '1 day') g
                  WHERE extract(isodow FROM g) < 6) d
            CROSS JOIN portfolio_position p
            WHERE p.portfolio_id = %s
            ORDER BY d.day, p.id
            """,
            [DAYS[0], LAST_DAY, portfolio.pk],
        )
    snapshots = time.perf_counter() - start
    with connection.cursor() as cur:
        # NAV(t) = capital + Σ flows to t + Σ P&L to t; the return on NAV(t−1) + flow(t), the
        # first day's on the initial capital; the division at 30 decimals, then float8.
        cur.execute(
            """
            WITH daily AS (
                SELECT s.date, SUM(s.daily_pnl) AS pnl
                FROM portfolio_positionsnapshot s
                JOIN portfolio_position p ON p.id = s.position_id
                WHERE p.portfolio_id = %(portfolio)s
                GROUP BY s.date
            ), flows AS (
                SELECT date, SUM(amount) AS flow FROM portfolio_cashflow
                WHERE portfolio_id = %(portfolio)s GROUP BY date
            ), navs AS (
                SELECT d.date, d.pnl, COALESCE(f.flow, 0) AS flow,
                       %(capital)s + SUM(d.pnl + COALESCE(f.flow, 0)) OVER (ORDER BY d.date) AS nav
                FROM daily d LEFT JOIN flows f ON f.date = d.date
            )
            INSERT INTO portfolio_navsnapshot
                (portfolio_id, date, nav, daily_pnl, flow, daily_return, created_at)
            SELECT %(portfolio)s, date, nav, pnl, flow,
                   (nav::numeric(60, 30)
                    / (LAG(nav, 1, %(capital)s) OVER (ORDER BY date) + flow) - 1)::float8,
                   now()
            FROM navs
            """,
            {"portfolio": portfolio.pk, "capital": CAPITAL},
        )
    return portfolio, snapshots


def check_book(portfolio: Portfolio, positions: int) -> None:
    """The invariants the attribution relies on, checked in SQL (untimed)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH daily AS (
                SELECT s.date, SUM(s.daily_pnl) AS pnl, COUNT(*) AS n
                FROM portfolio_positionsnapshot s
                JOIN portfolio_position p ON p.id = s.position_id
                WHERE p.portfolio_id = %(portfolio)s GROUP BY s.date
            ), navs AS (
                SELECT date, nav, daily_pnl, flow,
                       LAG(nav, 1, %(capital)s) OVER (ORDER BY date) AS prev
                FROM portfolio_navsnapshot WHERE portfolio_id = %(portfolio)s
            )
            SELECT COUNT(*),
                   COUNT(*) FILTER (WHERE d.pnl IS DISTINCT FROM n.daily_pnl),
                   COUNT(*) FILTER (WHERE n.nav - n.daily_pnl <> n.prev + n.flow),
                   COUNT(*) FILTER (WHERE d.n <> %(positions)s),
                   COUNT(*) FILTER (WHERE n.flow <> 0)
            FROM navs n LEFT JOIN daily d ON d.date = n.date
            """,
            {"portfolio": portfolio.pk, "capital": CAPITAL, "positions": positions},
        )
        days, pnl_off, nav_off, count_off, flow_days = cur.fetchone()
    if (days, pnl_off, nav_off, count_off, flow_days) != (NUM_DAYS, 0, 0, 0, len(FLOWS)):
        fail(
            f"{portfolio.code}: {days} NAV days, {pnl_off} with Σ position P&L ≠ NAV P&L, "
            f"{nav_off} with NAV − P&L ≠ previous NAV + flow, {count_off} without {positions:,} "
            f"position snapshots, {flow_days} flow days",
            1,
        )


# --- The reference: independent of the app -----------------------------------------------------


@dataclass
class Reference:
    """Per dimension, {key: {date: P&L}} summed by PostgreSQL (GROUPING SETS), and the NAV days."""

    pnl: dict[str, dict[str, dict[dt.date, Decimal]]]
    dates: list[dt.date]
    nav: list[Decimal]
    daily_pnl: list[Decimal]
    returns: np.ndarray


def load_reference(portfolio: Portfolio) -> Reference:
    """Two plain GROUP BYs, by day and strategy and by day and instrument; the asset class and
    currency totals are rolled up from the instrument totals here (exact Decimal sums)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT s.date, st.code, SUM(s.daily_pnl)
            FROM portfolio_positionsnapshot s
            JOIN portfolio_position p ON p.id = s.position_id
            JOIN portfolio_strategy st ON st.id = p.strategy_id
            WHERE p.portfolio_id = %s
            GROUP BY s.date, st.code
            """,
            [portfolio.pk],
        )
        by_strategy = cur.fetchall()
        cur.execute(
            """
            SELECT s.date, i.symbol, i.asset_class, i.currency, SUM(s.daily_pnl)
            FROM portfolio_positionsnapshot s
            JOIN portfolio_position p ON p.id = s.position_id
            JOIN portfolio_instrument i ON i.id = p.instrument_id
            WHERE p.portfolio_id = %s
            GROUP BY s.date, i.id
            """,
            [portfolio.pk],
        )
        by_instrument = cur.fetchall()
    pnl: dict[str, dict[str, dict[dt.date, Decimal]]] = {dim: {} for dim in DIMENSIONS}
    for date, code, total in by_strategy:
        pnl["strategy"].setdefault(code, {})[date] = total
    for date, symbol, asset_class, currency, total in by_instrument:
        pnl["instrument"].setdefault(symbol, {})[date] = total
        for dim, key in (("asset_class", asset_class), ("currency", currency)):
            days = pnl[dim].setdefault(key, {})
            days[date] = days.get(date, Decimal(0)) + total
    navs = list(
        NavSnapshot.objects.filter(portfolio=portfolio)
        .order_by("date")
        .values_list("date", "nav", "daily_pnl", "daily_return")
    )
    return Reference(
        pnl=pnl,
        dates=[r[0] for r in navs],
        nav=[r[1] for r in navs],
        daily_pnl=[r[2] for r in navs],
        returns=np.array([r[3] for r in navs], dtype=float),
    )


def expected(ref: Reference, window: report.Window) -> dict:
    """The window's attribution recomputed in plain numpy: TWR = Π(1 + r) − 1 of the stored
    returns, Carino C_k = Σ_t (k_t / K) pnl_k,t / (NAV(t) − P&L(t))."""
    idx = [i for i, d in enumerate(ref.dates) if window.anchor < d <= window.end]
    dates = [ref.dates[i] for i in idx]
    r = ref.returns[idx]
    twr = float(np.prod(1.0 + r) - 1.0)
    capital = np.array([float(ref.nav[i] - ref.daily_pnl[i]) for i in idx])
    k = np.array([1.0 if x == 0 else math.log1p(x) / x for x in r])
    big_k = 1.0 if twr == 0 else math.log1p(twr) / twr
    weight = dict(zip(dates, k / (big_k * capital), strict=True))
    by = {}
    for dim, keys in ref.pnl.items():
        rows = {}
        for key, days in keys.items():
            inside = [(d, p) for d, p in days.items() if d in weight]
            if inside:
                rows[key] = (
                    sum((p for _, p in inside), Decimal(0)),
                    math.fsum(weight[d] * float(p) for d, p in inside),
                )
        by[dim] = rows
    return {
        "dates": dates,
        "pnl": sum((ref.daily_pnl[i] for i in idx), Decimal(0)),
        "twr": twr,
        "by": by,
    }


# The largest deviations seen by the checks, printed in the summary.
DEVIATIONS = {
    "contribution vs the recomputation": 0.0,
    "Σ contributions vs TWR": 0.0,
    "TWR vs Π(1 + r) − 1": 0.0,
    "stored vs from-scratch contribution": 0.0,
}


def deviation(name: str, value: float) -> float:
    DEVIATIONS[name] = max(DEVIATIONS[name], value)
    return value


def check_rows(what: str, rows: list[dict], want: dict, twr: float) -> None:
    got = {row["key"]: (row["pnl"], row["contribution"]) for row in rows}
    if len(got) != len(rows) or set(got) != set(want):
        fail(f"{what}: segments {sorted(got)[:5]}… differ from {sorted(want)[:5]}…", 1)
    for key, (pnl, contribution) in got.items():
        if pnl != want[key][0]:
            fail(f"{what}: {key} P&L {pnl}, recomputed {want[key][0]}", 1)
        off = deviation("contribution vs the recomputation", abs(contribution - want[key][1]))
        if off > TOLERANCE:
            fail(f"{what}: {key} contribution {contribution!r}, recomputed {want[key][1]!r}", 1)
    total = math.fsum(row["contribution"] for row in rows)
    if deviation("Σ contributions vs TWR", abs(total - twr)) > TOLERANCE:
        fail(f"{what}: Σ contributions {total!r} ≠ TWR {twr!r} ({total - twr:.2e})", 1)
    order = [(-row["contribution"], row["key"]) for row in rows]
    if order != sorted(order):
        fail(f"{what}: the rows are not sorted by contribution", 1)


def check_result(what: str, result: dict, want: dict, dims: list[str]) -> None:
    """One answer against the independent recomputation: per segment P&L (exact) and linked
    contribution (1e-12), Σ contributions = TWR, Σ row P&L = Σ NAV daily P&L, the TWR."""
    if result["days"] != len(want["dates"]) or result["pnl"] != want["pnl"]:
        fail(
            f"{what}: {result['days']} days, P&L {result['pnl']}; the NAV snapshots have "
            f"{len(want['dates'])} days, Σ daily P&L {want['pnl']}",
            1,
        )
    if deviation("TWR vs Π(1 + r) − 1", abs(result["twr"] - want["twr"])) > TOLERANCE:
        fail(f"{what}: TWR {result['twr']!r}, Π(1 + r) − 1 = {want['twr']!r}", 1)
    by = result["by"] if isinstance(result["by"], dict) else {result["by"]: result["rows"]}
    if sorted(by) != sorted(dims):
        fail(f"{what}: dimensions {sorted(by)}, expected {sorted(dims)}", 1)
    for dim in dims:
        rows = by[dim]
        total = sum((row["pnl"] for row in rows), Decimal(0))
        if total != want["pnl"]:
            fail(f"{what} by {dim}: Σ row P&L {total} ≠ Σ NAV daily P&L {want['pnl']}", 1)
        check_rows(f"{what} by {dim}", rows, want["by"][dim], result["twr"])


def same_rows(what: str, rows: list[dict], base: list[dict]) -> None:
    """Against the from-scratch answer: the same keys, P&L equal, contributions within 1e-12."""
    got = {r["key"]: r for r in rows}
    want = {r["key"]: r for r in base}
    if len(got) != len(rows) or got.keys() != want.keys():
        fail(f"{what}: the segments differ from the from-scratch answer", 1)
    for key, row in got.items():
        ref = want[key]
        off = deviation(
            "stored vs from-scratch contribution", abs(row["contribution"] - ref["contribution"])
        )
        if row["pnl"] != ref["pnl"] or off > TOLERANCE:
            fail(
                f"{what}: {key} {row['pnl']} / {row['contribution']!r}, from scratch "
                f"{ref['pnl']} / {ref['contribution']!r}",
                1,
            )
