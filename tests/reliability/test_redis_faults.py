"""Redis paused, killed and restarted under the desk's reads, over real HTTP: every answer right.

Given the test desk on gunicorn whose cache is a redis-server of the test's own (the machine's
Redis is shared: never paused), and the bodies of the book, live risk, attribution and the latest
pack as computed before any fault, when 4 viewers read them back to back while that Redis is
- running (``before``), then
- paused with SIGSTOP for 2 s (``paused``: a hung Redis, each call bounded by the 50 ms socket
  timeouts, then the breaker), then resumed (``resumed``),
- killed (``stopped``: connections refused) for 3 s,
- started again, empty, on the same port (``restarted``),
then no request fails, every body equals the one computed before the faults (but for its
``cached`` flag), and caching resumes by itself after the restart: the new Redis holds the
server's keys and the book is answered ``X-Cache: HIT`` again. The latency of each phase goes to
logs/reliability/redis_faults.json.
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.redis_server import RedisServer

from . import support as rs

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READERS = 4
RESUME_WITHIN = 20.0  # seconds for caching to resume after the restart (the breaker's 5 s retry)


def test_redis_paused_stopped_and_restarted_under_load_answers_right_and_resumes():
    # Given
    desk = rs.desk_for_http()
    phases: list[tuple[str, float]] = []
    wrong: list[str] = []
    with RedisServer() as redis_server, rs.web_server(redis_url=redis_server.url) as server:
        client = rs.Client(server.url)
        expected = {}
        for kind in rs.CACHED_READS:
            first = client.get(kind, desk.viewer, record=False)
            again = client.get(kind, desk.viewer, record=False)
            assert first.status == again.status == 200, (kind, first.body[:300])
            assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
            expected[kind] = rs.without_flag(first.body)
            assert rs.without_flag(again.body) == expected[kind]

        def judge(kind: str):
            def compare(sample: rs.Sample) -> None:
                if rs.without_flag(sample.body) != expected[kind]:
                    wrong.append(f"{kind} differs: {sample.body[:200]!r}")

            return compare

        def phase(name: str, seconds: float = 0.0) -> None:
            phases.append((name, time.monotonic()))
            time.sleep(seconds)

        # When
        readers = [
            rs.reader(client, desk.viewer, rs.CACHED_READS, i, judge) for i in range(READERS)
        ]
        with rs.background(readers):
            phase("before", 2.0)
            redis_server.pause()
            phase("paused", 2.0)
            redis_server.resume()
            phase("resumed", 2.0)
            redis_server.kill()
            phase("stopped", 3.0)
            redis_server.start()
            phase("restarted")
            resumed_after = wait_for_hits(client, redis_server, phases[-1][1])
            time.sleep(1.0)
            phases.append(("end", time.monotonic()))
        keys = redis_server.client().dbsize()
        log = rs.server_log_on_failure(server)

    # Then
    samples = client.samples
    failed = [f"{s.path}: {s.status} {s.error or s.body[:200]!r}" for s in samples if not s.ok]
    assert not failed, f"{len(failed)} failed requests, e.g. {failed[:5]}\n{log}"
    assert not wrong, f"{len(wrong)} wrong bodies, e.g. {wrong[:3]}"
    assert resumed_after is not None, f"no cache hit within {RESUME_WITHIN} s of the restart"
    assert keys > 0
    by_phase = {}
    for (name, begin), (_, end) in itertools.pairwise(phases):
        during = [s for s in samples if begin <= s.start < end]
        assert during, f"no request started while Redis was {name}"
        by_phase[name] = {
            **rs.figures(during),
            "seconds": round(end - begin, 1),
            "hits": sum(s.headers.get("x-cache") == "HIT" for s in during),
        }
    assert by_phase["stopped"]["hits"] == 0  # nothing cached answered while Redis was gone
    assert by_phase["before"]["hits"] > 0
    rs.write_figures(
        "redis_faults",
        {
            "readers": READERS,
            "endpoints": list(rs.CACHED_READS),
            "all": rs.figures(samples),
            "phases": by_phase,
            "caching_resumed_after_restart_s": round(resumed_after, 2),
            "keys_in_restarted_redis": keys,
        },
    )


def wait_for_hits(client: rs.Client, redis_server: RedisServer, restarted: float) -> float | None:
    """Seconds from the restart to the first ``X-Cache: HIT`` of a read started after it (the
    readers' own requests), or None after ``RESUME_WITHIN`` seconds."""
    while time.monotonic() - restarted < RESUME_WITHIN:
        with client.lock:
            hits = [
                s.end
                for s in client.samples
                if s.start > restarted and s.headers.get("x-cache") == "HIT"
            ]
        if hits:
            return min(hits) - restarted
        time.sleep(0.1)
    return None
