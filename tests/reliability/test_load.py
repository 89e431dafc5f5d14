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

from ops.tests.desk import FRI
from portfolio.models import CashFlow, Execution

from . import support as rs

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
    desk = rs.desk_for_http()
    written = Written()
    stale: list[str] = []
    mtm_at: list[float] = []
    with rs.web_server(redis_url=settings.CACHES["default"]["LOCATION"]) as server:
        client = rs.Client(server.url)

        def judge(kind: str):
            flows, up_price, down_quantity = written.snapshot()  # before the read is sent
            return lambda sample: check_read(
                kind, sample.json(), flows, up_price, down_quantity, stale
            )

        def flows_writer(stop: threading.Event) -> None:
            for n in itertools.count(1):
                if stop.wait(WRITE_PAUSE):
                    return
                sample = rs.cash_flow(client, desk, n)
                if sample.status == 201:
                    with written.lock:
                        written.flows.add(sample.json()["id"])

        def price_writer(stop: threading.Event) -> None:
            for n in itertools.count(1):
                if stop.wait(WRITE_PAUSE):
                    return
                price = Decimal("100") + Decimal(n) / 100
                payload = {"symbol": "UP", "price": str(price)}
                sample = client.post("price", rs.PRICE_PATH, desk.trader, payload)
                if sample.ok:
                    with written.lock:
                        written.up_price = max(written.up_price, price)

        def open_writer(stop: threading.Event) -> None:
            while not stop.wait(WRITE_PAUSE):
                sample = rs.open_down(client, desk)
                if sample.status == 201:
                    quantity = Decimal(sample.json()["position"]["quantity"])
                    with written.lock:
                        written.down_quantity = max(written.down_quantity, quantity)

        def mtm(stop: threading.Event) -> None:
            if stop.wait(SECONDS / 2):
                return
            mtm_at.append(time.monotonic())
            client.post("mtm", "/api/portfolio/mtm/", desk.trader, {"date": FRI.isoformat()})

        workers = [
            rs.reader(client, desk.viewer, tuple(rs.READS), i, judge) for i in range(READERS)
        ]
        workers += [flows_writer, price_writer, open_writer, mtm]
        started = time.monotonic()
        with rs.background(workers) as stop:
            stop.wait(SECONDS)
        elapsed = time.monotonic() - started
        log = rs.server_log_on_failure(server)

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
    assert set(rs.READS) | {"cashflow", "price", "open", "mtm"} <= kinds
    result = {
        "seconds": round(elapsed, 1),
        "readers": READERS,
        "writers": 3,
        "all": rs.figures(samples),
        "reads": rs.figures([s for s in samples if s.method == "GET"]),
        "writes": rs.figures([s for s in samples if s.method == "POST"]),
        "read_your_writes_checks": sum(
            s.method == "GET" and s.kind in ("book", "positions", "cashflows") for s in samples
        ),
        "stale_reads": len(stale),
        "by_endpoint": {
            kind: rs.figures([s for s in samples if s.kind == kind]) for kind in sorted(kinds)
        },
        "cache_hits": {
            kind: sum(s.headers.get("x-cache") == "HIT" for s in samples if s.kind == kind)
            for kind in rs.CACHED_READS
        },
    }
    rs.write_figures("load", result)
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
