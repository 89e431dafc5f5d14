"""Trades benchmark: signals and proposals for 200 instruments × 3 strategies, 3 years of closes.

Target (the issue): generating the signals and proposals of a day for 200 instruments × 3
strategies with 3 years of history in under 1 s, with a number of queries that does not grow with
the instruments.

Run with ``make bench`` (or directly:
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_trades REDIS_URL= CELERY_BROKER_URL=
.venv/bin/python bench/trades_bench.py [--profile]``). PostgreSQL only: the database is created
when missing, migrated, and its portfolio, risk and trades tables are wiped — never point it at a
real database.

For 50 and then 200 instruments (``EURUSD`` among them; every 20th other one in EUR) it builds,
through the services, 780 business days of closes (``prices_load``) up to the last business day
before today, a USD portfolio of 1e9 with seven risk limits and a book of one open position per
two instruments (``execution_record``, one transaction) marked to market on the last day, and
three generating strategies that each cover every instrument: ``MOM`` (momentum) and ``MR`` (mean
reversion) with no asset class, ``MOMN`` (momentum) naming all of them. It then times, on the
last day, ``trades.services.proposals_generate`` (the signals, the sizing, the pre-trade check of
every new proposal, the writes): the first run, cold runs (the day's proposals and signals deleted
first, untimed) and regenerations (which keep every proposal); ``signals_generate`` alone; and
the parts of a cold run, interleaved with it (reads, generators, sizing, ``pretrade_impacts`` of
the same trades). Prints the best and the median of the runs, query counts
(``CaptureQueriesContext``) at both sizes and their ratios (SPEC §11: benchmarks print ratios,
they are not timed tests; a missed target is printed as MISSED with a cProfile of a cold run,
which ``--profile`` forces). Exits 1 when a result is wrong or the query count grows, 2 when not
on PostgreSQL.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import os
import statistics
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, print_profile, wipe  # noqa: E402
from portfolio import calculations as pcalc  # noqa: E402
from portfolio import selectors as portfolio_selectors  # noqa: E402
from portfolio import services  # noqa: E402
from portfolio.choices import AssetClass, ExecutionSource  # noqa: E402
from portfolio.models import Instrument, NavSnapshot, Portfolio, Strategy  # noqa: E402
from risk import pretrade  # noqa: E402
from risk.choices import Metric  # noqa: E402
from risk.services import risk_limit_create  # noqa: E402
from trades import selectors  # noqa: E402
from trades.models import Signal, TradeProposal  # noqa: E402
from trades.services import generation  # noqa: E402
from trades.services.signals import signals_compute, signals_generate, signals_store  # noqa: E402

SEED = 20250314
SIZES = (50, 200)  # instruments, EURUSD included
HISTORY_DAYS = 780  # business days of closes: three years
EUR_EVERY = 20  # every 20th non-FX instrument is in EUR, converted with EURUSD
RUNS = 5
TARGET_S = 1.0
INITIAL_CAPITAL = Decimal("1000000000")
POSITION_NOTIONAL = 0.015  # of NAV per book position: 100 positions are 1.5x gross
BOOK_TRADE_DAY = -60  # the book's executions: 60 business days before the last close
ASSET_CLASSES = [AssetClass.EQUITY, AssetClass.COMMODITY, AssetClass.RATES, AssetClass.CREDIT]
MULTIPLIERS = [Decimal(1), Decimal(10), Decimal(50)]
# code: (generator, asset class, risk budget, names every instrument)
STRATEGIES = {
    "MOM": ("momentum", "", Decimal("0.02"), False),
    "MOMN": ("momentum", "", Decimal("0.01"), True),
    "MR": ("mean_reversion", "", Decimal("0.01"), False),
}
LIMITS = {
    Metric.VAR_99: ("0.05", "0.10"),
    Metric.ES_975: ("0.06", "0.12"),
    Metric.GROSS_LEVERAGE: ("3", "5"),
    Metric.NET_EXPOSURE: ("1", "2"),
    Metric.GROSS_EQUITY: ("1.5", "3"),
    Metric.LARGEST_INSTRUMENT: ("0.10", "0.20"),
    Metric.DRAWDOWN: ("0.10", "0.20"),
}


def fail(message: str, code: int) -> None:
    common.fail("trades_bench", message, code)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


# --- The world --------------------------------------------------------------------------------


@dataclass
class World:
    n: int
    dates: list[dt.date]
    portfolio: Portfolio
    strategies: list[Strategy]
    positions: int
    eur: int
    build: float

    @property
    def day(self) -> dt.date:
        return self.dates[-1]


def history_dates(end: dt.date, days: int) -> list[dt.date]:
    dates = [end]
    while len(dates) < days:
        dates.append(pcalc.previous_business_day(dates[-1]))
    return dates[::-1]


def build_world(n: int) -> World:
    """``n`` instruments (EURUSD and ``n`` − 1 others) with ``HISTORY_DAYS`` closes each, the
    portfolio, its limits and its book marked on the last day, and the three strategies."""
    start = time.perf_counter()
    rng = np.random.default_rng(SEED + n)
    end = pcalc.previous_business_day(portfolio_selectors.today())
    dates = history_dates(end, HISTORY_DAYS)
    m, k = len(dates), n - 1

    rows = [services.InstrumentRow("EURUSD", "EUR/USD", AssetClass.FX, "USD")]
    rows += [
        services.InstrumentRow(
            symbol=f"TB{i:04d}",
            name=f"Trades bench instrument {i}",
            asset_class=ASSET_CLASSES[i % len(ASSET_CLASSES)],
            currency="EUR" if i % EUR_EVERY == 0 else "USD",
            multiplier=MULTIPLIERS[i % len(MULTIPLIERS)],
        )
        for i in range(1, k + 1)
    ]
    services.instruments_upsert(rows)
    by_symbol = Instrument.objects.in_bulk([r.symbol for r in rows], field_name="symbol")
    instruments = [by_symbol[r.symbol] for r in rows[1:]]

    # Random walks with a drift of either sign (so momentum goes long and short), a common
    # market factor and idiosyncratic noise; EURUSD wobbles around 1.08.
    market = rng.normal(0.0002, 0.008, size=(m, 1))
    drift = rng.normal(0.0, 0.0008, size=(1, k))
    returns = drift + market * rng.uniform(0.3, 1.4, size=(1, k)) + rng.normal(0, 0.012, (m, k))
    closes = np.round(rng.uniform(20.0, 400.0, size=(1, k)) * np.cumprod(1 + returns, axis=0), 4)
    eurusd = np.round(1.08 * np.cumprod(1.0 + rng.normal(0.0, 0.004, size=m)), 6)
    text = np.char.mod("%.4f", closes)
    prices = [
        services.PriceRow("EURUSD", day, Decimal(f"{rate:.6f}"))
        for day, rate in zip(dates, eurusd, strict=True)
    ]
    prices += [
        services.PriceRow(inst.symbol, day, Decimal(str(text[t, j])))
        for t, day in enumerate(dates)
        for j, inst in enumerate(instruments)
    ]
    services.prices_load(prices)

    portfolio = Portfolio.objects.create(
        code=f"TRADES{n}",
        name=f"Trades benchmark {n}",
        base_currency="USD",
        inception_date=dates[0],
        initial_capital=INITIAL_CAPITAL,
    )
    for metric, (soft, hard) in LIMITS.items():
        risk_limit_create(
            portfolio=portfolio, metric=metric, soft=Decimal(soft), hard=Decimal(hard)
        )

    strategies = []
    for code, (generator, asset_class, budget, named) in STRATEGIES.items():
        strategy = Strategy(
            code=code,
            name=f"Trades bench {generator}",
            asset_class=asset_class,
            risk_budget=budget,
            generator=generator,
        )
        strategy.full_clean()
        strategy.save()
        if named:
            strategy.instruments.set([*instruments, by_symbol["EURUSD"]])
        strategies.append(strategy)

    # The book: one open position per two instruments, in the strategies' sleeves in turn, long
    # and short, worth POSITION_NOTIONAL of NAV each at the trade date.
    t = BOOK_TRADE_DAY
    fx = {True: Decimal(f"{eurusd[t]:.6f}"), False: Decimal(1)}
    held = instruments[::2]
    with transaction.atomic():
        for j, inst in enumerate(held):
            price = Decimal(str(text[t, 2 * j]))
            unit = price * inst.multiplier * fx[inst.currency == "EUR"]
            size = Decimal(round(float(INITIAL_CAPITAL) * POSITION_NOTIONAL / float(unit)))
            services.execution_record(
                portfolio=portfolio,
                instrument=inst,
                strategy=strategies[j % len(strategies)],
                trade_date=dates[t],
                quantity=size if j % 3 else -size,
                price=price,
                source=ExecutionSource.MANUAL,
            )
    services.mark_to_market(portfolio=portfolio, business_date=dates[-1])
    with connection.cursor() as cur:
        # What autovacuum does within a minute of a bulk load: statistics, and the visibility map
        # that lets the price history be read by an index-only scan (migration portfolio 0005).
        cur.execute("VACUUM ANALYZE")
    eur = sum(inst.currency == "EUR" for inst in instruments)
    return World(n, dates, portfolio, strategies, len(held), eur, time.perf_counter() - start)


# --- Measuring --------------------------------------------------------------------------------


@dataclass
class Runs:
    seconds: list[float]
    queries: set[int]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def query_count(self) -> int:
        if len(self.queries) != 1:
            fail(f"the query count varies between runs: {sorted(self.queries)}", 1)
        return next(iter(self.queries))

    def add(self, seconds: float, queries: int) -> None:
        self.seconds.append(seconds)
        self.queries.add(queries)


def timed(fn, runs: Runs):
    with CaptureQueriesContext(connection) as ctx:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    runs.add(seconds, len(ctx.captured_queries))
    return result


def clear_day(world: World) -> None:
    """Delete the proposals and signals of the day: the next run starts cold."""
    TradeProposal.objects.filter(portfolio=world.portfolio, date=world.day).delete()
    Signal.objects.filter(date=world.day).delete()


@dataclass
class Result:
    world: World
    first: Runs
    cold: Runs
    regen: Runs
    signals: Runs
    pretrade: Runs
    parts: dict[str, list[float]]
    n_signals: int
    proposals: int
    skipped: int
    breaking: int
    pairs: int  # (strategy, instrument) rows

    @property
    def part_medians(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.parts.items()}


def check_first(world: World, result, pairs: int) -> None:
    n = world.n
    if result.signals != pairs:
        fail(f"{n}: {result.signals} signals for {pairs} rows: {result.skipped[:3]}", 1)
    if not result.created or result.kept or result.removed:
        fail(
            f"{n}: the first run created {len(result.created)}, kept {len(result.kept)}, "
            f"removed {result.removed}",
            1,
        )
    if result.nav != NavSnapshot.objects.get(portfolio=world.portfolio, date=world.day).nav:
        fail(f"{n}: the proposals were sized on NAV {result.nav}, not the day's snapshot", 1)
    stored = TradeProposal.objects.filter(portfolio=world.portfolio, date=world.day)
    if stored.count() != len(result.created) or stored.filter(var_99_after__isnull=True).exists():
        fail(f"{n}: the stored proposals differ from those created, or lack their check", 1)


def bench(world: World) -> Result:
    portfolio, day = world.portfolio, world.day
    strategies = selectors.signal_strategies()
    universes = selectors.universes(strategies)
    pairs = sum(len(u) for u in universes.values())

    def generate():
        return generation.proposals_generate(portfolio=portfolio, day=day)

    gc.collect()
    first = Runs([], set())
    result = timed(generate, first)
    check_first(world, result, pairs)
    created = len(result.created)
    trades = [
        pretrade.Trade(p.instrument, p.strategy.code, p.signed_quantity, p.price)
        for p in result.created
    ]

    regen = Runs([], set())
    for _ in range(RUNS):
        again = timed(generate, regen)
        if again.created or again.removed or len(again.kept) != created:
            fail(
                f"{world.n}: a regeneration created {len(again.created)}, kept "
                f"{len(again.kept)} of {created}, removed {again.removed}",
                1,
            )

    # Cold runs, and the parts of one timed in the same loop (so drift hits them all alike),
    # each called with the arguments proposals_generate gives it.
    def reads():
        found = selectors.signal_strategies()
        universe = selectors.universes(found)
        instruments = {i.symbol: i for u in universe.values() for i in u}
        history = selectors.market_history(
            list(instruments.values()), base=portfolio.base_currency, day=day
        )
        return found, universe, history

    found, universe, history = reads()
    rows, _ = signals_compute(found, universe, history.prices, day)
    nav = selectors.sizing_nav(portfolio, day)
    current = selectors.sleeve_quantities(portfolio, day)
    fields = [f.attname for f in TradeProposal._meta.concrete_fields if not f.primary_key]

    def clock(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def store() -> float:
        # Fresh rows, as a run stores: an upsert of the day's signals (their ids survive).
        names = ("strategy", "instrument", "date", "value", "generator", "rationale")
        fresh = [Signal(**{f: getattr(s, f) for f in names}) for s in rows]
        with transaction.atomic():
            return clock(lambda: signals_store(day, found, fresh))

    def insert(proposals: list[TradeProposal]) -> float:
        # The run's proposals inserted again in place of themselves, then rolled back.
        copies = [TradeProposal(**{f: getattr(p, f) for f in fields}) for p in proposals]
        with transaction.atomic():
            TradeProposal.objects.filter(portfolio=portfolio, date=day).delete()
            seconds = clock(lambda: TradeProposal.objects.bulk_create(copies, batch_size=1000))
            transaction.set_rollback(True)
        return seconds

    cold = Runs([], set())
    pretrade_runs = Runs([], set())
    parts: dict[str, list[float]] = {
        k: [] for k in ("reads", "signals_compute", "signals_store", "sizing", "insert")
    }
    for _ in range(RUNS):
        clear_day(world)
        gc.collect()
        out = timed(generate, cold)
        if len(out.created) != created or out.kept:
            fail(f"{world.n}: a cold run created {len(out.created)}, the first {created}", 1)
        parts["reads"].append(clock(reads))
        parts["signals_compute"].append(
            clock(lambda: signals_compute(found, universe, history.prices, day))
        )
        parts["signals_store"].append(store())
        parts["sizing"].append(clock(lambda: generation._size(rows, history, nav, current)))
        timed(lambda: pretrade.pretrade_impacts(portfolio, trades), pretrade_runs)
        parts["insert"].append(insert(out.created))

    signals = Runs([], set())
    for _ in range(RUNS):
        run = timed(lambda: signals_generate(day=day), signals)
        if len(run.signals) != result.signals:
            fail(f"{world.n}: signals_generate stored {len(run.signals)}, not {result.signals}", 1)
    breaking = TradeProposal.objects.filter(
        portfolio=portfolio, date=day, breaks_hard_limit=True
    ).count()
    return Result(
        world,
        first,
        cold,
        regen,
        signals,
        pretrade_runs,
        parts,
        result.signals,
        created,
        len(result.skipped),
        breaking,
        pairs,
    )


def secs(runs: Runs) -> str:
    return f"best {runs.best:6.3f} s  median {runs.median:6.3f} s"


def report(r: Result) -> None:
    w = r.world
    print(
        f"\n{w.n} instruments ({w.eur} in EUR via EURUSD, EURUSD itself included) × "
        f"{len(STRATEGIES)} strategies = {r.pairs} (strategy, instrument) rows; {len(w.dates)} "
        f"business days of closes ({w.dates[0]} – {w.day}); a book of {w.positions} positions "
        f"marked on {w.day}; built in {w.build:.1f} s"
    )
    print(
        f"  {r.n_signals} signals, {r.proposals} proposals "
        f"({r.breaking} breaking a hard limit), {r.skipped} rows skipped (no trade)"
    )
    rows = (
        ("proposals_generate, first run (cold)", r.first, f"{r.first.best:6.3f} s"),
        (f"proposals_generate, cold ({RUNS} runs)", r.cold, secs(r.cold)),
        (f"proposals_generate, regeneration ({RUNS})", r.regen, secs(r.regen)),
        (f"signals_generate alone ({RUNS} runs)", r.signals, secs(r.signals)),
    )
    for label, runs, text in rows:
        print(f"  {label:<43} {text:<34} {runs.query_count:3d} queries")
    print(f"  parts of a cold run (medians of {RUNS}, interleaved with the cold runs):")
    medians = r.part_medians
    cold = r.cold.median
    parts = (
        ("reads: strategies, universes, 2 years of closes", medians["reads"], ""),
        ("signals_compute (the generators)", medians["signals_compute"], ""),
        ("signals_store (upsert of the signals)", medians["signals_store"], ""),
        ("sizing (trades.services.generation._size)", medians["sizing"], ""),
        (
            f"risk.pretrade.pretrade_impacts of the {r.proposals} trades",
            r.pretrade.median,
            f"{r.pretrade.query_count:3d} queries",
        ),
        (f"TradeProposal bulk_create of the {r.proposals}", medians["insert"], ""),
    )
    for label, seconds, extra in parts:
        print(f"    {label:<55} {seconds:6.3f} s  {seconds / cold:5.0%}  {extra}")
    rest = cold - sum(s for _, s, _ in parts)
    print(
        f"    {'the rest: lock, proposals built, audit (difference)':<55} {rest:6.3f} s  "
        f"{rest / cold:5.0%}"
    )


def profile_cold(world: World) -> None:
    """cProfile of one cold run: the project's functions by cumulative time, everything by own
    time (where the database wait and the row parsing show)."""
    clear_day(world)
    profiler = cProfile.Profile()
    profiler.enable()
    generation.proposals_generate(portfolio=world.portfolio, day=world.day)
    profiler.disable()
    print_profile(profiler, "one cold proposals_generate", project_top=30, own_top=20)


def main() -> int:
    ensure_database("trades_bench")
    print(
        f"PostgreSQL {connection.pg_version // 10000}, database "
        f"{connection.settings_dict['NAME']}; strategies "
        + ", ".join(f"{c} ({g}, risk budget {b:.0%})" for c, (g, _, b, _) in STRATEGIES.items())
        + f", each over every instrument (MOMN names them); NAV "
        f"{INITIAL_CAPITAL:,.0f} USD, {len(LIMITS)} risk limits"
    )
    results = {}
    worlds = {}
    for n in SIZES:
        wipe("portfolio", "risk", "trades")
        worlds[n] = build_world(n)
        results[n] = bench(worlds[n])
        report(results[n])

    small, big = results[min(SIZES)], results[max(SIZES)]
    scale = big.world.n / small.world.n
    print(f"\nratios {big.world.n}/{small.world.n} (instruments {scale:.0f}x)")
    wrong = []
    for label, a, b in (
        ("proposals_generate cold", big.cold, small.cold),
        ("proposals_generate regeneration", big.regen, small.regen),
        ("signals_generate", big.signals, small.signals),
        ("pretrade_impacts", big.pretrade, small.pretrade),
    ):
        same = a.query_count == b.query_count
        if not same:
            wrong.append(f"{label}: {b.query_count} -> {a.query_count} queries")
        print(
            f"  {label:<32} time {ratio(a.best, b.best):>6} (best), queries {a.query_count} vs "
            f"{b.query_count}: {'the same' if same else 'DIFFERENT'}"
        )

    best = big.cold.best
    verdict = "met" if best < TARGET_S else "MISSED"
    print("\nsummary")
    print(
        f"  signals+proposals {big.world.n} instr x {len(STRATEGIES)} strategies, "
        f"{len(big.world.dates)} days: {best:.2f} s (target < {TARGET_S:.0f} s: "
        f"{best / TARGET_S:.2f}x of target, {verdict}; median {big.cold.median:.2f} s), "
        f"{big.proposals} proposals, "
        f"{big.cold.query_count} queries ({small.cold.query_count} at {small.world.n} "
        "instruments)"
    )
    print(
        f"  first run {big.first.best:.2f} s; regeneration {big.regen.best:.2f} s, "
        f"{big.regen.query_count} queries ({small.regen.query_count} at {small.world.n}); "
        f"signals alone {big.signals.best:.2f} s, {big.signals.query_count} queries "
        f"({small.signals.query_count} at {small.world.n})"
    )
    if best >= TARGET_S or "--profile" in sys.argv[1:]:
        profile_cold(worlds[max(SIZES)])
    if wrong:
        fail("the query count grows with the instruments: " + "; ".join(wrong), 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
