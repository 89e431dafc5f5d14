"""The server's PostgreSQL connections killed under reads and writes, over real HTTP.

Given the test desk on gunicorn (2 gthread workers × 4 threads, ``conn_max_age=60`` with health
checks, its connections named ``pms_fault_web``) and the suite's Redis cache, when 4 viewers read
the book, risk, attribution, pack, NAV, positions and cash flows while a trader records cash
flows and adds to a DOWN position, and the test terminates every backend of the server on its
own database three times (``pg_terminate_backend``), then:
- at most one request fails per connection killed, each failure was in flight when a kill
  landed (a request sent after a kill never fails: the pooled connection is checked first),
  and a failure is the API's JSON 503 (retry: its transaction was rolled back), never a
  500 or a dropped connection;
- nothing is half-applied: the cash flows in the database are exactly those answered 201, the
  DOWN executions exactly the opens answered 201, and the positions equal the ledger rebuild;
- the book the server answers afterwards equals the book computed here from the database.
Figures (requests, failures, kills, latency) go to logs/reliability/pg_faults.json.
"""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from portfolio import selectors
from portfolio.book_json import book_json
from portfolio.models import CashFlow, Execution, Position

from . import support as rs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS = 4
KILLS = 3
KILL_EVERY = 2.5  # seconds between kills; the load runs one interval before the first and after
WRITE_PAUSE = 0.15
UNAVAILABLE = {"detail": "the database is unavailable; retry"}  # pms_project.errors


def kill_server_backends() -> tuple[float, float, int]:
    """Terminate every backend of the server on this test's database: (start, end, how many)."""
    start = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s "
            "AND pid <> pg_backend_pid()",
            [rs.WEB_APP_NAME],
        )
        (killed,) = cursor.fetchone()
    return start, time.monotonic(), killed


def test_killed_connections_fail_at_most_one_request_each_and_half_apply_nothing(settings):
    # Given
    desk = rs.desk_for_http()
    kills: list[tuple[float, float, int]] = []
    with rs.web_server(redis_url=settings.CACHES["default"]["LOCATION"]) as server:
        client = rs.Client(server.url)

        def flows_writer(stop: threading.Event) -> None:
            for n in itertools.count(1):
                if stop.wait(WRITE_PAUSE):
                    return
                rs.cash_flow(client, desk, n)

        def open_writer(stop: threading.Event) -> None:
            while not stop.wait(WRITE_PAUSE):
                rs.open_down(client, desk)

        readers = [rs.reader(client, desk.viewer, tuple(rs.READS), i) for i in range(READERS)]
        # When
        with rs.background([*readers, flows_writer, open_writer]):
            for _ in range(KILLS):
                time.sleep(KILL_EVERY)
                kills.append(kill_server_backends())
            time.sleep(KILL_EVERY)
        final = client.get("book", desk.viewer, record=False)
        log = rs.server_log_on_failure(server)

    # Then: few failures, each the API's 503 of a request in flight at a kill
    samples = client.samples
    killed = sum(n for _, _, n in kills)
    assert all(n > 0 for _, _, n in kills), f"a kill found no server backend: {kills}"
    failed = [s for s in samples if not s.ok]
    described = [f"{s.method} {s.path}: {s.status} {s.error or s.body[:200]!r}" for s in failed]
    assert len(failed) <= killed, f"{len(failed)} failures for {killed} killed: {described}\n{log}"
    for s in failed:
        assert s.status == 503 and s.json() == UNAVAILABLE, described
        assert any(s.start <= end and begin <= s.end for begin, end, _ in kills), (
            f"failed without a kill in flight: {s.method} {s.path}"
        )
    # Nothing half-applied: the database holds exactly the writes answered 201
    flows = {s.json()["id"] for s in samples if s.kind == "cashflow" and s.status == 201}
    stored = set(CashFlow.objects.filter(portfolio=desk.portfolio).values_list("id", flat=True))
    assert stored == flows, described
    opens = sum(s.kind == "open" and s.status == 201 for s in samples)
    executions = Execution.objects.filter(portfolio=desk.portfolio, instrument__symbol="DOWN")
    assert executions.count() == opens > 0, described
    position = Position.objects.get(portfolio=desk.portfolio, instrument__symbol="DOWN")
    assert position.quantity == Decimal(opens)
    assert selectors.ledger_differences(desk.portfolio) == []
    # And the book the server answers is the book the database gives
    assert final.status == 200
    assert rs.without_flag(final.body) == rs.without_flag(book_json(desk.portfolio))
    rs.write_figures(
        "pg_faults",
        {
            "readers": READERS,
            "writers": 2,
            "kills": len(kills),
            "connections_killed": killed,
            "failed_requests": len(failed),
            "failures": described,
            "writes_answered_201": len(flows) + opens,
            "all": rs.figures(samples),
            "reads": rs.figures([s for s in samples if s.method == "GET"]),
            "writes": rs.figures([s for s in samples if s.method == "POST"]),
            "around_kills": rs.figures(
                [s for s in samples if any(s.start <= e + 1.0 and b <= s.end for b, e, _ in kills)]
            ),
        },
    )
