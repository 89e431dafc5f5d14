"""What the reliability tests share: a desk the server can read, the server, an HTTP client that
records every request, and the figures they write for docs/RELIABILITY.md.

The tests are transactional: the desk is committed to the test database so that gunicorn (a
separate process, ``bench.http_load.Server``) reads it. The server's PostgreSQL connections carry
``application_name = WEB_APP_NAME`` (libpq's PGAPPNAME), so a test that kills connections selects
the server's backends of its own database only. Figures go to ``logs/reliability/<test>.json``
(git-ignored), the requests, errors and latency percentiles of each phase.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.authtoken.models import Token

from bench.http_load import Server, percentile
from briefing.services import morning_pack_generate
from ops.tests.desk import FRI, desk_build
from portfolio.models import Portfolio
from tests.figures import write_figures  # noqa: F401 (the tests' rs.write_figures)
from trades.tests.fixtures_trades import restore_desk_groups

WEB_APP_NAME = "pms_fault_web"
# The reads a desk makes all day: the four cached views and three lists.
READS = {
    "book": "/api/portfolio/book/",
    "risk": "/api/risk/live/",
    "attribution": "/api/attribution/?period=MTD&by=strategy",
    "briefing": "/api/briefing/latest/",
    "nav": "/api/portfolio/nav/",
    "positions": "/api/portfolio/positions/?status=open",
    "cashflows": "/api/portfolio/cashflows/",
}
CACHED_READS = ("book", "risk", "attribution", "briefing")


# --- The desk -------------------------------------------------------------------------------------


@dataclass
class Desk:
    portfolio: Portfolio
    viewer: dict[str, str]  # request headers carrying each user's token
    trader: dict[str, str]


def _token_headers(username: str, group: str) -> dict[str, str]:
    user = get_user_model().objects.create_user(username)
    user.groups.add(restore_group(group))
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def restore_group(name: str):
    from django.contrib.auth.models import Group

    return Group.objects.get(name=name)


def desk_for_http() -> Desk:
    """The pipelines' test desk (two positions marked Mon–Thu, closes to Friday 2024-03-08), the
    morning pack of Friday, and a viewer and a trader with DRF tokens; all committed. The
    suite's cache database is emptied: nothing of an earlier test's desk is served."""
    cache.clear()
    restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups
    portfolio = desk_build()
    morning_pack_generate(portfolio=portfolio, business_date=FRI)
    return Desk(
        portfolio=portfolio,
        viewer=_token_headers("load-viewer", "viewer"),
        trader=_token_headers("load-trader", "trader"),
    )


# --- The server -----------------------------------------------------------------------------------


def server_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's ``test_<name>``)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def web_server(*, redis_url: str = "", workers: int = 2, threads: int = 4) -> Server:
    """gunicorn (gthread) on the test database, tasks eager, write throttle out of the way, its
    connections named ``WEB_APP_NAME``; the cache ``redis_url`` (empty: local memory)."""
    return Server(
        {
            "DATABASE_URL": server_database_url(),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": "",
            "PGAPPNAME": WEB_APP_NAME,
            "PMS_THROTTLE_WRITES": "1000000/min",
        },
        workers=workers,
        threads=threads,
    )


# --- The client -----------------------------------------------------------------------------------


@dataclass
class Sample:
    """One request: what was asked, when, and how it ended (``status`` 0: a connection error)."""

    kind: str
    method: str
    path: str
    start: float  # time.monotonic()
    end: float
    status: int
    body: bytes
    headers: dict[str, str] = field(repr=False)
    error: str = ""

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)


class Client:
    """HTTP/1.1 to the server, one fresh connection per request (a kept-alive connection the
    server closed while idle would count as a failure the server never saw). Thread-safe: every
    sample is appended to ``samples`` under a lock."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port, self.timeout = host, int(port), timeout
        self.samples: list[Sample] = []
        self.lock = threading.Lock()

    def request(
        self,
        kind: str,
        method: str,
        path: str,
        headers: dict[str, str],
        payload: dict | None = None,
        record: bool = True,
    ) -> Sample:
        body = None if payload is None else json.dumps(payload).encode()
        head = dict(headers)
        if body is not None:
            head["Content-Type"] = "application/json"
        start = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        status, data, answer_headers, error = 0, b"", {}, ""
        try:
            conn.request(method, path, body=body, headers=head)
            response = conn.getresponse()
            data = response.read()
            status = response.status
            answer_headers = {k.lower(): v for k, v in response.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        sample = Sample(
            kind, method, path, start, time.monotonic(), status, data, answer_headers, error
        )
        if record:
            with self.lock:
                self.samples.append(sample)
        return sample

    def get(self, kind: str, headers: dict[str, str], record: bool = True) -> Sample:
        return self.request(kind, "GET", READS[kind], headers, record=record)

    def post(self, kind: str, path: str, headers: dict[str, str], payload: dict) -> Sample:
        return self.request(kind, "POST", path, headers, payload)


@contextlib.contextmanager
def background(workers: list[Callable[[threading.Event], None]]) -> Iterator[threading.Event]:
    """Workers looping in threads until the block ends: each is called with the event the block
    yields and sets when it ends, and returns when it sees it set."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded(fn: Callable[[threading.Event], None]) -> None:
        try:
            fn(stop)
        except BaseException as exc:  # re-raised when the block ends
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=guarded, args=(w,), daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        yield stop
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    if errors:
        raise errors[0]


def reader(
    client: Client,
    headers: dict[str, str],
    kinds: tuple[str, ...],
    offset: int = 0,
    check: Callable[[str, Sample], None] | None = None,
) -> Callable[[threading.Event], None]:
    """A viewer reading ``kinds`` in turn (from ``offset``) until stopped; ``check(kind,
    sample)`` before each read returns a function that judges the read (or None)."""

    def loop(stop: threading.Event) -> None:
        for kind in itertools.islice(itertools.cycle(kinds), offset, None):
            if stop.is_set():
                return
            judge = check(kind) if check else None
            sample = client.get(kind, headers)
            if judge is not None and sample.ok:
                judge(sample)

    return loop


OPEN_PATH = "/api/portfolio/positions/open/"
PRICE_PATH = "/api/portfolio/prices/update/"


def cash_flow(client: Client, desk: Desk, n: int) -> Sample:
    """The trader's ``n``-th subscription, dated the desk's Friday."""
    payload = {"date": FRI.isoformat(), "amount": f"{1000 + n}.00", "note": f"reliability {n}"}
    return client.post("cashflow", READS["cashflows"], desk.trader, payload)


def open_down(client: Client, desk: Desk) -> Sample:
    """The trader buys one more DOWN in TREND on the desk's Friday."""
    payload = {"symbol": "DOWN", "quantity": "1", "price": "50", "strategy": "TREND",
               "trade_date": FRI.isoformat()}  # fmt: skip
    return client.post("open", OPEN_PATH, desk.trader, payload)


def without_flag(body: bytes) -> dict:
    """A cached view's body without its ``cached`` flag: what must not depend on the cache."""
    data = json.loads(body)
    data.pop("cached", None)
    return data


# --- Figures --------------------------------------------------------------------------------------


def figures(samples: list[Sample]) -> dict:
    """Requests, errors (connection failures and non-2xx), statuses and latency percentiles."""
    latencies = sorted(s.ms for s in samples)
    statuses: dict[str, int] = {}
    for s in samples:
        statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
    return {
        "requests": len(samples),
        "errors": sum(not s.ok for s in samples),
        "statuses": dict(sorted(statuses.items())),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


def server_log_on_failure(server: Server) -> str:
    with contextlib.suppress(Exception):
        return server.log_tail(60)
    return "(no server log)"
