"""The benchmarks' load client (bench/http_load.py) against a tiny HTTP server of the test's own.

A benchmark's figures are only as good as its client: these tests prove, without gunicorn or a
database, that ``load`` reads Content-Length, chunked and close-delimited bodies byte for byte,
keeps connections alive when the server allows it and reconnects when it does not, counts
statuses, errors and failed checks, and computes the percentiles numpy computes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest

from bench.http_load import LoadResult, fetch, load, percentile

FIXED = b'{"status": "ok"}' * 64  # 1,024 bytes
CHUNKS = [b"a" * 7, b"b" * 300, b"c" * 4096, b"d"]
CHUNKED = b"".join(CHUNKS)
CLOSED = b"delimited by the close " * 10
RUN = {"concurrency": 4, "duration": 0.2, "warmup": 0.05}


class TinyServer:
    """An asyncio HTTP/1.1 server in a thread. Routes: /fixed (Content-Length, keep-alive),
    /chunked (chunk extension and trailer), /flaky (every 4th request answers 500), /close (no
    length, body ends with the connection), /garbage (not HTTP). Counts what it answered."""

    def __init__(self) -> None:
        self.served: Counter[tuple[str, int]] = Counter()
        self.heads: list[bytes] = []
        self.n = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> TinyServer:
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.start(), self.loop).result(5)
        return self

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head)
                path = head.split(b" ")[1].decode()
                self.n += 1
                status, extra, body, close = 200, b"", FIXED, False
                if path == "/chunked":
                    parts = [b"%x;ext=1\r\n%s\r\n" % (len(c), c) for c in CHUNKS]
                    extra = b"Transfer-Encoding: chunked\r\n"
                    body = b"".join(parts) + b"0\r\nX-Trailer: t\r\n\r\n"
                elif path == "/flaky" and self.n % 4 == 0:
                    status, body = 500, b"boom"
                elif path == "/close":
                    extra, body, close = b"Connection: close\r\n", CLOSED, True
                elif path == "/garbage":
                    writer.write(b"SPDY/9 what\r\n\r\n")
                    return
                if not extra.startswith(b"Transfer-Encoding") and not close:
                    extra += b"Content-Length: %d\r\n" % len(body)
                extra += b"X-N: %d\r\n" % self.n
                writer.write(b"HTTP/1.1 %d X\r\n%s\r\n%s" % (status, extra, body))
                await writer.drain()
                self.served[(path, status)] += 1
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
def server() -> Iterator[TinyServer]:
    with TinyServer() as tiny:
        yield tiny


def url(server: TinyServer, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def assert_consistent(r: LoadResult) -> None:
    """What every result must satisfy: one latency per response, percentiles as numpy's."""
    assert r.requests > 0
    assert sum(r.status_counts.values()) == r.requests == len(r.latencies_ms)
    assert r.rps == pytest.approx(r.requests / RUN["duration"])
    expected = np.percentile(r.latencies_ms, [50, 95, 99])
    assert [r.p50, r.p95, r.p99] == pytest.approx(expected.tolist(), rel=1e-12)
    assert r.max == max(r.latencies_ms)
    assert 0 < r.p50 <= r.p95 <= r.p99 <= r.max


def test_content_length_bodies_on_kept_alive_connections(server):
    seen: list[int] = []

    def check(status: int, headers: dict[str, str], body: bytes) -> bool:
        seen.append(int(headers["x-n"]))
        return status == 200 and body == FIXED

    r = load(url(server, "/fixed"), headers={"Authorization": "Token abc"}, check=check, **RUN)
    assert_consistent(r)
    assert r.errors == 0 and r.status_counts == {200: r.requests}
    assert r.body_bytes == len(FIXED)
    assert len(set(seen)) == len(seen) == r.requests  # the check saw every counted response
    assert r.requests < server.served[("/fixed", 200)]  # the warm-up's are not counted
    assert r.connections == 0  # the 4 connections were opened in the warm-up and kept
    assert all(b"\r\nAuthorization: Token abc\r\n" in head for head in server.heads)
    assert all(b"\r\nHost: 127.0.0.1:" in head for head in server.heads)


def test_fetch_returns_an_error_status_rather_than_raising(server):
    assert fetch(url(server, "/fixed"))[::2] == (200, FIXED)
    fetch(url(server, "/flaky"))
    fetch(url(server, "/flaky"))
    status, headers, body = fetch(url(server, "/flaky"), {"X-Probe": "1"})
    assert (status, headers["x-n"], body) == (500, "4", b"boom")
    assert b"\r\nX-Probe: 1\r\n" in server.heads[-1]


def test_chunked_bodies_are_reassembled(server):
    r = load(url(server, "/chunked"), check=lambda s, h, body: body == CHUNKED, **RUN)
    assert_consistent(r)
    assert r.errors == 0 and r.body_bytes == len(CHUNKED)


def test_a_close_delimited_body_costs_a_connection_per_request(server):
    r = load(url(server, "/close"), check=lambda s, h, body: body == CLOSED, **RUN)
    assert_consistent(r)
    assert r.errors == 0 and r.body_bytes == len(CLOSED)
    # Each request opened its own connection (bar those at the edges of the window).
    assert abs(r.connections - r.requests) <= RUN["concurrency"]


def test_non_2xx_and_failed_checks_are_errors(server):
    r = load(url(server, "/flaky"), concurrency=4, duration=0.2, warmup=0.0)
    assert_consistent(r)
    assert set(r.status_counts) == {200, 500}
    assert r.errors == r.status_counts[500]
    assert r.error_samples[0] == "HTTP 500: b'boom'"
    # Requests end in the window or are in flight at its end (at most one per connection).
    served = server.served[("/flaky", 200)] + server.served[("/flaky", 500)]
    assert served - 4 <= r.requests <= served
    assert server.served[("/flaky", 500)] - 4 <= r.status_counts[500]
    assert r.status_counts[500] <= server.served[("/flaky", 500)]

    outcomes: list[bool] = []

    def odd_only(status: int, headers: dict[str, str], body: bytes) -> bool:
        n = int(headers["x-n"])
        outcomes.append(n % 2 == 1 and n % 5 != 0)
        if n % 5 == 0:
            raise KeyError("a check that raises has failed")
        return n % 2 == 1

    checked = load(url(server, "/fixed"), check=odd_only, check_every=2, **RUN)
    assert_consistent(checked)
    assert checked.status_counts == {200: checked.requests}
    assert 0 < checked.errors == outcomes.count(False) < checked.requests
    # Every 2nd response of each connection was checked.
    assert (checked.requests - 4) / 2 <= len(outcomes) <= checked.requests / 2


def test_connection_failures_are_errors_not_requests(server):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = load(f"http://127.0.0.1:{port}/", **RUN)
    assert r.requests == 0 and r.errors > 0 and not r.status_counts
    assert r.error_samples[0].startswith("ConnectionRefusedError")

    garbage = load(url(server, "/garbage"), **RUN)
    assert garbage.requests == 0 and garbage.errors > 0
    assert garbage.error_samples[0].startswith("ProtocolError: bad status line")


def test_percentile_interpolates_as_numpy():
    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 10, 101, 1000):
        data = rng.exponential(5.0, n)
        for q in (0, 1, 50, 95, 99, 99.9, 100):
            assert percentile(sorted(data.tolist()), q) == pytest.approx(np.percentile(data, q))
    assert np.isnan(percentile([], 50))
