"""Mark-to-market benchmark: how MTM and the book read scale from 1,000 to 10,000 open positions.

Run with ``make bench`` (PostgreSQL only; the ``pms_bench`` database is created when missing and
its portfolio tables are wiped before each size). Prints timings, query counts and peak Python
memory, and the 10k/1k ratios measured in this one run (SPEC §11: benchmarks print ratios, they
are not timed tests). Exits 1 when the snapshots written are wrong, 2 when not on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.db.models import Sum  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, sleeve_rows, wipe  # noqa: E402
from portfolio import book, selectors, services  # noqa: E402
from portfolio import calculations as calc  # noqa: E402
from portfolio.choices import AssetClass  # noqa: E402
from portfolio.models import (  # noqa: E402
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)

SIZES = (1_000, 10_000)
# One business week: trades on Mon–Wed, a first MTM on Thursday (so Friday has previous
# snapshots to compute daily P&L from), the timed MTM on Friday.
DAYS = [dt.date(2025, 3, 3) + dt.timedelta(days=i) for i in range(5)]
MARK_DAY = DAYS[-1]
WARMUP_DAY = DAYS[-2]
BATCH = 5000
ASSET_CLASSES = [AssetClass.EQUITY, AssetClass.COMMODITY, AssetClass.RATES, AssetClass.CREDIT]
MULTIPLIERS = [Decimal(1), Decimal(10), Decimal(50)]
EURUSD = [Decimal(v) for v in ("1.0812", "1.0795", "1.0830", "1.0841", "1.0826")]


def fail(message: str, code: int) -> None:
    common.fail("mtm_bench", message, code)


# --- Database ---------------------------------------------------------------------------------


# --- The book ---------------------------------------------------------------------------------


def build_book(n: int) -> Portfolio:
    """N open positions, set-based: instruments, a week of closes, executions, matching positions.

    A third of the instruments are in EUR (converted with EURUSD); the sleeves cycle through one
    buy, two buys (re-weighted avg_cost), one sell (short) and a buy then a partial sell (realized
    P&L at the trade date's FX), so MTM exercises the whole ledger.
    """
    portfolio = Portfolio.objects.create(
        code="BENCH",
        name="Benchmark book",
        base_currency="USD",
        inception_date=dt.date(2025, 1, 2),
        initial_capital=Decimal("100000000"),
    )
    strategy = Strategy.objects.create(code="BENCH", name="Benchmark", asset_class="EQUITY")
    eurusd = Instrument.objects.create(
        symbol="EURUSD", name="EUR/USD", asset_class=AssetClass.FX, currency="USD"
    )
    fx_close = dict(zip(DAYS, EURUSD, strict=True))
    Price.objects.bulk_create(
        Price(instrument=eurusd, date=day, close=rate) for day, rate in fx_close.items()
    )

    Instrument.objects.bulk_create(
        (
            Instrument(
                symbol=f"BNCH{i:05d}",
                name=f"Bench instrument {i}",
                asset_class=ASSET_CLASSES[i % len(ASSET_CLASSES)],
                currency="EUR" if i % 3 == 0 else "USD",
                multiplier=MULTIPLIERS[i % len(MULTIPLIERS)],
            )
            for i in range(1, n + 1)
        ),
        batch_size=BATCH,
    )
    instruments = list(Instrument.objects.filter(symbol__startswith="BNCH").order_by("symbol"))

    def close(i: int, day_index: int) -> Decimal:
        base = Decimal(50 + (i % 200))
        return base + Decimal((i + 7 * day_index) % 23 - 11) / Decimal(8)

    Price.objects.bulk_create(
        (
            Price(instrument=inst, date=day, close=close(i, k))
            for i, inst in enumerate(instruments, start=1)
            for k, day in enumerate(DAYS)
        ),
        batch_size=BATCH,
    )

    executions: list[Execution] = []
    positions: list[Position] = []
    for i, inst in enumerate(instruments, start=1):
        size = Decimal(100 + i % 900)
        legs = {
            0: [(0, size)],
            1: [(0, size), (1, size)],
            2: [(1, -size)],
            3: [(0, size), (2, -size / 4)],
        }
        trades = [calc.Trade(DAYS[k], qty, close(i, k)) for k, qty in legs[i % 4]]
        rate = (lambda d: calc.q(fx_close[d], calc.RATE_PLACES)) if inst.currency == "EUR" else None
        rows, position = sleeve_rows(
            portfolio=portfolio,
            instrument=inst,
            strategy=strategy,
            trades=trades,
            fx=rate or (lambda d: calc.ONE),
        )
        executions.extend(rows)
        positions.append(position)
    Execution.objects.bulk_create(executions, batch_size=BATCH)
    Position.objects.bulk_create(positions, batch_size=BATCH)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return portfolio


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    queries: int


def timed(fn) -> Run:
    gc.collect()
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    return Run(seconds, len(ctx.captured_queries))


def peak_mb(fn) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


@dataclass
class Result:
    n: int
    build: float
    warmup: Run
    first: Run
    rerun: Run
    peak: float
    book: Run


def check(portfolio: Portfolio, n: int) -> None:
    snaps = PositionSnapshot.objects.filter(position__portfolio=portfolio, date=MARK_DAY).count()
    if snaps != n:
        fail(f"{n:,} positions: {snaps:,} position snapshots on {MARK_DAY}, expected {n:,}", 1)
    nav = NavSnapshot.objects.filter(portfolio=portfolio, date=MARK_DAY).first()
    if nav is None:
        fail(f"{n:,} positions: no NAV snapshot on {MARK_DAY}", 1)
    daily = PositionSnapshot.objects.filter(position__portfolio=portfolio, date=MARK_DAY).aggregate(
        s=Sum("daily_pnl")
    )["s"]
    if daily != nav.daily_pnl:
        fail(f"{n:,} positions: Σ daily P&L {daily} != NAV daily P&L {nav.daily_pnl}", 1)


def bench(n: int) -> Result:
    wipe("portfolio")
    start = time.perf_counter()
    portfolio = build_book(n)
    build = time.perf_counter() - start
    problems = selectors.ledger_differences(portfolio)
    if problems:
        fail(f"{n:,} positions: the book differs from its ledger: {problems[:3]}", 1)

    def mtm(day: dt.date = MARK_DAY):
        return lambda: services.mark_to_market(portfolio=portfolio, business_date=day)

    warmup = timed(mtm(WARMUP_DAY))
    first = timed(mtm())
    check(portfolio, n)
    nav = NavSnapshot.objects.get(portfolio=portfolio, date=MARK_DAY)
    rerun = timed(mtm())
    check(portfolio, n)
    again = NavSnapshot.objects.get(portfolio=portfolio, date=MARK_DAY)
    if (again.nav, again.daily_pnl) != (nav.nav, nav.daily_pnl):
        fail(f"{n:,} positions: the re-run changed NAV {nav.nav} -> {again.nav}", 1)
    peak = peak_mb(mtm())
    check(portfolio, n)

    book_run = timed(lambda: book.book_get(portfolio))
    data = book.book_get(portfolio)
    if len(data["positions"]) != n or data["as_of"] != MARK_DAY:
        fail(f"{n:,} positions: the book shows {len(data['positions']):,} rows", 1)
    return Result(n, build, warmup, first, rerun, peak, book_run)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def main() -> int:
    ensure_database("mtm_bench")
    print(
        f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}"
        f"; mark date {MARK_DAY} (previous snapshots on {WARMUP_DAY})"
    )
    results = []
    for n in SIZES:
        r = bench(n)
        results.append(r)
        print(f"\n{n:,} positions (book built in {r.build:.1f} s)")
        for label, run in (
            (f"mtm {WARMUP_DAY} (first)", r.warmup),
            (f"mtm {MARK_DAY}", r.first),
            (f"mtm {MARK_DAY} re-run", r.rerun),
            ("book_get", r.book),
        ):
            print(f"  {label:<24} {run.seconds:7.3f} s  {run.queries:4d} queries")
        print(f"  mtm peak Python memory   {r.peak:7.1f} MB")

    small, big = results[0], results[-1]
    scale = big.n / small.n
    print("\nsummary")
    for r in results:
        print(
            f"  mtm {r.n:,} positions: {r.first.seconds:.2f} s, {r.first.queries} queries, "
            f"peak {r.peak:.0f} MB; re-run {r.rerun.seconds:.2f} s, {r.rerun.queries} queries"
        )
    label = f"{big.n // 1000}k/{small.n // 1000}k"
    print(
        f"  ratio {label} mtm:        time {ratio(big.first.seconds, small.first.seconds)} "
        f"(positions {scale:.1f}x), queries {ratio(big.first.queries, small.first.queries)}"
    )
    print(
        f"  ratio {label} mtm re-run: time {ratio(big.rerun.seconds, small.rerun.seconds)} "
        f"(positions {scale:.1f}x), queries {ratio(big.rerun.queries, small.rerun.queries)}"
    )
    print(
        f"  ratio {label} book:       time {ratio(big.book.seconds, small.book.seconds)} "
        f"(positions {scale:.1f}x), queries {ratio(big.book.queries, small.book.queries)}"
    )
    print(
        f"  at {big.n:,}: {big.n / big.first.seconds:,.0f} positions marked/s, "
        f"mtm peak {big.peak:.0f} MB, book {big.book.seconds:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
