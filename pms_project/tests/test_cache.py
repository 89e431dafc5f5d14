"""pms_project.cache against the real Redis of the suite: hits, expiry, O(1) invalidation on
commit, the stale-refill race, concurrent misses, and the fallback when Redis is down."""

from __future__ import annotations

import json
import logging
import threading
import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import transaction
from django_redis import get_redis_connection

from pms_project import cache as pcache

DEAD = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/1",  # nothing listens on port 1
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.05, "SOCKET_TIMEOUT": 0.05},
        "KEY_PREFIX": "pms",
    }
}


class Counter:
    """A compute function that counts its calls and answers a body naming the call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self) -> bytes:
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(self.delay)
        return json.dumps({"n": n}).encode()


@pytest.fixture(autouse=True)
def clean():
    cache.clear()
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False
    pcache._pending.clear()
    yield
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False


def get(counter, *, portfolio: int = 1, params=None, namespace: str = "book"):
    return pcache.get_or_compute(namespace, portfolio, params or {"p": 1}, counter)


def test_miss_then_hit_and_parameters_make_the_key():
    counter = Counter()
    assert get(counter) == (b'{"n": 1}', False)
    assert get(counter) == (b'{"n": 1}', True)
    # the same parameters in another order are the same key; others are another
    assert pcache.params_digest({"a": 1, "b": "x"}) == pcache.params_digest({"b": "x", "a": 1})
    assert get(counter, params={"p": 2}) == (b'{"n": 2}', False)
    assert counter.calls == 2


def test_the_cached_flag_is_spliced_into_the_stored_object():
    assert pcache.with_cached_flag(b'{"a":1}', True) == b'{"cached":true,"a":1}'
    assert pcache.with_cached_flag(b'{"a":1}', False) == b'{"cached":false,"a":1}'
    assert json.loads(pcache.with_cached_flag(b"{}", True)) == {"cached": True}
    with pytest.raises(ValueError):
        pcache.with_cached_flag(b"[1]", True)


def test_a_cached_response_says_hit_or_miss():
    counter = Counter()
    miss = pcache.cached_response("risk", 1, {}, counter)
    hit = pcache.cached_response("risk", 1, {}, counter)
    assert (miss["X-Cache"], json.loads(miss.content)) == ("MISS", {"cached": False, "n": 1})
    assert (hit["X-Cache"], json.loads(hit.content)) == ("HIT", {"cached": True, "n": 1})
    assert miss["Content-Type"] == "application/json"


def test_expiry(settings):
    settings.PMS_CACHE_TTL = {**settings.PMS_CACHE_TTL, "book": 1}
    counter = Counter()
    get(counter)
    assert get(counter)[1] is True
    time.sleep(1.2)
    assert get(counter) == (b'{"n": 2}', False)


def test_invalidation_by_portfolio_and_for_all():
    counter = Counter()
    for portfolio in (1, 2):
        get(counter, portfolio=portfolio)
    get(counter, namespace="risk")
    # one portfolio's book: its bodies only, not another portfolio's nor another namespace's
    pcache.invalidate(["book"], 1)
    assert get(counter, portfolio=1)[1] is False
    assert get(counter, portfolio=2)[1] is True
    assert get(counter, namespace="risk")[1] is True
    # every portfolio's (a price is not a portfolio's)
    pcache.invalidate(["book", "risk"])
    assert get(counter, portfolio=1)[1] is False
    assert get(counter, portfolio=2)[1] is False
    assert get(counter, namespace="risk")[1] is False


def test_invalidation_waits_for_the_commit_and_a_rollback_invalidates_nothing(
    db, django_capture_on_commit_callbacks
):
    counter = Counter()
    get(counter)
    redis = get_redis_connection("default")
    # Given a write transaction that invalidates many rows
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sets_before = redis.info("commandstats").get("cmdstat_set", {"calls": 0})["calls"]
        pcache.invalidate(["book"], 1)
        pcache.invalidate(["book"], 1)  # many rows, one batch
        pcache.invalidate(["book", "risk"], 1)
        sets = redis.info("commandstats")["cmdstat_set"]["calls"] - sets_before
        assert sets == 2  # book and risk renewed once each, at once
        # Then its own reads are not served the old body
        assert get(counter) == (b'{"n": 2}', False)
        # and a reader refilling before the commit (from the old rows, elsewhere) is a hit…
        assert get(counter)[1] is True
    # …until the commit: one callback for the whole transaction, and the next read misses
    assert len(callbacks) == 1
    assert get(counter) == (b'{"n": 3}', False)
    # A savepoint rolled back takes its commit-time renewal with it; a later invalidation of
    # the transaction starts a new batch
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                pcache.invalidate(["book"], 2)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        get(counter, portfolio=2)
        pcache.invalidate(["risk"], 2)
    assert len(callbacks) == 1
    assert get(counter, portfolio=2)[1] is True  # the book of 2 was not renewed at commit


def test_invalidation_is_a_constant_number_of_redis_commands_with_100000_keys():
    redis = get_redis_connection("default")
    counter = Counter()
    get(counter)

    def commands_of_one_invalidation() -> int:
        before = redis.info("commandstats")
        pcache.invalidate(["book", "risk", "attribution"], 1)
        after = redis.info("commandstats")
        return sum(
            after[name]["calls"] - before.get(name, {"calls": 0})["calls"]
            for name in after
            if name not in ("cmdstat_info",)
        )

    few = commands_of_one_invalidation()
    pipe = redis.pipeline(transaction=False)
    for i in range(100_000):
        pipe.set(f"pms:1:body:book:{i % 50}:{i}", b"x", ex=60)
    pipe.execute()
    assert redis.dbsize() >= 100_000
    many = commands_of_one_invalidation()
    # one pipelined SET per generation key (and the pipeline's MULTI/EXEC): no KEYS, no SCAN
    assert few == many <= 5
    assert get(counter)[1] is False
    # Freed in the background: a blocking FLUSHDB of 100,000 keys outlasts the client's 50 ms
    # socket timeout (the next test's cache.clear() would time out)
    redis.flushdb(asynchronous=True)


def test_a_reader_during_a_write_cannot_refill_the_old_value():
    # Given a reader that computes from the old data while a write commits and invalidates
    # (the invalidation lands between the reader's token read and its store)
    def compute_then_write_commits() -> bytes:
        pcache.invalidate(["book"], 1)  # the writer's commit, outside any transaction here
        return b'{"old": true}'

    body, hit = get(compute_then_write_commits)
    assert (body, hit) == (b'{"old": true}', False)
    # Then the old body, stored under the old tokens, is never served
    counter = Counter()
    assert get(counter) == (b'{"n": 1}', False)
    assert get(counter) == (b'{"n": 1}', True)


def test_a_warm_during_a_write_cannot_store_the_old_value(monkeypatch):
    # Given a warm (the write-through after a write) computing from the old data while another
    # write commits and invalidates
    def render_while_a_write_commits(portfolio) -> tuple[dict, bytes]:
        pcache.invalidate(["book"], 1)  # the other write's commit, outside any transaction
        return {"p": 1}, b'{"old": true}'

    monkeypatch.setitem(pcache._warmers, "book", render_while_a_write_commits)
    assert pcache.warm("book", SimpleNamespace(pk=1)) is True
    # Then the old body is not served: the next read computes the new one
    counter = Counter()
    assert get(counter) == (b'{"n": 1}', False)
    assert get(counter) == (b'{"n": 1}', True)


def test_twenty_concurrent_misses_compute_once():
    counter = Counter(delay=0.3)
    results: list[tuple[bytes, bool]] = []
    barrier = threading.Barrier(20)

    def read() -> None:
        barrier.wait()
        results.append(get(counter))

    threads = [threading.Thread(target=read) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counter.calls == 1
    assert {body for body, _ in results} == {b'{"n": 1}'}
    assert sum(hit for _, hit in results) == 19


def test_a_waiting_reader_stops_waiting_when_the_computed_body_is_already_stale(monkeypatch):
    # Given a reader computing a body while a write invalidates it (its body is stored under
    # the old tokens), and a second reader waiting for that body, willing to wait 30 s
    monkeypatch.setattr(pcache, "WAIT_SECONDS", 30.0)
    computing = threading.Event()

    def compute_while_a_write_commits() -> bytes:
        computing.set()
        time.sleep(0.3)
        pcache.invalidate(["book"], 1)  # the write's commit, outside any transaction here
        return b'{"old": true}'

    first = threading.Thread(target=get, args=(compute_while_a_write_commits,))
    first.start()
    assert computing.wait(10)
    counter = Counter()
    # When the second reader asks meanwhile
    started = time.monotonic()
    body, hit = get(counter)
    waited = time.monotonic() - started
    first.join()
    # Then it computes the fresh body itself as soon as the first reader has released its lock,
    # rather than waiting out WAIT_SECONDS for a body that is not coming
    assert (body, hit) == (b'{"n": 1}', False)
    assert counter.calls == 1
    assert waited < 10.0


def test_redis_down_answers_from_the_source_warns_once_and_resumes(settings, caplog):
    counter = Counter()
    get(counter)  # cached in the real Redis
    # Given Redis unreachable (a dead port)
    settings.CACHES = DEAD
    caplog.set_level(logging.WARNING, logger="pms_project.cache")
    started = time.monotonic()
    answers = [get(counter) for _ in range(20)]
    elapsed = time.monotonic() - started
    # Then every read is computed (never an error), quickly, with one warning for the outage
    assert [hit for _, hit in answers] == [False] * 20
    assert counter.calls == 21
    assert elapsed < 1.0
    warnings = [r for r in caplog.records if r.name == "pms_project.cache"]
    assert len(warnings) == 1 and "cache unavailable" in warnings[0].getMessage()
    # And an invalidation made meanwhile is kept, and written when Redis is back
    pcache.invalidate(["book"], 1)
    assert pcache._pending == {"gen:book:1"}
    # When Redis is back and the breaker's wait is over
    settings.CACHES = {"default": {**DEAD["default"], "LOCATION": _suite_redis()}}
    pcache.breaker.down_until = 0.0
    body, hit = get(counter)
    # Then the pending invalidation was applied first (no stale hit), and caching resumed
    assert hit is False and body == b'{"n": 22}'
    assert pcache._pending == set()
    assert get(counter) == (b'{"n": 22}', True)
    assert "cache available again" in caplog.records[-1].getMessage()


def _suite_redis() -> str:
    from django.conf import settings as django_settings

    return django_settings.REDIS_URL
