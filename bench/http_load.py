"""Loopback HTTP load for the benchmarks: a gunicorn server on a database, and a load client.

The benchmarks that measure the real stack (gunicorn → Django → PostgreSQL, + Redis) need two
things the suite's test client cannot give: a server process configured only by its environment,
as production is, and a client that keeps ``concurrency`` connections busy and reports requests per
second and latency percentiles. Neither imports Django, so a bench can start the server before or
after its own ``django.setup()``.

- ``Server(env, workers=2, threads=1)``: a context manager running ``gunicorn
  pms_project.wsgi:application`` on 127.0.0.1 and a free port; ``server.url`` is its base URL.
- ``load(url, concurrency=8, duration=10.0, warmup=1.0, headers=None, check=None) -> LoadResult``.
- ``fetch(url, headers)``: one GET, for checks outside the timed load.

The client is plain asyncio (no dependency): HTTP/1.1 with keep-alive when the server allows it.
gunicorn's sync worker (``threads=1``) closes the connection after every response, so there each
request pays a TCP connect, counted in its latency and in ``LoadResult.connections``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Settings the server must take from ``env`` alone, never from the caller's environment.
PROJECT_VARS = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SECRET_KEY")
SERVER_DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "pms_project.settings",
    "DJANGO_DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
}

# (status, lower-cased headers, body) -> whether the response is right.
Check = Callable[[int, dict[str, str], bytes], bool]


class ServerError(RuntimeError):
    """gunicorn did not start, or did not answer ``/healthz`` in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# No proxy for loopback, whatever the environment's http_proxy says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(
    url: str, headers: Mapping[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, dict[str, str], bytes]:
    """One GET, for a bench's checks outside the timed load: status, lower-cased headers, body
    (an HTTP error status is returned, not raised)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        status, head, body = err.code, err.headers, err.read()
    return status, {k.lower(): v for k, v in head.items()}, body


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM the gunicorn master if the bench itself is killed
    (Linux), since then no ``__exit__`` runs. Its workers notice their master is gone and exit."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """``gunicorn pms_project.wsgi:application`` on 127.0.0.1, configured by ``env`` only.

    ``env`` must name DATABASE_URL (else settings would start the embedded PostgreSQL); REDIS_URL
    and CELERY_BROKER_URL are empty unless given. DEBUG is off, ALLOWED_HOSTS takes 127.0.0.1, the
    secret key is a fixed bench key. ``threads > 1`` makes gunicorn use its gthread worker (with
    keep-alive), ``threads=1`` its sync worker. No access log; gunicorn's and Django's logs go to
    ``log_path`` in a temporary folder, printed when startup fails and removed on exit.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int = 2,
        threads: int = 1,
        startup_timeout: float = 30.0,
        grace: float = 10.0,
    ) -> None:
        if not env.get("DATABASE_URL"):
            raise ValueError("Server needs DATABASE_URL in env")
        self.workers, self.threads = workers, threads
        self.startup_timeout, self.grace = startup_timeout, grace
        self.env = {k: v for k, v in os.environ.items() if k not in PROJECT_VARS}
        self.env.update({k: "" for k in PROJECT_VARS})
        self.env.update(SERVER_DEFAULTS)
        self.env.update(env)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.tmp: tempfile.TemporaryDirectory | None = None

    @property
    def log_path(self) -> Path:
        assert self.tmp is not None, "the server is not running"
        return Path(self.tmp.name) / "gunicorn.log"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Server:
        self.tmp = tempfile.TemporaryDirectory(prefix="pms-gunicorn-")
        gunicorn = Path(sys.executable).with_name("gunicorn")
        cmd = [
            str(gunicorn),
            "pms_project.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            f"--threads={self.threads}",
            "--error-logfile=-",  # stderr, which goes to log_path with Django's console log
            "--graceful-timeout=5",
            "--no-control-socket",  # its default, ~/.gunicorn/gunicorn.ctl, is shared by all runs
        ]
        try:
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    cmd,
                    cwd=ROOT,
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a group of its own: Ctrl-C reaches us, not it
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            self._wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                problem = f"gunicorn exited with status {self.process.returncode}"
                break
            with contextlib.suppress(OSError):
                if fetch(f"{self.url}/healthz", timeout=2)[0] == 200:
                    return
            if time.monotonic() > deadline:
                problem = f"/healthz did not answer 200 within {self.startup_timeout:.0f} s"
                break
            time.sleep(0.1)
        print(f"{problem}; its log ({self.log_path}):\n{self.log_tail(200)}", file=sys.stderr)
        raise ServerError(problem)

    def __exit__(self, *exc: object) -> None:
        """SIGTERM (gunicorn stops its workers gracefully); after ``grace`` seconds, or on a
        second Ctrl-C, SIGKILL to its whole process group; then to any worker it orphaned."""
        process, self.process = self.process, None
        if process is not None:
            try:
                process.terminate()
                process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                pass
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None


# --- The load client ---------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What ``load`` measured in its window (after the warm-up). ``requests`` counts responses of
    any status; ``errors`` counts connection failures, non-2xx responses and failed checks."""

    requests: int = 0
    errors: int = 0
    status_counts: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)  # the first few, to tell why
    connections: int = 0  # TCP connections opened (one per request without keep-alive)
    seconds: float = 0.0  # the measured window
    cpu_seconds: float = 0.0  # this process's CPU in the window: the client's own cost
    body_bytes: int = 0  # the body size of the last response seen
    p50: float = float("nan")  # latency percentiles in ms, set when the run ends
    p95: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")
    latencies_ms: list[float] = field(default_factory=list, repr=False)  # in completion order

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def client_cpu_us(self) -> float:
        """Client CPU per request in µs: near 1e6 / rps, the client (not the server) is the
        limit."""
        return 1e6 * self.cpu_seconds / self.requests if self.requests else 0.0

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(message)


def percentile(data: list[float], q: float) -> float:
    """The ``q``-th percentile of sorted ``data``, interpolated linearly (numpy's default)."""
    if not data:
        return float("nan")
    rank = (len(data) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (rank - low)


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


# What ends a request as a connection error (ValueError: a bad length; TimeoutError is an OSError).
FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError,
            ValueError)  # fmt: skip


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes, bool]:
    """One response: status, lower-cased headers (repeats joined by ", "), body, and whether the
    connection stays open. Bodies by Content-Length, chunked, or until the server closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
        raise ProtocolError(f"bad status line {status_line!r}")
    status = int(rest[:3])
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = "close" not in tokens if version == "HTTP/1.1" else "keep-alive" in tokens
    if status in (204, 304) or status < 200:
        return status, headers, b"", keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16):
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise ProtocolError("a chunk does not end with CRLF")
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass  # trailer fields, up to the empty line
        return status, headers, b"".join(parts), keep
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"])), keep
    return status, headers, await reader.read(), False  # delimited by the server's close


@dataclass
class _Load:
    """One ``load`` run: the shared request and window, and the result its connections fill."""

    host: str
    port: int
    request: bytes
    begin: float  # perf_counter() at the end of the warm-up
    end: float
    check: Check | None
    check_every: int
    timeout: float
    result: LoadResult = field(default_factory=LoadResult)

    async def connection(self) -> None:
        """Requests back to back until ``end``; counts those that end in [begin, end]. A request's
        latency includes the connect when it needs one (always, without keep-alive)."""
        r, clock = self.result, time.perf_counter
        reader = writer = None
        done = 0
        while (start := clock()) < self.end:
            try:
                async with asyncio.timeout(self.timeout):
                    if writer is None:
                        reader, writer = await asyncio.open_connection(
                            self.host, self.port, limit=1 << 20
                        )
                        r.connections += int(start >= self.begin)
                    writer.write(self.request)
                    status, headers, body, keep = await read_response(reader)
            except FAILURES as exc:
                if writer is not None:
                    writer.close()
                reader = writer = None
                if self.begin <= clock() <= self.end:
                    r.error(f"{type(exc).__name__}: {exc}")
                await asyncio.sleep(0.01)  # a refused connect must not spin
                continue
            finished = clock()
            if not keep:
                writer.close()
                reader = writer = None
            if not self.begin <= finished <= self.end:
                continue
            done += 1
            r.requests += 1
            r.status_counts[status] += 1
            r.latencies_ms.append((finished - start) * 1000.0)
            r.body_bytes = len(body)
            if not 200 <= status < 300:
                r.error(f"HTTP {status}: {body[:200]!r}")
            elif self.check is not None and done % self.check_every == 0:
                try:
                    ok = self.check(status, headers, body)
                except Exception as exc:  # a check that raises has failed
                    ok, body = False, f"{type(exc).__name__}: {exc}".encode()
                if not ok:
                    r.error(f"check failed on HTTP {status}: {body[:200]!r}")
        if writer is not None:
            writer.close()

    async def cpu_meter(self) -> None:
        """This process's CPU time over the window: the client's own cost."""
        await asyncio.sleep(max(0.0, self.begin - time.perf_counter()))
        cpu = time.process_time()
        await asyncio.sleep(max(0.0, self.end - time.perf_counter()))
        self.result.cpu_seconds = time.process_time() - cpu

    async def run(self, concurrency: int) -> LoadResult:
        await asyncio.gather(self.cpu_meter(), *(self.connection() for _ in range(concurrency)))
        r = self.result
        r.seconds = self.end - self.begin
        ordered = sorted(r.latencies_ms)
        r.p50, r.p95, r.p99 = (percentile(ordered, q) for q in (50, 95, 99))
        r.max = ordered[-1] if ordered else float("nan")
        return r


def load(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    concurrency: int = 8,
    duration: float = 10.0,
    warmup: float = 1.0,
    check: Check | None = None,
    check_every: int = 1,
    timeout: float = 30.0,
) -> LoadResult:
    """GET ``url`` (http://, HTTP/1.1) from ``concurrency`` connections, each sending its next
    request as soon as the previous answer is read, for ``duration`` seconds after ``warmup``
    seconds that are not counted. ``check(status, headers, body)`` runs on every
    ``check_every``-th 2xx response of each connection; False or an exception counts as an error.
    A request unanswered after ``timeout`` seconds is an error. Not from inside an event loop."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"load needs an http:// URL, got {url!r}")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: pms-bench"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    begin = time.perf_counter() + warmup
    run = _Load(parts.hostname, parts.port or 80, request, begin, begin + duration, check,
                check_every, timeout)  # fmt: skip
    return asyncio.run(run.run(concurrency))
