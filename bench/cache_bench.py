"""The read cache's targets: a Redis hit of ``GET /api/portfolio/book/`` (1,000 positions) against
a bare view serving the same bytes and against a miss, and invalidation from 0 to 100,000 keys.

Run with (PostgreSQL and Redis; never point it at a real database: its portfolio tables are
wiped, and Redis database 13 is flushed at start and end):
``DATABASE_URL=postgres://postgres@127.0.0.1:5432/pms_bench_cache REDIS_URL= CELERY_BROKER_URL=
.venv/bin/python bench/cache_bench.py`` (the script sets its own ``REDIS_URL``, database 13).

1. Over HTTP, as ``http_baseline_bench`` measures (gunicorn, 2 sync workers, ``bench.http_load``
   over loopback, 8 connections, 10 s after a 1 s warm-up), all in this one run:
   - **bare**: ``/bench/bare/`` (``bench.cache_settings`` → ``bench.cache_urls``), a Django view
     with no authentication and no DRF that answers the bytes stored under ``bench:bare`` with one
     django-redis GET. Those bytes are the book's cached body exactly as a hit answers it
     (fetched from the server, stored through the same cache, so pickled the same way).
   - **hit**: the book with a viewer's DRF token on the same server (Redis cache): every response
     must be ``X-Cache: HIT`` with the body of the first hit.
   - **miss**: the book on a second server with Django's dummy cache (``bench.nocache_settings``):
     every response ``X-Cache: MISS``, computed, with the body of the first miss.
   Targets: hit ≥ 0.7× the bare view's requests per second, and ≥ 30× the miss's.
2. In process: ``pms_project.cache.invalidate(["book", "risk", "attribution"], portfolio)`` outside
   any transaction (it renews the tokens at once) with 0, 10,000 and 100,000 extra 1 kB keys in
   the cache's Redis database; median and p95 of 1,000 calls each, and the Redis commands per call
   from ``INFO commandstats`` deltas (server-wide: another client's commands in the window show
   as fractions). Target: ≤ 1 ms, flat (the 100,000 / 0 ratio ≈ 1).
3. When the hit misses its target against the bare view (or with ``--profile``): one hit in
   process (Django's test client) under cProfile, against the bare view and the same hit through
   DRF with nothing remembered, and its parts timed one by one — the MGET, the unpickling, the
   ``cached`` splice.
The bare view's ratio to the miss is printed too: no hit can beat the bare view, so it bounds
hit / miss.

Client and server share the machine's cores, so the figures are ratios measured in this one run
(SPEC §11), not capacities; a missed target prints MISSED, it does not fail the run. Exits 1 on a
wrong answer (a non-200, a hit whose body is not the miss's, any load error), 2 when not on
PostgreSQL.
"""

from __future__ import annotations

import cProfile
import os
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The cache of this process and of the servers: its own Redis database, flushed at start and end.
BENCH_REDIS = "redis://127.0.0.1:6379/13"
os.environ["REDIS_URL"] = BENCH_REDIS
os.environ["CELERY_BROKER_URL"] = ""  # no broker: nothing here queues a task
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pms_project.settings")
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench import common  # noqa: E402
from bench.common import ensure_database, wipe  # noqa: E402

# http_baseline_bench's viewer, book check and result line (its import only sets Django up).
from bench.http_baseline_bench import POSITIONS, book_ok, line, viewer_token  # noqa: E402
from bench.http_load import LoadResult, Server, fetch, load  # noqa: E402
from bench.mtm_bench import MARK_DAY, build_book  # noqa: E402
from pms_project import cache as pms_cache  # noqa: E402
from portfolio import services  # noqa: E402

CONCURRENCY = 8
DURATION = 10.0
WARMUP = 1.0
WORKERS, THREADS = 2, 1  # as http_baseline_bench
BOOK_URL = "/api/portfolio/book/"
BARE_URL = "/bench/bare/"
BARE_KEY = "bench:bare"  # bench.cache_urls.BARE_KEY (not imported: it imports the URLconf)
SETTINGS = "bench.cache_settings"
NOCACHE = "bench.nocache_settings"
HIT_FLAG, MISS_FLAG = b'{"cached":true', b'{"cached":false'
HIT_OVER_BARE, HIT_OVER_MISS = 0.7, 30.0
INVALIDATE_NAMESPACES = ["book", "risk", "attribution"]
KEY_COUNTS = (0, 10_000, 100_000)
CALLS = 1000
INVALIDATE_TARGET_MS = 1.0
FLAT_WITHIN = 1.5  # "flat": the 100,000 / 0 ratio between 1 / 1.5 and 1.5
EXTRA_VALUE = b"x" * 1024
EXTRA_TTL = 3600
PROFILE_HITS = 300


def fail(message: str, code: int) -> None:
    common.fail("cache_bench", message, code)


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


class Exact:
    """A load's ``check``: every response answers ``X-Cache: <x_cache>`` and exactly ``body``;
    tallies the X-Cache values seen."""

    def __init__(self, x_cache: str | None, body: bytes) -> None:
        self.x_cache, self.body = x_cache, body
        self.seen: Counter[str] = Counter()

    def __call__(self, status: int, headers: dict[str, str], body: bytes) -> bool:
        seen = headers.get("x-cache", "none")
        self.seen[seen] += 1
        return (self.x_cache is None or seen == self.x_cache) and body == self.body

    def tally(self) -> str:
        return ", ".join(f"{k} {n:,}" for k, n in sorted(self.seen.items()))


def timed_load(
    server: Server, url: str, label: str, check: Exact, auth: dict[str, str]
) -> LoadResult:
    """One load of ``url`` with every response checked; exits 1 (after the server's log) on any
    error."""
    r = load(
        server.url + url,
        headers=auth,
        concurrency=CONCURRENCY,
        duration=DURATION,
        warmup=WARMUP,
        check=check,
    )
    print(line(label, r) + f", X-Cache: {check.tally()}")
    if r.errors or not r.requests:
        print(f"\nthe server's log:\n{server.log_tail()}", file=sys.stderr)
        fail(f"{label}: {r.requests:,} requests, {r.errors} errors: {r.error_samples}", 1)
    return r


def get_book(server: Server, auth: dict[str, str], want: str) -> bytes:
    """One checked GET of the book answering ``X-Cache: want``; exits 1 otherwise."""
    status, headers, body = fetch(server.url + BOOK_URL, auth)
    x_cache = headers.get("x-cache")
    if status != 200 or x_cache != want or not book_ok(body):
        fail(f"{BOOK_URL} answers {status}, X-Cache {x_cache} (expected a 200 {want})", 1)
    return body


def prime(server: Server, auth: dict[str, str], portfolio_id: int) -> tuple[bytes, bytes]:
    """The book's body dropped, computed again (a MISS) and read back (a HIT): both bodies,
    checked to be the same bytes but for the flag. The stored body then has its whole TTL ahead
    (30 s), longer than a load."""
    cache.delete(pms_cache.body_key("book", portfolio_id, {}))
    miss = get_book(server, auth, "MISS")
    hit = get_book(server, auth, "HIT")
    if not (miss.startswith(MISS_FLAG) and hit == HIT_FLAG + miss[len(MISS_FLAG) :]):
        fail("the HIT's body is not the MISS's with the cached flag set", 1)
    return miss, hit


# --- Over HTTP ----------------------------------------------------------------------------------


def measure_http(portfolio_id: int, auth: dict[str, str]) -> dict[str, LoadResult]:
    env = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": BENCH_REDIS,
        "CELERY_BROKER_URL": "",
    }
    results: dict[str, LoadResult] = {}
    print(f"\nserver with the Redis cache ({BENCH_REDIS}), DJANGO_SETTINGS_MODULE={SETTINGS}")
    with Server(
        {**env, "DJANGO_SETTINGS_MODULE": SETTINGS}, workers=WORKERS, threads=THREADS
    ) as server:
        miss, hit = prime(server, auth, portfolio_id)
        # The bare view's bytes: the hit's body, stored through this process's cache (the same
        # django-redis client and pickling as the servers'), with no expiry.
        cache.set(BARE_KEY, hit, None)
        status, _, bare = fetch(server.url + BARE_URL)
        if status != 200 or bare != hit:
            fail(f"{BARE_URL} answers {status}, not the book's cached body", 1)
        print(f"  the book's body: {len(hit):,} B; {BARE_URL} answers the same bytes")
        results["bare"] = timed_load(server, BARE_URL, "bare view", Exact(None, hit), {})
        if prime(server, auth, portfolio_id)[1] != hit:
            fail("the book's body changed between two primes", 1)
        results["hit"] = timed_load(server, BOOK_URL, "book hit", Exact("HIT", hit), auth)
    print(f"server with the dummy cache (DJANGO_SETTINGS_MODULE={NOCACHE}): every book computed")
    with Server(
        {**env, "DJANGO_SETTINGS_MODULE": NOCACHE}, workers=WORKERS, threads=THREADS
    ) as server:
        if get_book(server, auth, "MISS") != miss:
            fail("the dummy-cache server's book is not the Redis server's miss", 1)
        results["miss"] = timed_load(server, BOOK_URL, "book miss", Exact("MISS", miss), auth)
    return results


def ratio_line(label: str, a: LoadResult, b: LoadResult, target: float) -> tuple[str, bool]:
    ok = a.rps >= target * b.rps
    text = (
        f"  {label:<16} throughput {a.rps / b.rps:7.3f}x (target >= {target:g}x: {met(ok)})   "
        f"p50 {a.p50 / b.p50:5.2f}x   p95 {a.p95 / b.p95:5.2f}x"
    )
    return text, ok


# --- Invalidation in process --------------------------------------------------------------------


def fill(r: redis.Redis, portfolio_id: int, start: int, stop: int) -> None:
    """Extra keys ``start`` … ``stop - 1``: body-like names, 1 kB values, an expiry."""
    pipe = r.pipeline(transaction=False)
    for n in range(start, stop):
        pipe.set(f"pms:1:body:book:{portfolio_id}:extra{n:06d}", EXTRA_VALUE, ex=EXTRA_TTL)
        if (n + 1) % 5_000 == 0:
            pipe.execute()
    pipe.execute()


def command_calls(r: redis.Redis) -> Counter[str]:
    stats = r.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()})


def invalidation(r: redis.Redis, portfolio_id: int) -> dict[int, tuple[float, float, str, bool]]:
    """For each key count: median and p95 (ms) of ``CALLS`` invalidations, the commands per call,
    and whether the counts were whole (no other client's commands in the window)."""
    if connection.in_atomic_block:
        fail("invalidation must be timed outside a transaction", 1)
    results: dict[int, tuple[float, float, str, bool]] = {}
    filled = 0
    for count in KEY_COUNTS:
        fill(r, portfolio_id, filled, count)
        filled = count
        for _ in range(20):  # warm-up: the connection, the code paths
            pms_cache.invalidate(INVALIDATE_NAMESPACES, portfolio_id)
        before = command_calls(r)
        times = []
        for _ in range(CALLS):
            start = time.perf_counter_ns()
            pms_cache.invalidate(INVALIDATE_NAMESPACES, portfolio_id)
            times.append((time.perf_counter_ns() - start) / 1e6)
        delta = command_calls(r) - before
        delta.pop("info", None)  # the first INFO above
        per_call = {cmd: n / CALLS for cmd, n in sorted(delta.items())}
        whole = all(v == int(v) for v in per_call.values())
        commands = ", ".join(f"{cmd} {v:g}" for cmd, v in per_call.items())
        total = sum(per_call.values())
        times.sort()
        p95 = times[int(0.95 * (len(times) - 1))]
        results[count] = (statistics.median(times), p95, f"{total:g} ({commands})", whole)
        if pms_cache.breaker.is_open() or pms_cache._pending:
            fail("an invalidation did not reach Redis (the breaker opened)", 1)
        if r.dbsize() < count:
            fail(f"Redis db 13 holds {r.dbsize():,} keys, fewer than {count:,}", 1)
    return results


# --- Profile of one hit in process ----------------------------------------------------------------


def per_call_us(fn: Callable[[], object], n: int = PROFILE_HITS) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def profile_hit(portfolio_id: int, token: str) -> None:
    """Where a hit's time goes, in process: the whole request through Django's test client (and
    the bare view's, and the same hit through DRF with nothing remembered), then the hit path's
    parts one by one, then a cProfile of ``PROFILE_HITS`` hits."""
    from django.test import Client

    from pms_project import cache_hits

    client = Client(headers={"Authorization": f"Token {token}"})
    bare_client = Client()
    cache.delete(pms_cache.body_key("book", portfolio_id, {}))
    client.get(BOOK_URL)  # the miss that stores the body and remembers the token and route
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BOOK_URL)
    if response.status_code != 200 or response["X-Cache"] != "HIT":
        fail(f"in process, the book answers {response.status_code} {response.get('X-Cache')}", 1)
    if queries.captured_queries:
        fail(f"a hit ran {len(queries.captured_queries)} SQL queries (expected none)", 1)

    def hit() -> None:
        if client.get(BOOK_URL)["X-Cache"] != "HIT":
            fail("in process, a hit turned into a miss", 1)

    def drf_hit() -> None:
        cache_hits.forget()  # the token and the route unknown: DRF authenticates and resolves
        hit()

    keys = [
        cache_hits.AUTH_KEY,
        cache_hits.ROUTES_KEY,
        pms_cache.generation_key("book", pms_cache.ALL),
        pms_cache.generation_key("book", portfolio_id),
        pms_cache.body_key("book", portfolio_id, {}),
    ]
    raw_client = cache.client.get_client(write=False)
    made = [cache.make_key(k) for k in keys]
    raw = raw_client.mget(made)
    body = cache.get_many(keys)[keys[-1]][1]
    parts = [
        ("whole hit (test client, every middleware)", hit),
        ("bare view (test client, every middleware)", lambda: bare_client.get(BARE_URL)),
        ("the same hit through DRF, nothing remembered", drf_hit),
        ("  cache.get_many: MGET of 5 keys + unpickling", lambda: cache.get_many(keys)),
        ("  of which the MGET alone (raw bytes)", lambda: raw_client.mget(made)),
        ("  of which the unpickling alone", lambda: [cache.client.decode(v) for v in raw]),
        ("  with_cached_flag (the splice)", lambda: pms_cache.with_cached_flag(body, True)),
        ("  cache.get of the bare view's key", lambda: cache.get(BARE_KEY)),
    ]
    print(f"\nin process, median of {PROFILE_HITS} calls each (µs); a hit runs no SQL")
    us = []
    for label, fn in parts:
        us.append(per_call_us(fn))
        print(f"  {label:<48} {us[-1]:9.1f}")
    whole, bare, _, get_many, _, _, splice, get = us
    rest = whole - bare - (get_many - get) - splice
    print(
        f"  {'the rest: the hit path, the test client':<48} {rest:9.1f}"
        "  (whole - bare - (get_many - get) - splice)"
    )
    client.get(BOOK_URL)  # remembered again
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_HITS):
        hit()
    profiler.disable()
    common.print_profile(profiler, f"{PROFILE_HITS} hits", project_top=15, own_top=20)


# --- Main -----------------------------------------------------------------------------------------


def main() -> int:
    r = redis.Redis.from_url(BENCH_REDIS)
    r.flushdb()  # database 13 only
    try:
        return run(r, force_profile="--profile" in sys.argv[1:])
    finally:
        r.flushdb()


def run(r: redis.Redis, *, force_profile: bool) -> int:
    from django.test import override_settings

    ensure_database("cache_bench")
    wipe("portfolio")
    portfolio = build_book(POSITIONS)
    services.mark_to_market(portfolio=portfolio, business_date=MARK_DAY)
    token = viewer_token()
    auth = {"Authorization": f"Token {token}"}
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"PostgreSQL {connection.pg_version // 10000}, database {connection.settings_dict['NAME']}"
        f"; Redis {r.info('server')['redis_version']} {BENCH_REDIS}; {POSITIONS:,} open positions "
        f"marked {MARK_DAY}\ngunicorn {WORKERS} workers x {THREADS} thread (sync: a connection "
        f"per request), {os.cpu_count()} cores shared with the client; {CONCURRENCY} connections, "
        f"{DURATION:.0f} s after a {WARMUP:.0f} s warm-up; latencies in ms, connect included; "
        f"load average at start {load_avg}"
    )
    connection.close()  # the servers' workers, not this process, read the database now

    results = measure_http(portfolio.pk, auth)
    bare, hit, miss = results["bare"], results["hit"], results["miss"]
    print("\nratios measured in this run")
    text, hit_bare_ok = ratio_line("hit / bare", hit, bare, HIT_OVER_BARE)
    print(text)
    text, _ = ratio_line("hit / miss", hit, miss, HIT_OVER_MISS)
    print(text)
    # No hit outruns the bare view serving the same bytes: bare / miss bounds hit / miss.
    print(
        f"  {'bare / miss':<16} throughput {bare.rps / miss.rps:7.3f}x (the ceiling of hit / miss "
        f"in this run: a hit serves the bare view's bytes with more work)"
    )

    if force_profile or not hit_bare_ok:
        why = "with --profile" if hit_bare_ok else "the hit / bare target is MISSED"
        print(f"\nprofile of one hit ({why})")
        with override_settings(ROOT_URLCONF="bench.cache_urls"):  # for the bare view
            profile_hit(portfolio.pk, token)

    print(
        f"\ninvalidate({INVALIDATE_NAMESPACES}, portfolio) outside a transaction, {CALLS} calls "
        f"per size, ms; extra keys of 1 kB in Redis db 13"
    )
    inv = invalidation(r, portfolio.pk)
    print(f"  {'extra keys':<12} {'median':>8} {'p95':>8}  Redis commands per call")
    for count, (median, p95, commands, whole) in inv.items():
        note = "" if whole else "  (fractions: other clients' commands in the window)"
        print(f"  {count:<12,} {median:8.3f} {p95:8.3f}  {commands}{note}")
    first, last = inv[KEY_COUNTS[0]], inv[KEY_COUNTS[-1]]
    flat = last[0] / first[0]
    worst_median = max(v[0] for v in inv.values())
    worst_p95 = max(v[1] for v in inv.values())
    print(
        f"  {KEY_COUNTS[-1]:,} / {KEY_COUNTS[0]} keys: median {flat:.2f}x, p95 "
        f"{last[1] / first[1]:.2f}x (flat: {met(1 / FLAT_WITHIN <= flat <= FLAT_WITHIN)}); "
        f"worst median {worst_median:.3f} ms (target <= {INVALIDATE_TARGET_MS:g} ms: "
        f"{met(worst_median <= INVALIDATE_TARGET_MS)}), worst p95 {worst_p95:.3f} ms "
        f"({met(worst_p95 <= INVALIDATE_TARGET_MS)})"
    )
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end {load_avg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
