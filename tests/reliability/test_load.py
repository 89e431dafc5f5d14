"""The desk's reads under load while traders write, over real HTTP (gunicorn → Django →
PostgreSQL + Redis): no errors, and every read issued after a write's answer shows that write.

Given the test desk on a gunicorn server (2 gthread workers × 4 threads) with the suite's Redis
cache, when 6 viewers read the book, live risk, attribution, the latest pack, NAV, positions and
cash flows back to back while a trader records cash flows, raises UP's intraday mark and adds to a
DOWN position (each ~5 writes a second), and runs one mark-to-market half-way, then:
- no request fails (no 5xx, no 4xx, no connection error);
- read-your-writes, which is what the cache's invalidation must guarantee under concurrency:
  a cash-flow list read after a flow's 201 lists it; a book read after a price update's 200 marks
  UP at that price or a later one (the marks only rise); a book or position list read after an
  open's 201 holds at least the quantity that open answered (the quantity only grows);
- the latency percentiles are written to logs/reliability/load.json.
"""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal

import pytest
from django.core.cache import cache

from ops.tests.desk import FRI
from portfolio.models import CashFlow, Execution

from .support import (
    CACHED_READS,
    READS,
    Client,
    background,
    desk_for_http,
    figures,
    server_log_on_failure,
    web_server,
    write_figures,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS = 6
SECONDS = 20.0
WRITE_PAUSE = 0.2  # each writer: ~5 writes a second, under the write throttle even if it applies


class Written:
    """What the trader's writes have answered so far (appended after each answer arrived)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.flows: set[int] = set()
        self.up_price = Decimal(0)
        self.down_quantity = Decimal(0)

    def snapshot(self) -> tuple[frozenset[int], Decimal, Decimal]:
        with self.lock:
            return frozenset(self.flows), self.up_price, self.down_quantity


def test_reads_under_writes_see_every_write_without_errors(settings):
    # Given
    desk = desk_for_http()
    cache.clear()  # the suite's Redis database: nothing of an earlier test's desk
    written = Written()
    stale: list[str] = []
    mtm_at: list[float] = []
    with web_server(redis_url=settings.CACHES["default"]["LOCATION"]) as server:
        client = Client(server.url)

        def reader(offset: int):
            def loop(stop: threading.Event) -> None:
                kinds = itertools.islice(itertools.cycle(READS), offset, None)
                for kind in kinds:
                    if stop.is_set():
                        return
                    flows, up_price, down_quantity = written.snapshot()
                    sample = client.get(kind, desk.viewer)
                    if sample.ok:
                        check_read(kind, sample.json(), flows, up_price, down_quantity, stale)

            return loop

        def flows_writer(stop: threading.Event) -> None:
            for n in itertools.count(1):
                if stop.wait(WRITE_PAUSE):
                    return
                payload = {"date": FRI.isoformat(), "amount": f"{1000 + n}.00", "note": f"load {n}"}
                sample = client.post("cashflow", READS["cashflows"], desk.trader, payload)
                if sample.status == 201:
                    with written.lock:
                        written.flows.add(sample.json()["id"])

        def price_writer(stop: threading.Event) -> None:
            for n in itertools.count(1):
                if stop.wait(WRITE_PAUSE):
                    return
                price = Decimal("100") + Decimal(n) / 100
                sample = client.post(
                    "price",
                    "/api/portfolio/prices/update/",
                    desk.trader,
                    {"symbol": "UP", "price": str(price)},
                )
                if sample.ok:
                    with written.lock:
                        written.up_price = max(written.up_price, price)

        def open_writer(stop: threading.Event) -> None:
            while not stop.wait(WRITE_PAUSE):
                sample = client.post(
                    "open",
                    "/api/portfolio/positions/open/",
                    desk.trader,
                    {
                        "symbol": "DOWN",
                        "quantity": "1",
                        "price": "50",
                        "strategy": "TREND",
                        "trade_date": FRI.isoformat(),
                    },
                )
                if sample.status == 201:
                    quantity = Decimal(sample.json()["position"]["quantity"])
                    with written.lock:
                        written.down_quantity = max(written.down_quantity, quantity)

        def mtm(stop: threading.Event) -> None:
            if stop.wait(SECONDS / 2):
                return
            mtm_at.append(time.monotonic())
            client.post("mtm", "/api/portfolio/mtm/", desk.trader, {"date": FRI.isoformat()})

        workers = [reader(i) for i in range(READERS)]
        workers += [flows_writer, price_writer, open_writer, mtm]
        started = time.monotonic()
        with background(workers) as stop:
            stop.wait(SECONDS)
        elapsed = time.monotonic() - started
        log = server_log_on_failure(server)

    # Then
    samples = client.samples
    failed = [
        f"{s.method} {s.path}: {s.status} {s.error or s.body[:200]!r}" for s in samples if not s.ok
    ]
    assert not failed, f"{len(failed)} failed requests, e.g. {failed[:5]}\n{log}"
    assert not stale, f"{len(stale)} reads missed an earlier write, e.g. {stale[:5]}"
    assert len(mtm_at) == 1 and any(s.kind == "mtm" and s.status == 200 for s in samples)
    flows = {s.json()["id"] for s in samples if s.kind == "cashflow"}
    assert set(CashFlow.objects.filter(portfolio=desk.portfolio).values_list("id", flat=True)) == (
        flows
    )
    opens = sum(s.kind == "open" for s in samples)
    assert Execution.objects.filter(
        portfolio=desk.portfolio, instrument__symbol="DOWN"
    ).count() == (opens)
    kinds = {s.kind for s in samples}
    assert set(READS) | {"cashflow", "price", "open", "mtm"} <= kinds
    result = {
        "seconds": round(elapsed, 1),
        "readers": READERS,
        "writers": 3,
        "all": figures(samples),
        "reads": figures([s for s in samples if s.method == "GET"]),
        "writes": figures([s for s in samples if s.method == "POST"]),
        "read_your_writes_checks": sum(
            s.method == "GET" and s.kind in ("book", "positions", "cashflows") for s in samples
        ),
        "stale_reads": len(stale),
        "by_endpoint": {
            kind: figures([s for s in samples if s.kind == kind]) for kind in sorted(kinds)
        },
        "cache_hits": {
            kind: sum(s.headers.get("x-cache") == "HIT" for s in samples if s.kind == kind)
            for kind in CACHED_READS
        },
    }
    write_figures("load", result)
    assert result["reads"]["requests"] > 100 and result["writes"]["requests"] > 30


def check_read(
    kind: str,
    body: dict,
    flows: frozenset[int],
    up_price: Decimal,
    down_quantity: Decimal,
    stale: list[str],
) -> None:
    """Whether a read shows every write answered before it was sent (``stale`` collects what
    it missed)."""
    if kind == "cashflows":
        listed = {row["id"] for row in body["results"]}
        if missing := flows - listed:
            stale.append(f"cash flows {sorted(missing)[:5]} not listed")
    elif kind == "book":
        rows = body["positions"]
        up = [Decimal(p["price"]) for p in rows if p["symbol"] == "UP"]
        if up_price and (not up or up[0] < up_price):
            stale.append(f"book marks UP at {up} after an update to {up_price}")
        down = sum(Decimal(p["quantity"]) for p in rows if p["symbol"] == "DOWN")
        if down < down_quantity:
            stale.append(f"book holds {down} DOWN after an open answered {down_quantity}")
    elif kind == "positions":
        down = sum(
            Decimal(p["quantity"])
            for p in body["results"]
            if p["symbol"] == "DOWN" and p["strategy"] == "TREND"
        )
        if down < down_quantity:
            stale.append(f"positions hold {down} DOWN after an open answered {down_quantity}")
