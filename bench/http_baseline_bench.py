"""HTTP baseline: ``GET /healthz`` and ``GET /api/portfolio/book/`` (1,000 positions) over gunicorn.

Run with (PostgreSQL only; never point it at a real database: its portfolio tables are wiped):
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_http REDIS_URL= CELERY_BROKER_URL=
.venv/bin/python bench/http_baseline_bench.py``.

The real stack, not the test client: gunicorn (2 sync workers) serves the project on the bench's
database, configured by the environment as production is; ``bench.http_load`` drives it over
loopback from 8 connections for 10 s per endpoint after a 1 s warm-up. ``/healthz`` is the floor —
the cheapest Django view, through every middleware. The book is measured twice: on the server as
configured (its cache answers all but the first request) and on a server with Django's dummy
cache (``bench.nocache_settings``), where every request computes it. Client and server share the
machine's cores, so the figures are ratios measured in this one run (SPEC §11), not capacities.
Exits 1 on any error or non-200 response, 2 when not on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, wipe  # noqa: E402
from bench.http_load import LoadResult, Server, fetch, load  # noqa: E402

# mtm_bench's set-based builder (its import only sets Django up, as this file does).
from bench.mtm_bench import MARK_DAY, build_book  # noqa: E402
from portfolio import services  # noqa: E402

POSITIONS = 1_000
CONCURRENCY = 8
DURATION = 10.0
WARMUP = 1.0
WORKERS, THREADS = 2, 1
USERNAME = "bench_http_viewer"
BOOK_URL = "/api/portfolio/book/"
CHECK_EVERY = 25  # parse one book body in 25: parsing 400 kB costs the client CPU
NOCACHE = "bench.nocache_settings"


def fail(message: str, code: int) -> None:
    common.fail("http_baseline_bench", message, code)


def viewer_token() -> str:
    """A viewer (read-only role) with a DRF token, as a desk dashboard would call the API."""
    User = get_user_model()
    User.objects.filter(username=USERNAME).delete()
    user = User.objects.create_user(USERNAME)
    user.groups.add(Group.objects.get(name="viewer"))
    return Token.objects.create(user=user).key


class BookCheck:
    """The ``check`` of a book load: tallies ``X-Cache`` on every response (what the figure
    measured: computed or cached bodies) and parses one body in ``CHECK_EVERY``."""

    def __init__(self) -> None:
        self.x_cache: Counter[str] = Counter()

    def __call__(self, status: int, headers: dict[str, str], body: bytes) -> bool:
        self.x_cache[headers.get("x-cache", "none")] += 1
        return sum(self.x_cache.values()) % CHECK_EVERY != 1 or book_ok(body)

    def tally(self) -> str:
        return ", ".join(f"{k} {n:,}" for k, n in sorted(self.x_cache.items()))


def book_ok(body: bytes) -> bool:
    data = json.loads(body)
    return data["as_of"] == MARK_DAY.isoformat() and len(data["positions"]) == POSITIONS


def line(label: str, r: LoadResult) -> str:
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(r.status_counts.items()))
    return (
        f"  {label:<14} {r.rps:7,.0f} req/s  p50 {r.p50:6.2f}  p95 {r.p95:6.2f}  "
        f"p99 {r.p99:6.2f}  max {r.max:6.2f}  | {r.requests:,} requests ({statuses}), "
        f"{r.errors} errors, body {r.body_bytes:,} B, {r.connections:,} connects, "
        f"client CPU {r.client_cpu_us:.0f} µs/req"
    )


def measure(
    env: dict[str, str], auth: dict[str, str], *, healthz: bool
) -> tuple[dict[str, LoadResult], Counter[str]]:
    """One gunicorn on ``env``: a checked GET of the book, then the timed loads; the results and
    the book's X-Cache tally. Exits 1 (after the server's log) when a load had errors."""
    options = {"concurrency": CONCURRENCY, "duration": DURATION, "warmup": WARMUP}
    results: dict[str, LoadResult] = {}
    with Server(env, workers=WORKERS, threads=THREADS) as server:
        status, _, body = fetch(server.url + BOOK_URL, auth)
        if status != 200 or not book_ok(body):
            fail(f"{BOOK_URL} answers {status}, not the {POSITIONS:,} positions marked", 1)
        if healthz:
            results["healthz"] = load(server.url + "/healthz", **options)
            print(line("healthz", results["healthz"]))
        check = BookCheck()
        results["book"] = book = load(server.url + BOOK_URL, headers=auth, check=check, **options)
        label = "book cached" if check.x_cache["HIT"] else "book uncached"
        print(line(label, book) + f", X-Cache: {check.tally()}")
        for what, r in results.items():
            if r.errors or not r.requests:
                print(f"\nthe server's log:\n{server.log_tail()}", file=sys.stderr)
                fail(f"{what}: {r.requests:,} requests, {r.errors} errors: {r.error_samples}", 1)
    return results, check.x_cache


def ratios(label: str, a: LoadResult, b: LoadResult) -> str:
    return (
        f"  {label:<24} throughput {a.rps / b.rps:6.3f}x   "
        f"p50 {a.p50 / b.p50:5.2f}x   p95 {a.p95 / b.p95:5.2f}x"
    )


def main() -> int:
    ensure_database("http_baseline_bench")
    wipe("portfolio")
    portfolio = build_book(POSITIONS)
    services.mark_to_market(portfolio=portfolio, business_date=MARK_DAY)
    auth = {"Authorization": f"Token {viewer_token()}"}
    env = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    cache = f"Redis {settings.REDIS_URL}" if settings.REDIS_URL else "local memory (per worker)"
    print(
        f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}"
        f"; {POSITIONS:,} open positions marked {MARK_DAY}\n"
        f"gunicorn {WORKERS} workers x {THREADS} thread (sync: a connection per request), "
        f"{os.cpu_count()} cores shared with the client; {CONCURRENCY} connections, "
        f"{DURATION:.0f} s after a {WARMUP:.0f} s warm-up; latencies in ms, connect included"
    )
    connection.close()  # the server's workers, not this process, read the database now

    print(f"\nserver as configured, cache: {cache}")
    configured, _ = measure(env, auth, healthz=True)
    print("server with the dummy cache (bench.nocache_settings): every book computed")
    uncached, x_cache = measure({**env, "DJANGO_SETTINGS_MODULE": NOCACHE}, auth, healthz=False)
    if x_cache["HIT"]:
        fail("the dummy-cache server answered X-Cache: HIT", 1)

    health, book_cached, book = configured["healthz"], configured["book"], uncached["book"]
    print("\nratios measured in this run")
    print(ratios("book uncached / healthz", book, health))
    print(ratios("book cached / healthz", book_cached, health))
    print(ratios("book cached / uncached", book_cached, book))
    return 0


if __name__ == "__main__":
    sys.exit(main())
