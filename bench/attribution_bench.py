"""Attribution benchmark: one year of 10,000 positions (2.5 million position-days), by segment.

Targets (the issue): the attribution of one year of 10,000 positions by each segment in under 2 s
from scratch, reading the snapshots in a constant number of queries; a period request served from
the daily segment totals the EOD step keeps (days × segments rows, not position-days) in under
50 ms, uncached.

Run with ``make bench`` (or directly:
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_attr REDIS_URL= CELERY_BROKER_URL=
.venv/bin/python bench/attribution_bench.py``). PostgreSQL only: the database is created when
missing, migrated, and its portfolio and attribution tables are wiped — never point it at a real
database.

The data and the checks are in ``bench/attribution_data.py``. The data is built set-based (no
mark-to-market): 200 instruments (the five asset classes, six currencies) × 50 strategies =
10,000 positions in portfolio ``ATTR``, and 20 of the instruments × the 50 strategies = 1,000
positions in ``ATTR1K``; 250 business days from 2024-07-01 (so that YTD, from 2025-01-01, is
about half of ITD); one position snapshot per position and day, inserted by
one ``INSERT … SELECT`` over days × positions, day by day as the daily marks write them, with a
deterministic pseudo-random daily P&L (hashtext of position and day, −1,000 to 1,000) — as a
superuser without the per-row foreign-key check, the ids coming from the join itself; a
subscription and a redemption; the NAV snapshots computed by SQL from them so that the book's
invariants hold exactly (Σ position P&L = NAV P&L, NAV − P&L = previous NAV + flow, daily return =
NAV / (previous NAV + flow) − 1; checked); then ``VACUUM ANALYZE`` and a ``CHECKPOINT``, what
autovacuum and the checkpointer do within minutes of a load.

1. From scratch (no stored segment totals): ``report.attribution`` of ITD (the four dimensions)
   and ``report.attribution_by`` of each dimension, window resolution included (what the API view
   runs, without HTTP); best and median, the query count (``CaptureQueriesContext``) and the time
   the queries took. The count must be the same at 1,000 positions × 250 days and at 10,000
   positions × 20 days. Where the time goes: the queries' durations as captured, the numpy parts
   (``position_sums_by_segment``, ``combine``) timed alone on the same arrays, and a cProfile of
   one run.
2. Stored: ``services.segment_totals_store`` of the whole history (timed once), then
   ``report.attribution_by`` of MTD, YTD and ITD by each dimension: best and median of 5 runs,
   query counts.

Every result is checked (exit 1 when wrong) against an independent recomputation (two plain
GROUP BYs in SQL, plain-numpy Carino linking): per segment the P&L equal (Decimal) and the linked
contribution within 1e-12; Σ contributions = TWR within 1e-12; Σ row P&L = Σ NAV daily P&L
exactly; the TWR within 1e-12 of Π(1 + r) − 1 of the stored daily returns; the stored answers
within 1e-12 of the from-scratch ones (PostgreSQL's parallel float sums add in no fixed order).
SPEC §11: benchmarks print ratios, they are not timed tests — a missed time target prints
MISSED, it does not fail. Exits 2 when not on PostgreSQL. About a minute on a 2-core machine,
half of it the load; it prints the load average, since the times double when something else
runs.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import os
import pstats
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from attribution import calculations as calc  # noqa: E402
from attribution import report, selectors, services  # noqa: E402
from attribution.models import AttributionDay, SegmentPnl  # noqa: E402
from bench.attribution_data import (  # noqa: E402
    ASSET_CLASSES,
    CURRENCIES,
    DAYS,
    DEVIATIONS,
    DIMENSIONS,
    FLOWS,
    LAST_DAY,
    NUM_DAYS,
    SHORT_DAYS,
    SMALL_INSTRUMENTS,
    TOLERANCE,
    build_book,
    build_reference,
    check_book,
    check_result,
    expected,
    fail,
    load_reference,
    same_rows,
    superuser,
)
from bench.common import ensure_database, print_profile, wipe  # noqa: E402
from portfolio.models import (  # noqa: E402
    Portfolio,
)

PERIODS = ("MTD", "YTD", "ITD")
SCRATCH_RUNS = 3  # the four dimensions at once, and the smaller sizes
SCRATCH_BY_RUNS = 1  # each dimension alone: the same reads and groupbys as the four at once
STORED_RUNS = 5
PART_RUNS = 3
SCRATCH_TARGET_S = 2.0
STORED_TARGET_MS = 50.0


def ms(seconds: float) -> float:
    return seconds * 1000.0


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def verdict(value: float, limit: float) -> str:
    return "met" if value < limit else "MISSED"


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    sql: list[float] = field(default_factory=list)  # Σ query durations of each run
    slowest: list[float] = field(default_factory=list)  # the longest query of each run
    queries: set[int] = field(default_factory=set)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def sql_median(self) -> float:
        return statistics.median(self.sql)

    @property
    def slowest_median(self) -> float:
        return statistics.median(self.slowest)

    @property
    def other_sql_median(self) -> float:
        return statistics.median(q - m for q, m in zip(self.sql, self.slowest, strict=True))

    @property
    def python_median(self) -> float:
        """The time not spent waiting on a query (median over the runs)."""
        return statistics.median(t - q for t, q in zip(self.seconds, self.sql, strict=True))

    @property
    def query_count(self) -> int:
        if len(self.queries) != 1:
            fail(f"the query count varies between runs: {sorted(self.queries)}", 1)
        return next(iter(self.queries))


def timed(fn, runs: Runs, times: int):
    """Call ``fn`` ``times`` times (a collection first, GC left on); the last result."""
    gc.collect()
    result = None
    for _ in range(times):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - start
        runs.seconds.append(seconds)
        durations = [float(q["time"]) for q in ctx.captured_queries]
        runs.sql.append(sum(durations))
        runs.slowest.append(max(durations, default=0.0))
        runs.queries.add(len(ctx.captured_queries))
    return result


def period_window(portfolio: Portfolio, period: str) -> report.Window:
    return report.resolve_window(portfolio, period=period, as_of=LAST_DAY)


def scratch_all(portfolio: Portfolio, period: str = "ITD"):
    """The window resolved and attributed by the four dimensions, as a request would."""
    return lambda: report.attribution(portfolio, period_window(portfolio, period))


def request_by(portfolio: Portfolio, period: str, dim: str):
    """What GET /api/attribution/ does without HTTP: resolve the window, attribute one dimension."""
    return lambda: report.attribution_by(portfolio, period_window(portfolio, period), dim)


def no_stored_totals(portfolio: Portfolio) -> None:
    if SegmentPnl.objects.filter(portfolio=portfolio).exists():
        fail(f"{portfolio.code}: segment totals are stored; the from-scratch runs need none", 1)


@dataclass
class Parts:
    by_segment: float
    combine: float
    positions: int


def time_parts(portfolio: Portfolio) -> Parts:
    """The from-scratch path's numpy/pandas parts, each called alone with the arguments it gets
    (medians); the queries are timed in the whole runs (their durations as captured)."""
    window = period_window(portfolio, "ITD")
    nav = selectors.nav_days(portfolio, after=window.anchor, upto=window.end)
    weights = calc.link_weights(nav.returns, nav.capital)
    positions, units, linked = selectors.position_sums(portfolio, nav.dates, weights)
    segments = selectors.position_segments(portfolio)
    sums = calc.position_sums_by_segment(positions, units, linked, segments)
    parts = {
        "by_segment": lambda: calc.position_sums_by_segment(positions, units, linked, segments),
        "combine": lambda: [calc.combine(*sums[dim]) for dim in DIMENSIONS],
    }
    times: dict[str, list[float]] = {k: [] for k in parts}
    gc.collect()
    for _ in range(PART_RUNS):
        for name, fn in parts.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    m = {k: statistics.median(v) for k, v in times.items()}
    return Parts(**m, positions=len(positions))


def profile_scratch(portfolio: Portfolio) -> dict[str, float]:
    """cProfile of one from-scratch ITD attribution (four dimensions), printed; returns the
    cumulative seconds of its main parts as the profile saw them."""
    profiler = cProfile.Profile()
    profiler.enable()
    scratch_all(portfolio)()
    profiler.disable()
    print_profile(
        profiler,
        "one from-scratch ITD report.attribution (4 dimensions)",
        project_top=20,
        own_top=15,
    )
    stats = pstats.Stats(profiler).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}

    def cumulative(module: str, name: str) -> float:
        return sum(
            v[3] for (path, _, fn), v in stats.items() if path.endswith(module) and fn == name
        )

    return {
        "total": cumulative("attribution/report.py", "attribution"),
        "position sums query (execute + fetch)": cumulative("attribution/selectors.py", "_fetch"),
        "position segments (ORM)": cumulative("attribution/selectors.py", "position_segments"),
        "nav_days (ORM)": cumulative("attribution/selectors.py", "nav_days"),
        "position_sums_by_segment (numpy)": cumulative(
            "attribution/calculations.py", "position_sums_by_segment"
        ),
        "combine (pandas factorize)": cumulative("attribution/calculations.py", "combine"),
    }


# --- The benchmark -----------------------------------------------------------------------------


def secs(runs: Runs) -> str:
    return f"best {runs.best:6.3f} s  median {runs.median:6.3f} s"


def msecs(runs: Runs) -> str:
    return f"best {ms(runs.best):6.1f} ms  median {ms(runs.median):6.1f} ms"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    began = time.perf_counter()
    ensure_database("attribution_bench")
    wipe("portfolio", "attribution")
    print(
        f"PostgreSQL {connection.pg_version // 10000}, database "
        f"{connection.settings_dict['NAME']}; {NUM_DAYS} business days {DAYS[0]} – {LAST_DAY}; "
        f"{os.cpu_count()} cores, {load()}"
    )

    # --- Data -----------------------------------------------------------------------------
    start = time.perf_counter()
    instruments, strategies = build_reference()
    big, big_snaps = build_book("ATTR", instruments, strategies)
    small, small_snaps = build_book("ATTR1K", instruments[:SMALL_INSTRUMENTS], strategies)
    built = time.perf_counter() - start
    start = time.perf_counter()
    with connection.cursor() as cur:
        # What autovacuum does within a minute of a bulk load: statistics and the visibility map.
        cur.execute("VACUUM ANALYZE")
        vacuum = time.perf_counter() - start
        # And what the checkpointer does within minutes: write the load's dirty pages, which it
        # would otherwise be doing during the timed runs.
        if superuser():
            cur.execute("CHECKPOINT")
    checkpoint = time.perf_counter() - start - vacuum
    n_big = len(instruments) * len(strategies)
    n_small = SMALL_INSTRUMENTS * len(strategies)
    check_book(big, n_big)
    check_book(small, n_small)
    print(
        f"\ndata: {len(instruments)} instruments ({len(ASSET_CLASSES)} asset classes, "
        f"{len(CURRENCIES)} currencies) × {len(strategies)} strategies; {big.code} "
        f"{n_big:,} positions, {small.code} {n_small:,} positions; "
        f"{(n_big + n_small) * NUM_DAYS:,} position snapshots, flows "
        + ", ".join(f"{a:+,.0f} on {DAYS[k]}" for k, a in FLOWS.items())
    )
    print(
        f"  loaded in {built:.1f} s (position snapshots: {n_big * NUM_DAYS:,} rows "
        f"{big_snaps:.1f} s, {n_small * NUM_DAYS:,} rows {small_snaps:.1f} s); VACUUM ANALYZE "
        f"{vacuum:.1f} s, CHECKPOINT {checkpoint:.1f} s"
    )
    start = time.perf_counter()
    ref_big, ref_small = load_reference(big), load_reference(small)
    print(
        f"  independent reference (two GROUP BYs, plain numpy Carino) read in "
        f"{time.perf_counter() - start:.1f} s, untimed below"
    )
    windows = {p: period_window(big, p) for p in PERIODS}
    for p, w in windows.items():
        days = sum(w.anchor < d <= w.end for d in DAYS)
        print(f"  {p}: anchor {w.anchor}, {days} days to {w.end}")

    # --- 1. From scratch ----------------------------------------------------------------
    no_stored_totals(big)
    no_stored_totals(small)
    print(
        f"\n1. from scratch (no stored segment totals), {big.code}: {n_big:,} positions × "
        f"{NUM_DAYS} days = {n_big * NUM_DAYS:,} position-days; window resolution included"
    )
    scratch = Runs()
    itd = timed(scratch_all(big), scratch, SCRATCH_RUNS)
    want_itd = expected(ref_big, windows["ITD"])
    check_result("from scratch ITD", itd, want_itd, DIMENSIONS)
    print(
        f"  attribution ITD, 4 dimensions   {secs(scratch)}  {scratch.query_count} queries "
        f"(SQL {scratch.sql_median:.3f} s)  target < {SCRATCH_TARGET_S:.0f} s: "
        f"{verdict(scratch.best, SCRATCH_TARGET_S)}"
    )
    scratch_by: dict[str, Runs] = {}
    for dim in DIMENSIONS:
        runs = Runs()
        result = timed(request_by(big, "ITD", dim), runs, SCRATCH_BY_RUNS)
        check_result(f"from scratch ITD by {dim}", result, want_itd, [dim])
        same_rows(f"from scratch ITD by {dim}", result["rows"], itd["by"][dim])
        scratch_by[dim] = runs
        print(
            f"  attribution_by ITD {dim:<12} {secs(runs)}  {runs.query_count} queries "
            f"(SQL {runs.sql_median:.3f} s)  target < {SCRATCH_TARGET_S:.0f} s: "
            f"{verdict(runs.best, SCRATCH_TARGET_S)}"
        )

    # The other periods from scratch, once: the answers the stored path must reproduce.
    scratch_periods = {"ITD": itd}
    for p in ("MTD", "YTD"):
        runs = Runs()
        scratch_periods[p] = timed(scratch_all(big, p), runs, 1)
        check_result(
            f"from scratch {p}", scratch_periods[p], expected(ref_big, windows[p]), DIMENSIONS
        )
        print(
            f"  attribution {p}, 4 dimensions   {runs.best:6.3f} s (one run)  "
            f"{runs.query_count} queries"
        )

    # The constant number of queries: 1,000 × 250 and 10,000 × 20.
    small_runs = Runs()
    small_itd = timed(scratch_all(small), small_runs, SCRATCH_RUNS)
    check_result(
        "from scratch ITD of 1,000 positions",
        small_itd,
        expected(ref_small, period_window(small, "ITD")),
        DIMENSIONS,
    )
    short = report.resolve_window(big, start=DAYS[-SHORT_DAYS], end=LAST_DAY)
    short_runs = Runs()
    short_result = timed(
        lambda: report.attribution(
            big, report.resolve_window(big, start=DAYS[-SHORT_DAYS], end=LAST_DAY)
        ),
        short_runs,
        SCRATCH_RUNS,
    )
    check_result(
        f"from scratch {SHORT_DAYS} days", short_result, expected(ref_big, short), DIMENSIONS
    )
    sizes = (
        (f"{n_big:,} × {NUM_DAYS}", n_big * NUM_DAYS, scratch),
        (f"{n_small:,} × {NUM_DAYS}", n_small * NUM_DAYS, small_runs),
        (f"{n_big:,} × {SHORT_DAYS} (from/to)", n_big * SHORT_DAYS, short_runs),
    )
    print("  query count of attribution (4 dimensions) by size, positions × days:")
    for label, rows, runs in sizes:
        print(
            f"    {label:<24} {rows:>10,} position-days  {runs.query_count} queries  {secs(runs)}"
        )
    counts = {runs.query_count for _, _, runs in sizes}
    if len(counts) != 1:
        fail(f"the from-scratch query count changes with the size: {sorted(counts)}", 1)
    print(
        f"    the same count at every size; time ratio {n_big:,}/{n_small:,} "
        f"{ratio(scratch.best, small_runs.best)} (position-days {n_big / n_small:.0f}x), "
        f"{NUM_DAYS}/{SHORT_DAYS} days {ratio(scratch.best, short_runs.best)} "
        f"({NUM_DAYS / SHORT_DAYS:.1f}x)"
    )

    parts = time_parts(big)
    summed, other_sql = scratch.slowest_median, scratch.other_sql_median
    python = scratch.python_median
    rest = python - parts.by_segment - parts.combine
    whole = summed + other_sql + python
    print(
        f"\n  where a from-scratch ITD run (4 dimensions) goes, medians over its "
        f"{len(scratch.seconds)} runs: the queries' durations as captured, the rest of each run "
        f"in Python, of which the numpy parts timed alone ({PART_RUNS} runs) on the same "
        f"{parts.positions:,} per-position sums:"
    )
    rows = (
        ("SQL: Σ pnl and Σ a_t·pnl per position (2.5 M rows)", summed),
        ("SQL: the 3 other queries (bounds, NAV days, segments)", other_sql),
        ("Python: calculations.position_sums_by_segment", parts.by_segment),
        ("Python: calculations.combine × 4", parts.combine),
        ("Python: the rest (fetch, ORM rows, weights)", rest),
    )
    for label, seconds in rows:
        print(f"    {label:<54} {seconds:7.3f} s  {seconds / whole:5.0%}")
    print(f"    {'total':<54} {whole:7.3f} s")
    profiled = profile_scratch(big)
    print("\n  the profiled run, cumulative seconds (profiler overhead included):")
    for label, seconds in profiled.items():
        print(f"    {label:<34} {seconds:7.3f} s  {seconds / profiled['total']:5.0%}")

    # --- 2. Stored daily segment totals --------------------------------------------------
    print(f"\n2. stored daily segment totals, {big.code}")
    store_runs = Runs()
    stored_days = timed(
        lambda: services.segment_totals_store(
            big, selectors.nav_days(big, after=dt.date.min, upto=LAST_DAY)
        ),
        store_runs,
        1,
    )
    seg_rows = SegmentPnl.objects.filter(portfolio=big).count()
    if stored_days != NUM_DAYS or AttributionDay.objects.filter(portfolio=big).count() != NUM_DAYS:
        fail(f"segment_totals_store stored {stored_days} days, expected {NUM_DAYS}", 1)
    keys = {dim: len(ref_big.pnl[dim]) for dim in DIMENSIONS}
    if seg_rows != NUM_DAYS * sum(keys.values()):
        fail(f"{seg_rows:,} SegmentPnl rows, expected {NUM_DAYS * sum(keys.values()):,}", 1)
    print(
        f"  segment_totals_store, {NUM_DAYS} days: {store_runs.best:.2f} s, "
        f"{store_runs.query_count} queries, {seg_rows:,} rows ({NUM_DAYS} days × "
        + " + ".join(f"{keys[d]} {d}" for d in DIMENSIONS)
        + ")"
    )
    start = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE attribution_segmentpnl, attribution_attributionday")
    print(f"  VACUUM ANALYZE of the attribution tables: {time.perf_counter() - start:.2f} s")
    if selectors.nav_days(big, after=dt.date.min, upto=LAST_DAY).stale:
        fail("days are still stale after segment_totals_store", 1)

    stored: dict[tuple[str, str], Runs] = {}
    print(
        f"  attribution_by served from the stored totals ({STORED_RUNS} runs each, window "
        "resolution included):"
    )
    for p in PERIODS:
        n_days = scratch_periods[p]["days"]
        for dim in DIMENSIONS:
            runs = Runs()
            result = timed(request_by(big, p, dim), runs, STORED_RUNS)
            what = f"stored {p} by {dim}"
            base = scratch_periods[p]
            if (result["pnl"], result["days"]) != (base["pnl"], base["days"]) or abs(
                result["twr"] - base["twr"]
            ) > TOLERANCE:
                fail(f"{what}: P&L, days or TWR differ from the from-scratch answer", 1)
            same_rows(what, result["rows"], base["by"][dim])
            stored[(p, dim)] = runs
            print(
                f"    {p} {dim:<12} {n_days:3d} days × {keys[dim]:3d} segments  {msecs(runs)}  "
                f"{runs.query_count} queries (SQL {ms(runs.sql_median):5.1f} ms)  "
                f"target < {STORED_TARGET_MS:.0f} ms: {verdict(ms(runs.best), STORED_TARGET_MS)}"
            )
    counts = {runs.query_count for runs in stored.values()}
    if len(counts) != 1:
        fail(f"the stored path's query count changes with the period: {sorted(counts)}", 1)
    print(
        f"    the same {counts.pop()} queries for every period and dimension; the answers equal "
        "the from-scratch ones"
    )

    # --- Summary ----------------------------------------------------------------------------
    print("\nsummary (best of the runs; ratio = measured / target, < 1 is met)")
    print(f"  {'':<44} {'target':>9} {'measured':>10} {'ratio':>7}")
    lines = [("from scratch ITD, 4 dimensions", SCRATCH_TARGET_S, scratch.best, "s")]
    lines += [
        (f"from scratch ITD by {dim}", SCRATCH_TARGET_S, scratch_by[dim].best, "s")
        for dim in DIMENSIONS
    ]
    lines += [
        (f"stored {p} by {dim}", STORED_TARGET_MS / 1000, stored[(p, dim)].best, "ms")
        for p in PERIODS
        for dim in DIMENSIONS
    ]
    for label, limit, value, unit in lines:
        scale = 1000.0 if unit == "ms" else 1.0
        print(
            f"  {label:<44} {limit * scale:>6.0f} {unit:<2} {value * scale:>7.3f} {unit:<2} "
            f"{value / limit:>6.2f}x  {verdict(value, limit)}"
        )
    print("  stored vs from scratch, ITD (speed-up, best / best):")
    for dim in DIMENSIONS:
        a, b = scratch_by[dim].best, stored[("ITD", dim)].best
        print(f"    {dim:<12} {a:.3f} s → {ms(b):.1f} ms: {a / b:,.0f}x faster")
    print(
        f"  queries: from scratch {scratch.query_count} (4 dimensions) at every size, "
        f"{scratch_by['strategy'].query_count} by one dimension; stored "
        f"{stored[('ITD', 'strategy')].query_count}; segment_totals_store "
        f"{store_runs.best:.2f} s once"
    )
    print(
        "  correctness (every answer; tolerance 1e-12): P&L exact; largest deviations "
        + ", ".join(f"{name} {value:.1e}" for name, value in DEVIATIONS.items())
    )
    print(f"\ndone in {time.perf_counter() - began:.0f} s; {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
