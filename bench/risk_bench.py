"""Risk benchmark: the VaR numerics and ``GET /api/risk/live/`` at 100 and 1,000 open positions.

Run with ``make bench`` (or directly:
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_risk .venv/bin/python
bench/risk_bench.py``). PostgreSQL only: the database is created when missing, migrated, and its
portfolio and risk tables are wiped — never point it at a real database. Prints medians, query
counts and the ratios measured in this one run, each next to its target (SPEC §11: benchmarks
print ratios, they are not timed tests; a missed target is reported, with a profile, not failed).
Exits 1 when a result is wrong, 2 when not on PostgreSQL.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import gc
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")
# WhiteNoise warns once that there is no collected static folder: irrelevant to an API read.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, print_profile, sleeve_rows, wipe  # noqa: E402
from portfolio import book, services  # noqa: E402
from portfolio import calculations as pcalc  # noqa: E402
from portfolio import selectors as portfolio_selectors  # noqa: E402
from portfolio.choices import AssetClass  # noqa: E402
from portfolio.models import (  # noqa: E402
    Execution,
    Instrument,
    Portfolio,
    Position,
    Price,
    Strategy,
)
from risk import calculations as calc  # noqa: E402
from risk import report, selectors  # noqa: E402
from risk.choices import Metric  # noqa: E402
from risk.models import RiskLimit  # noqa: E402

SEED = 20250301
# Part 1: the pure numerics.
NUM_INSTRUMENTS = 1_000
NUM_RUNS = 50
COV_RUNS = 10
VAR_TARGET_MS = 20.0
AGREEMENT = 1e-9  # relative: the P&L-variance and the covariance forms of the parametric VaR
# Part 2: the live risk request.
SIZES = (100, 1_000)
HISTORY_DAYS = 300  # business days of closes per instrument
EUR_EVERY = 25  # every 25th instrument is in EUR (40 of 1,000), converted with EURUSD
REQUEST_RUNS = 10
PART_RUNS = 10
LIVE_TARGET_MS = 250.0
URL = "/api/risk/live/"
BATCH = 5000
ASSET_CLASSES = [AssetClass.EQUITY, AssetClass.COMMODITY, AssetClass.RATES, AssetClass.CREDIT]
MULTIPLIERS = [Decimal(1), Decimal(10), Decimal(50)]
# Generous limits, so no request breaches one (a breach writes an Alert): the request only reads.
LIMITS = {
    Metric.VAR_95: ("0.50", "1.00"),
    Metric.VAR_99: ("0.50", "1.00"),
    Metric.ES_975: ("0.50", "1.00"),
    Metric.GROSS_LEVERAGE: ("50", "100"),
    Metric.NET_EXPOSURE: ("50", "100"),
    Metric.GROSS_EQUITY: ("50", "100"),
    Metric.LARGEST_INSTRUMENT: ("0.50", "1.00"),
    Metric.DRAWDOWN: ("0.50", "1.00"),
}


def fail(message: str, code: int) -> None:
    common.fail("risk_bench", message, code)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def median_seconds(fn, runs: int) -> float:
    """Median wall time of ``runs`` calls of ``fn`` (after a collection, GC left on)."""
    gc.collect()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def target(value_ms: float, limit_ms: float) -> str:
    return f"target < {limit_ms:.0f} ms: {'met' if value_ms < limit_ms else 'MISSED'}"


# --- Part 1: value_at_risk on 1,000 instruments × 250 scenarios -------------------------------


def bench_numerics() -> float:
    rng = np.random.default_rng(SEED)
    n, s = NUM_INSTRUMENTS, calc.N_SCENARIOS
    # One market factor and idiosyncratic noise: correlated returns, as a real book has.
    market = rng.normal(0.0, 0.01, size=(s, 1))
    returns = 0.8 * market * rng.uniform(0.2, 1.5, size=(1, n)) + rng.normal(0.0, 0.015, (s, n))
    exposures_arr = rng.normal(0.0, 2e6, size=n)
    symbols = [f"S{i:04d}" for i in range(n)]
    dates = pd.bdate_range("2024-01-02", periods=s).date
    window = pd.DataFrame(returns, index=pd.Index(dates), columns=symbols)
    exposures = pd.Series(exposures_arr, index=symbols)

    result = calc.value_at_risk(window, exposures)
    t_var = median_seconds(lambda: calc.value_at_risk(window, exposures), NUM_RUNS)

    def pnl_form() -> tuple[float, float]:
        pnl = calc.scenario_pnl(returns, exposures_arr)
        return calc.parametric_var(pnl, 0.95), calc.parametric_var(pnl, 0.99)

    def cov_form() -> tuple[float, float]:
        return (
            calc.parametric_var_cov(returns, exposures_arr, 0.95),
            calc.parametric_var_cov(returns, exposures_arr, 0.99),
        )

    t_pnl = median_seconds(pnl_form, NUM_RUNS)
    t_cov = median_seconds(cov_form, COV_RUNS)
    cov_95, cov_99 = cov_form()

    print(f"\n1. value_at_risk: {n:,} instruments × {s} scenarios (seeded, median of runs)")
    print(
        f"  value_at_risk (hist VaR 95/99, ES 97.5, param VaR 95/99) "
        f"{ms(t_var):8.2f} ms  ({NUM_RUNS} runs)  {target(ms(t_var), VAR_TARGET_MS)}"
    )
    print(
        f"  parametric 95+99, P&L-variance form  var(R e)     "
        f"{ms(t_pnl):8.2f} ms  ({NUM_RUNS} runs)"
    )
    print(
        f"  parametric 95+99, covariance form    eᵀ cov(R) e  "
        f"{ms(t_cov):8.2f} ms  ({COV_RUNS} runs, np.cov of {n:,} × {n:,})"
    )
    print(f"  ratio covariance / P&L-variance form: {ratio(t_cov, t_pnl)}")
    worst = 0.0
    for level, mine, textbook in (
        (95, result.parametric_var_95, cov_95),
        (99, result.parametric_var_99, cov_99),
    ):
        rel = abs(mine - textbook) / abs(textbook)
        worst = max(worst, rel)
        print(f"  parametric VaR {level}: {mine:,.2f} vs covariance form {textbook:,.2f}")
    print(f"  forms agree: max relative difference {worst:.1e} (required ≤ {AGREEMENT:.0e})")
    if not worst <= AGREEMENT:
        fail(f"the parametric VaR forms differ by {worst:.1e} relative (> {AGREEMENT:.0e})", 1)
    print(
        f"  historical VaR 95 {result.var_95:,.2f}, VaR 99 {result.var_99:,.2f}, "
        f"ES 97.5 {result.es_975:,.2f}; {result.scenarios} scenarios"
    )
    var_975 = calc.historical_var(calc.scenario_pnl(returns, exposures_arr), calc.ES_LEVEL)
    if result.scenarios != s or not (result.var_95 <= result.var_99 and result.es_975 >= var_975):
        fail("value_at_risk: VaR 95 ≤ VaR 99 and ES 97.5 ≥ VaR 97.5 do not hold", 1)
    return t_var


# --- Database ---------------------------------------------------------------------------------


# --- The market and the books -----------------------------------------------------------------


@dataclass
class Market:
    dates: list[dt.date]
    instruments: list[Instrument]  # BNCH00001.., in symbol order
    closes: np.ndarray  # dates × instruments, the stored closes as floats
    eurusd: np.ndarray  # the stored EURUSD closes as floats
    fx_close: dict[dt.date, Decimal]


def history_dates(end: dt.date, days: int) -> list[dt.date]:
    dates = [end]
    while len(dates) < days:
        dates.append(pcalc.previous_business_day(dates[-1]))
    return dates[::-1]


def build_market(n: int) -> Market:
    """N instruments (every ``EUR_EVERY``-th in EUR) and ``HISTORY_DAYS`` closes each, plus
    EURUSD, up to the last business day before today; set-based."""
    rng = np.random.default_rng(SEED + 1)
    end = pcalc.previous_business_day(portfolio_selectors.today())
    dates = history_dates(end, HISTORY_DAYS)
    m = len(dates)
    market = rng.normal(0.0003, 0.009, size=(m, 1))
    returns = market * rng.uniform(0.3, 1.4, size=(1, n)) + rng.normal(0.0, 0.012, size=(m, n))
    start = rng.uniform(20.0, 400.0, size=(1, n))
    closes = np.round(start * np.cumprod(1.0 + returns, axis=0), 4)
    eurusd = np.round(1.08 * np.cumprod(1.0 + rng.normal(0.0, 0.004, size=m)), 6)

    fx = Instrument.objects.create(
        symbol="EURUSD", name="EUR/USD", asset_class=AssetClass.FX, currency="USD"
    )
    fx_close = {day: Decimal(f"{rate:.6f}") for day, rate in zip(dates, eurusd, strict=True)}
    Price.objects.bulk_create(Price(instrument=fx, date=d, close=c) for d, c in fx_close.items())
    Instrument.objects.bulk_create(
        (
            Instrument(
                symbol=f"BNCH{i:05d}",
                name=f"Bench instrument {i}",
                asset_class=ASSET_CLASSES[i % len(ASSET_CLASSES)],
                currency="EUR" if i % EUR_EVERY == 0 else "USD",
                multiplier=MULTIPLIERS[i % len(MULTIPLIERS)],
            )
            for i in range(1, n + 1)
        ),
        batch_size=BATCH,
    )
    instruments = list(Instrument.objects.filter(symbol__startswith="BNCH").order_by("symbol"))
    text = np.char.mod("%.4f", closes)
    # Date by date, as the daily imports write them: each instrument's history is spread over
    # the table, not clustered (which would flatter the history read).
    Price.objects.bulk_create(
        (
            Price(instrument_id=inst.id, date=day, close=Decimal(str(text[k, j])))
            for k, day in enumerate(dates)
            for j, inst in enumerate(instruments)
        ),
        batch_size=BATCH,
    )
    return Market(dates, instruments, closes, eurusd, fx_close)


def build_book(market: Market, n: int, strategy: Strategy) -> Portfolio:
    """A USD portfolio holding the first ``n`` instruments, positions equal to their ledger.

    Sleeves cycle through one buy, two buys, a short and a buy then a partial sell (realized
    P&L at the trade date's FX); the last trade is well inside the history. The day before the
    last close is marked to market, so the book has previous snapshots and a NAV history.
    """
    dates = market.dates
    portfolio = Portfolio.objects.create(
        code=f"RISK{n}",
        name=f"Risk benchmark {n:,}",
        base_currency="USD",
        inception_date=dates[0],
        initial_capital=Decimal(2_000_000) * n,
    )
    trade_days = (0, 40, 120)
    executions: list[Execution] = []
    positions: list[Position] = []
    for j, inst in enumerate(market.instruments[:n]):
        i = j + 1
        size = Decimal(100 + (i * 37) % 900)
        legs = {
            0: [(0, size)],
            1: [(0, size), (1, size)],
            2: [(1, -size)],
            3: [(0, size), (2, -size / 4)],
        }[i % 4]
        trades = [
            pcalc.Trade(
                dates[trade_days[k]], qty, Decimal(f"{market.closes[trade_days[k], j]:.4f}")
            )
            for k, qty in legs
        ]
        eur = inst.currency == "EUR"
        rows, position = sleeve_rows(
            portfolio=portfolio,
            instrument=inst,
            strategy=strategy,
            trades=trades,
            fx=(lambda d: pcalc.q(market.fx_close[d], pcalc.RATE_PLACES))
            if eur
            else (lambda d: pcalc.ONE),
        )
        executions.extend(rows)
        positions.append(position)
    Execution.objects.bulk_create(executions, batch_size=BATCH)
    Position.objects.bulk_create(positions, batch_size=BATCH)
    RiskLimit.objects.bulk_create(
        RiskLimit(portfolio=portfolio, metric=m, soft=Decimal(s), hard=Decimal(h))
        for m, (s, h) in LIMITS.items()
    )
    problems = portfolio_selectors.ledger_differences(portfolio)
    if problems:
        fail(f"{n:,} positions: the book differs from its ledger: {problems[:3]}", 1)
    services.mark_to_market(portfolio=portfolio, business_date=dates[-2])
    return portfolio


def superuser():
    user_model = get_user_model()
    user = user_model.objects.filter(username="risk-bench").first()
    if user is None:
        user = user_model.objects.create_superuser("risk-bench", "risk-bench@example.com", None)
    return user


# --- Part 2: the live risk request ------------------------------------------------------------


@dataclass
class Live:
    n: int
    request: float
    queries: int
    report: float
    book: float
    returns: float
    closes: float
    body: dict


def expected_var(market: Market, positions: list[dict], n: int) -> calc.VarResult:
    """VaR recomputed from the generated closes with plain numpy, not the app's pandas path:
    every instrument has a close on every date, so the returns are a straight division."""
    exposure = {row["symbol"]: float(row["exposure"]) for row in positions}
    held = market.instruments[:n]
    symbols = [inst.symbol for inst in held]
    eur = np.array([inst.currency == "EUR" for inst in held])
    values = market.closes[:, :n] * np.where(eur[None, :], market.eurusd[:, None], 1.0)
    returns = values[1:] / values[:-1] - 1.0
    window = returns[-calc.N_SCENARIOS :]
    e = np.array([exposure[s] for s in symbols])
    pnl = window @ e
    var_95 = -np.percentile(pnl, 5.0)
    var_975 = -np.percentile(pnl, 2.5)
    sd = np.sqrt(np.sum((pnl - pnl.mean()) ** 2) / (len(pnl) - 1))
    return calc.VarResult(
        scenarios=len(window),
        first=market.dates[-calc.N_SCENARIOS],
        last=market.dates[-1],
        var_95=float(var_95),
        var_99=float(-np.percentile(pnl, 1.0)),
        es_975=float(-pnl[pnl <= -var_975].mean()),
        parametric_var_95=float(calc.z_score(0.95) * sd),
        parametric_var_99=float(calc.z_score(0.99) * sd),
    )


def check_body(market: Market, portfolio: Portfolio, body: dict, n: int) -> None:
    data = book.book_get(portfolio)
    if len(data["positions"]) != n or not data["complete"]:
        fail(f"{n:,} positions: the book shows {len(data['positions']):,} valued rows", 1)
    if body["scenarios"] != calc.N_SCENARIOS or body["insufficient_history"] or body["no_history"]:
        fail(
            f"{n:,} positions: {body['scenarios']} scenarios, insufficient_history "
            f"{body['insufficient_history']}, no_history {body['no_history'][:3]}",
            1,
        )
    if not body["complete"] or body["unvalued"]:
        fail(f"{n:,} positions: the live risk is incomplete: {body['unvalued'][:3]}", 1)
    if any(row["status"] == calc.BREACH for row in body["limits"]):
        fail(f"{n:,} positions: a limit is in breach, the request would write alerts", 1)
    want = expected_var(market, data["positions"], n)
    for name, value in want.amounts().items():
        got = float(body["var"][name]["amount"])
        if abs(got - value) > 1e-9 * abs(value) + 1e-6:
            fail(f"{n:,} positions: {name} is {got:,.8f}, recomputed {value:,.8f}", 1)
    last = body["scenario_dates"]["last"]
    if last != want.last.isoformat():
        fail(f"{n:,} positions: the last scenario date is {last}, expected {want.last}", 1)


def bench_live(market: Market, portfolio: Portfolio, client: Client, n: int) -> Live:
    """Median request time and query count; the parts timed in the same loop, interleaved with
    the requests, so that drift (caches, autovacuum, the other core) hits them all alike."""
    params = {"portfolio": portfolio.code}

    def get():
        response = client.get(URL, params)
        if response.status_code != 200:
            fail(f"{n:,} positions: GET {URL} -> {response.status_code}: {response.content!r}", 1)
        return response

    body = get().json()  # the warm-up
    check_body(market, portfolio, body, n)

    # The parts, called with the arguments the report gives them.
    instruments = report.live_book(portfolio).holdings.instruments
    today = portfolio_selectors.today()
    start = today - dt.timedelta(days=report.LOOKBACK_DAYS)
    base = portfolio.base_currency
    pairs = portfolio_selectors.fx_pairs(
        base=base, currencies={i.currency for i in instruments.values()}
    )
    ids = [*(i.id for i in instruments.values()), *pairs]
    parts = {
        "report": lambda: report.risk_live(portfolio),
        "book": lambda: book.book_get(portfolio),
        "returns": lambda: selectors.returns_frame(
            base=base, instruments=instruments, start=start, end=today
        ),
        "closes": lambda: portfolio_selectors.closes_frame(ids, start=start, end=today),
    }
    times: dict[str, list[float]] = {"request": [], **{k: [] for k in parts}}
    counts = set()
    gc.collect()
    for _ in range(REQUEST_RUNS):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            get()
            times["request"].append(time.perf_counter() - t0)
        counts.add(len(ctx.captured_queries))
        for name, fn in parts.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    if len(counts) != 1:
        fail(f"{n:,} positions: the query count varies between requests: {sorted(counts)}", 1)
    m = {k: statistics.median(v) for k, v in times.items()}
    return Live(
        n, m["request"], counts.pop(), m["report"], m["book"], m["returns"], m["closes"], body
    )


def profile_request(client: Client, portfolio: Portfolio) -> None:
    """cProfile of one request: the project's functions by cumulative time, everything by own
    time (where the database wait and the row parsing show)."""
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(URL, {"portfolio": portfolio.code})
    profiler.disable()
    print_profile(profiler, f"one {URL} request", project_top=25, own_top=15)


def main() -> int:
    t_var = bench_numerics()

    ensure_database("risk_bench")
    wipe("portfolio", "risk")
    print(
        f"\n2. GET {URL}, uncached, through django.test.Client (PostgreSQL "
        f"{connection.pg_version // 10000}, database {connection.settings_dict['NAME']})"
    )
    start = time.perf_counter()
    market = build_market(max(SIZES))
    strategy = Strategy.objects.create(code="RISKBENCH", name="Risk benchmark")
    portfolios = {n: build_book(market, n, strategy) for n in SIZES}
    with connection.cursor() as cur:
        # What autovacuum does within a minute of a bulk load: statistics, and the visibility map
        # that lets the price history be read by an index-only scan (migration portfolio 0005).
        cur.execute("VACUUM ANALYZE")
    eur = sum(inst.currency == "EUR" for inst in market.instruments)
    print(
        f"  data: {len(market.instruments):,} instruments ({eur} in EUR via EURUSD), "
        f"{len(market.dates)} business days of closes each ({market.dates[0]} – "
        f"{market.dates[-1]}), books of {', '.join(f'{n:,}' for n in SIZES)} positions "
        f"marked on {market.dates[-2]}; built in {time.perf_counter() - start:.1f} s"
    )

    client = Client()
    client.force_login(superuser())
    results = {}
    for n in SIZES:
        r = bench_live(market, portfolios[n], client, n)
        results[n] = r
        print(
            f"\n  {n:,} positions (medians of {REQUEST_RUNS} runs after one warm-up, "
            "the parts interleaved with the requests)"
        )
        print(
            f"    GET {URL}                     {ms(r.request):8.1f} ms  {r.queries} queries  "
            f"{target(ms(r.request), LIVE_TARGET_MS)}"
        )
        rows = (
            ("report.risk_live (the request without HTTP)", r.report),
            ("  portfolio.book.book_get", r.book),
            ("  risk.selectors.returns_frame", r.returns),
            ("    of which portfolio.selectors.closes_frame", r.closes),
            ("  the rest: VaR, drawdown, limits, instruments", r.report - r.book - r.returns),
            ("HTTP, session auth, serialization", r.request - r.report),
        )
        for label, seconds in rows:
            print(f"      {label:<47} {ms(seconds):8.1f} ms  {seconds / r.request:5.0%}")
        print("      (the rest and HTTP are differences of medians: noise when small or < 0)")
        print(
            f"    VaR 95 {float(r.body['var']['var_95']['amount']):,.0f} "
            f"({r.body['var']['var_95']['nav_fraction']:.2%} of NAV), scenarios "
            f"{r.body['scenarios']}; matches a plain-numpy recomputation"
        )

    small, big = results[min(SIZES)], results[max(SIZES)]
    scale = big.n / small.n
    label = f"{big.n:,}/{small.n:,}"
    print(f"\n  ratios {label} (positions {scale:.0f}x)")
    print(f"    request       {ratio(big.request, small.request)}")
    print(f"    book_get      {ratio(big.book, small.book)}")
    print(f"    returns_frame {ratio(big.returns, small.returns)}")
    print(f"    closes_frame  {ratio(big.closes, small.closes)}")
    same = big.queries == small.queries
    print(
        f"    queries       {big.queries} vs {small.queries}: {'the same' if same else 'DIFFERENT'}"
    )
    if not same:
        fail(f"the query count grows with the book: {small.queries} -> {big.queries}", 1)

    print("\nsummary")
    print(
        f"  value_at_risk {NUM_INSTRUMENTS:,} × {calc.N_SCENARIOS}: {ms(t_var):.2f} ms "
        f"({target(ms(t_var), VAR_TARGET_MS)})"
    )
    print(
        f"  GET {URL} {big.n:,} positions: {ms(big.request):.1f} ms, {big.queries} queries "
        f"({target(ms(big.request), LIVE_TARGET_MS)}); book_get {ms(big.book):.1f} ms, "
        f"returns_frame {ms(big.returns):.1f} ms"
    )
    if ms(big.request) >= LIVE_TARGET_MS or "--profile" in sys.argv[1:]:
        profile_request(client, portfolios[big.n])
    return 0


if __name__ == "__main__":
    sys.exit(main())
