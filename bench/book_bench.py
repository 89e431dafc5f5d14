"""Book benchmark: the uncached ``GET /api/portfolio/book/`` at 1,000 and 10,000 open positions.

Run with ``make bench`` (or directly: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/
pms_bench_book REDIS_URL= CELERY_BROKER_URL= .venv/bin/python bench/book_bench.py``).
PostgreSQL only: the database is created when missing, migrated, and its portfolio tables are
wiped before each size — never point it at a real database. The books are mtm_bench's (a third of
the instruments in EUR via EURUSD), marked once the day before their last close so that the 1D
P&L has a base.

The request is timed through ``django.test.Client`` as a logged-in viewer, serialization
included, the cache cleared before each run; next to it, the same book rendered the former way
(``BookSerializer(book_get(p)).data`` through DRF's ``JSONRenderer``). Prints best and median of
the runs, query counts, the body size, the ratios measured in this one run and each target
(SPEC §11: benchmarks print, they are not timed tests; a missed target is reported, not failed).
Exits 1 when the body differs from the serializer's output or the query count grows with the
book, 2 when not on PostgreSQL.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")
# WhiteNoise warns once that there is no collected static folder: irrelevant to an API read.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.base_user import AbstractBaseUser  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, wipe  # noqa: E402
from bench.mtm_bench import MARK_DAY, WARMUP_DAY, build_book  # noqa: E402
from portfolio import book, services  # noqa: E402
from portfolio.api.serializers import BookSerializer  # noqa: E402
from portfolio.book_json import book_json  # noqa: E402
from portfolio.models import Portfolio  # noqa: E402

URL = "/api/portfolio/book/"
SIZES = (1_000, 10_000)
TARGET_MS = {1_000: 50.0, 10_000: 300.0}
RUNS = 7


def fail(message: str, code: int) -> None:
    common.fail("book_bench", message, code)


def ms(seconds: float) -> float:
    return seconds * 1000


@dataclass(frozen=True)
class Runs:
    best: float
    median: float

    def __str__(self) -> str:
        return f"best {ms(self.best):7.1f} ms  median {ms(self.median):7.1f} ms"


def timed(fn: Callable[[], object]) -> Runs:
    """``RUNS`` calls after one warm-up, the cache cleared before each (it is not what is
    measured, should the view ever be cached)."""
    fn()
    seconds = []
    gc.collect()
    for _ in range(RUNS):
        cache.clear()
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return Runs(min(seconds), statistics.median(seconds))


def queries_of(fn: Callable[[], object]) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@dataclass
class Result:
    n: int
    request: Runs
    request_queries: int
    new: Runs  # book_json: the request without HTTP
    old: Runs  # BookSerializer(book_get(p)).data through JSONRenderer
    book_queries: int
    size: int
    old_size: int


def viewer() -> AbstractBaseUser:
    """A desk viewer (the read-only role), as the API's readers are."""
    user, _ = get_user_model().objects.get_or_create(username="book-bench")
    user.groups.add(Group.objects.get(name="viewer"))
    return user


def old_path(portfolio: Portfolio) -> bytes:
    return JSONRenderer().render(BookSerializer(book.book_get(portfolio)).data)


def bench(n: int, client: Client) -> Result:
    wipe("portfolio")
    start = time.perf_counter()
    portfolio = build_book(n)
    services.mark_to_market(portfolio=portfolio, business_date=WARMUP_DAY)
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    built = time.perf_counter() - start
    print(f"\n{n:,} positions (built and marked on {WARMUP_DAY} in {built:.1f} s)")

    def get() -> bytes:
        response = client.get(URL)
        if response.status_code != 200:
            fail(f"{n:,} positions: GET {URL} -> {response.status_code}: {response.content!r}", 1)
        return response.content

    body, old = get(), old_path(portfolio)
    got, want = json.loads(body), json.loads(old)
    if got != want:
        keys = [k for k in want if got.get(k) != want[k]]
        fail(f"{n:,} positions: the body differs from BookSerializer's output in {keys}", 1)
    if len(got["positions"]) != n or got["as_of"] != MARK_DAY.isoformat():
        fail(f"{n:,} positions: the book shows {len(got['positions']):,} rows", 1)
    return Result(
        n,
        request=timed(get),
        request_queries=queries_of(get),
        new=timed(lambda: book_json(portfolio)),
        old=timed(lambda: old_path(portfolio)),
        book_queries=queries_of(lambda: book.book_get(portfolio)),
        size=len(body),
        old_size=len(old),
    )


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def target(seconds: float, limit_ms: float) -> str:
    return f"{'met' if ms(seconds) < limit_ms else 'MISSED'}: target < {limit_ms:.0f} ms"


def main() -> int:
    ensure_database("book_bench")
    print(
        f"GET {URL}, uncached, through django.test.Client as a viewer (PostgreSQL "
        f"{connection.pg_version // 10000}, database {connection.settings_dict['NAME']}); "
        f"best and median of {RUNS} runs after a warm-up"
    )
    client = Client()
    client.force_login(viewer())
    results = []
    for n in SIZES:
        r = bench(n, client)
        results.append(r)
        rows = (
            (f"GET {URL}", r.request, r.request_queries),
            ("book_json(p) (the request without HTTP)", r.new, r.book_queries),
            ("old: BookSerializer(book_get(p)) + JSONRenderer", r.old, r.book_queries),
        )
        for label, runs, queries in rows:
            print(f"  {label:<48} {runs}  {queries:2d} queries")
        print(
            f"  {target(r.request.median, TARGET_MS[n])} (the request's median); old/new "
            f"{ratio(r.old.median, r.new.median)} without HTTP, old/request "
            f"{ratio(r.old.median, r.request.median)}"
        )
        print(
            f"  body {r.size / 1000:,.0f} KB (old {r.old_size / 1000:,.0f} KB), the serializer's "
            "output once parsed"
        )

    small, big = results[0], results[-1]
    label = f"{big.n // 1000}k/{small.n // 1000}k"
    print(f"\nratios {label} (positions {big.n / small.n:.0f}x, medians)")
    print(f"  request  {ratio(big.request.median, small.request.median)}")
    print(f"  old      {ratio(big.old.median, small.old.median)}")
    same = big.request_queries == small.request_queries
    print(
        f"  queries  {big.request_queries} vs {small.request_queries}: "
        f"{'the same' if same else 'DIFFERENT'}"
    )
    if not same:
        fail(
            f"the query count grows with the book: {small.request_queries} -> "
            f"{big.request_queries}",
            1,
        )
    print("\nsummary")
    for r in results:
        print(
            f"  {r.n:,} positions: GET {ms(r.request.median):.1f} ms median "
            f"({target(r.request.median, TARGET_MS[r.n])}), old path "
            f"{ms(r.old.median):.1f} ms ({ratio(r.old.median, r.request.median)} the request), "
            f"{r.request_queries} queries, {r.size / 1000:,.0f} KB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
