"""The read cache every cached view uses (SPEC §7): key functions, TTLs, get-or-compute, O(1)
invalidation, and the fallback to the database when Redis is down or slow.

- **What is stored** is the response body, a JSON object rendered once, as bytes; a hit answers
  those bytes with ``"cached": true`` spliced in front, without parsing or rendering again.
- **Keys** are built from the namespace (``book``, ``risk``, ``attribution``, ``briefing``), the
  resolved portfolio and the view's *normalised* parameters (what the view resolved, not the raw
  query string), so ``?portfolio=CODE`` and the default portfolio share one entry.
- **Invalidation is O(1)**: each namespace has a generation token per portfolio and one for all
  portfolios; a stored body carries the tokens it was computed under, and a read compares them in
  the same round trip (one MGET of three keys). Invalidating is one SET of a new token, whatever
  the number of cached keys: no KEYS, no SCAN. Writes invalidate in ``transaction.on_commit``,
  once per namespace and portfolio per transaction however many rows they touched.
- **Never stale after a write**: a reader reads the tokens *before* it computes, so a body
  computed from data a concurrent transaction is about to replace is stored under the old tokens
  and never served once that transaction's commit has replaced them.
- **Concurrent misses compute once**: the first takes a short lock (SET NX with an expiry) and
  computes; the others wait for its body, and compute themselves only if it never comes.
- **Redis down or slow**: every call is bounded by the client's socket timeouts (settings); a
  failure opens a breaker for ``RETRY_SECONDS`` during which requests go straight to the
  database (no timeout paid again), a warning is logged once per outage, and the next call after
  it tries Redis again, so caching resumes by itself. Invalidations that could not be written are
  retried in the background until Redis takes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, models, transaction
from django.http import HttpResponse

from . import metrics

logger = logging.getLogger(__name__)

NAMESPACES = ("book", "risk", "attribution", "briefing")
TTL_SETTING = {
    "book": "book",
    "risk": "risk",
    "attribution": "attribution",
    "briefing": "morning_pack",
}
ALL = "all"  # the generation shared by every portfolio (prices, instruments: not per portfolio)
RETRY_SECONDS = 5.0  # a failed call skips Redis this long: caching resumes within it
LOCK_SECONDS = 10  # the computing reader's lock expires even if it dies
WAIT_SECONDS = 2.0  # how long other readers wait for its body before computing themselves
POLL_SECONDS = 0.02
_stores = 0  # bodies this process has stored: see ``invalidate``


def ttl(namespace: str) -> int:
    return int(settings.PMS_CACHE_TTL[TTL_SETTING[namespace]])


# --- Keys --------------------------------------------------------------------------------------


def params_digest(params: dict) -> str:
    """A stable digest of the view's normalised parameters (dates and Decimals as strings)."""
    text = json.dumps(params, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def generation_key(namespace: str, portfolio_id: int | str) -> str:
    return f"gen:{namespace}:{portfolio_id}"


def body_key(namespace: str, portfolio_id: int, params: dict) -> str:
    return f"body:{namespace}:{portfolio_id}:{params_digest(params)}"


# --- Breaker -----------------------------------------------------------------------------------


class _Breaker:
    """Per process: after a failed Redis call, skip Redis for ``RETRY_SECONDS``."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.outage = False
        self.lock = threading.Lock()

    def is_open(self) -> bool:
        return time.monotonic() < self.down_until

    def failed(self, exc: BaseException) -> None:
        with self.lock:
            self.down_until = time.monotonic() + RETRY_SECONDS
            if not self.outage:
                self.outage = True
                logger.warning(
                    "cache unavailable (%s: %s): serving from the database; retrying every %.0f s",
                    type(exc).__name__,
                    exc,
                    RETRY_SECONDS,
                )

    def succeeded(self) -> None:
        if self.outage:
            with self.lock:
                if self.outage:
                    self.outage = False
                    logger.warning("cache available again: caching resumed")


breaker = _Breaker()


FAILED = object()  # what ``_call`` answers when Redis failed


def _call(fn: Callable, *args, **kwargs):
    """A cache call's result, or ``FAILED`` when Redis fails (the breaker opens); never raises."""
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:  # redis' ConnectionError, TimeoutError, …: the cache is optional
        breaker.failed(exc)
        return FAILED
    breaker.succeeded()
    return result


# --- Reads ---------------------------------------------------------------------------------------


def _tokens(found: dict, namespace: str, portfolio_id: int) -> tuple:
    return (
        found.get(generation_key(namespace, ALL)),
        found.get(generation_key(namespace, portfolio_id)),
    )


def get_or_compute(
    namespace: str, portfolio_id: int, params: dict, compute: Callable[[], bytes]
) -> tuple[bytes, bool]:
    """(body, hit): the stored body of these parameters when its generation tokens are current,
    else ``compute()`` stored under the tokens read before computing. Counted as a hit or a
    miss of ``namespace`` (``/metrics``)."""
    body, hit = _get_or_compute(namespace, portfolio_id, params, compute)
    metrics.cache_counted(namespace, hit)
    return body, hit


def _get_or_compute(
    namespace: str, portfolio_id: int, params: dict, compute: Callable[[], bytes]
) -> tuple[bytes, bool]:
    if breaker.is_open() or not _pending_written():
        return compute(), False
    key = body_key(namespace, portfolio_id, params)
    keys = [generation_key(namespace, ALL), generation_key(namespace, portfolio_id), key]
    found = _call(cache.get_many, keys)
    if found is FAILED:
        return compute(), False
    tokens = _tokens(found, namespace, portfolio_id)
    stored = found.get(key)
    if stored is not None and stored[0] == tokens:
        return stored[1], True
    lock = f"lock:{key}"
    if _call(cache.add, lock, 1, LOCK_SECONDS) is True:
        try:
            body = compute()
            _stored()
            _call(cache.set, key, (tokens, body), ttl(namespace))
            return body, False
        finally:
            _call(cache.delete, lock)
    # Another reader computes this body: wait for it rather than compute it twice. Its lock
    # is read with the body: once the lock is gone and the body is still not current (a write
    # renewed the tokens while it computed), no body is coming, and waiting on would cost every
    # such reader the whole WAIT_SECONDS.
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline and not breaker.is_open():
        time.sleep(POLL_SECONDS)
        found = _call(cache.get_many, [*keys, lock])
        if found is FAILED:
            break
        stored = found.get(key)
        if stored is not None and stored[0] == _tokens(found, namespace, portfolio_id):
            return stored[1], True
        if lock not in found:
            break
    return compute(), False


def current_tokens(namespace: str, portfolio_id: int) -> tuple | None:
    """The generation tokens a body computed from now on is stored under (None: Redis is not
    available). Read them *before* computing: a write that commits during the computation then
    renews them, and the body is never served."""
    if breaker.is_open() or not _pending_written():
        return None
    found = _call(
        cache.get_many, [generation_key(namespace, ALL), generation_key(namespace, portfolio_id)]
    )
    return None if found is FAILED else _tokens(found, namespace, portfolio_id)


def store(namespace: str, portfolio_id: int, params: dict, body: bytes, tokens: tuple) -> None:
    """Write-through: store a body computed from committed data under ``tokens``, the ones
    ``current_tokens`` read before the computation began (reading them after it would store a
    body made stale by a write committed meanwhile under that write's new tokens)."""
    if breaker.is_open():
        return
    _stored()
    _call(cache.set, body_key(namespace, portfolio_id, params), (tokens, body), ttl(namespace))


def _stored() -> None:
    global _stores
    _stores += 1


def with_cached_flag(body: bytes, hit: bool) -> bytes:
    """``{"cached": true|false, …}``: the flag spliced in front of the stored JSON object."""
    if not body.startswith(b"{"):
        raise ValueError("a cached body is a JSON object")
    flag = b'{"cached":true' if hit else b'{"cached":false'
    return flag + (b"," + body[1:] if body.strip() != b"{}" else b"}")


def cached_response(
    namespace: str, portfolio_id: int, params: dict, compute: Callable[[], bytes]
) -> HttpResponse:
    """The JSON response of a cached GET: the body with its ``cached`` flag, ``X-Cache``.

    Call it from the view's handler, after DRF authenticated the user and checked permissions
    (``APIView.initial``): a refused request never reaches the cache, and only a computed 200 is
    stored (``compute`` raises for anything else)."""
    body, hit = get_or_compute(namespace, portfolio_id, params, compute)
    return json_response(body, hit)


def json_response(body: bytes, hit: bool) -> HttpResponse:
    """A stored (or just computed) body as a cached GET answers it."""
    response = HttpResponse(with_cached_flag(body, hit), content_type="application/json")
    response["X-Cache"] = "HIT" if hit else "MISS"
    return response


# --- Invalidation --------------------------------------------------------------------------------

_pending: set[str] = set()  # generation keys whose new token Redis has not taken yet
_pending_lock = threading.Lock()
_retrier: threading.Timer | None = None


def _renew(keys: Iterable[str]) -> None:
    """A new token for each generation key: one SET each, pipelined in one round trip."""
    keys = sorted(set(keys))
    if not keys:
        return
    tokens = {k: secrets.token_hex(8) for k in keys}
    if breaker.is_open() or _call(cache.set_many, tokens, None) is FAILED:
        with _pending_lock:
            _pending.update(keys)
        _schedule_retry()


def _schedule_retry() -> None:
    global _retrier
    with _pending_lock:
        if _retrier is not None and _retrier.is_alive():
            return
        _retrier = threading.Timer(1.0, _retry_pending_or_reschedule)
        _retrier.daemon = True
        _retrier.start()


def _retry_pending() -> None:
    # Under the lock: no reader of this process sees the pending set empty before Redis has the
    # new tokens (the write is bounded by the socket timeout).
    with _pending_lock:
        if not _pending:
            return
        try:
            cache.set_many({k: secrets.token_hex(8) for k in _pending}, None)
        except Exception:
            return
        _pending.clear()


def _pending_written() -> bool:
    """Before this process reads the cache again after an outage: the invalidations it could
    not write are written first, or the cache is not read (a stale body could be served)."""
    if _pending:
        _retry_pending()
    return not _pending


def _retry_pending_or_reschedule() -> None:
    global _retrier
    _retry_pending()
    with _pending_lock:
        _retrier = None
        again = bool(_pending)
    if again:
        _schedule_retry()


class _Batch:
    """The generation keys a transaction invalidates, renewed once when it commits."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.renewed_at: dict[str, int] = {}  # key → the store count when renewed at once
        self.done = False

    def flush(self) -> None:
        self.done = True
        _renew(self.keys)


def invalidate(namespaces: Iterable[str], portfolio_id: int | None = None) -> None:
    """Make every cached body of ``namespaces`` for ``portfolio_id`` (None: every portfolio)
    stale: at once, and again when the current transaction commits (so that nothing computed
    before the commit from the old rows survives it). Twice per transaction at most, however many
    rows it wrote; O(1) in the number of cached keys."""
    keys = {generation_key(ns, ALL if portfolio_id is None else portfolio_id) for ns in namespaces}
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        _renew(keys)
        return
    batch: _Batch | None = getattr(connection, "_pms_cache_batch", None)
    registered = batch is not None and any(
        callback == batch.flush for _, callback, _ in connection.run_on_commit
    )
    if batch is None or batch.done or not registered:
        # The first invalidation of this transaction (or the batch of a rolled-back savepoint).
        batch = _Batch()
        connection._pms_cache_batch = batch
        transaction.on_commit(batch.flush)
    batch.keys.update(keys)
    # At once too: this transaction's own later reads (a request that writes then reads, every
    # test inside its rolled-back transaction) must not be served what it just changed. Once per
    # key until this process stores a body again, so that rows saved one by one renew once. A
    # reader elsewhere may refill the old data before the commit: the commit's renewal drops it.
    due = {k for k in keys if batch.renewed_at.get(k) != _stores}
    batch.renewed_at.update(dict.fromkeys(due, _stores))
    _renew(due)


# --- What invalidates what ------------------------------------------------------------------------

# SPEC §7: a price, execution, position or snapshot change → that portfolio's book, live risk and
# every attribution period; a morning pack → the briefing; a limit → the risk.
MARKET = ("book", "risk", "attribution")
# Generations of no stored body, checked by the hit path (``cache_hits``): who may read (tokens,
# users, groups) and what a request's portfolio resolves to (any portfolio change).
AUTH = "auth"
ROUTES = "routes"


class InvalidatingQuerySet(models.QuerySet):
    """``update()``, ``bulk_update()`` and ``bulk_create()`` send no model signal: they
    invalidate the model's ``cache_namespaces`` for every portfolio, once per call (on commit).
    Row by row saves and deletes invalidate through the apps' signal receivers."""

    def _invalidate(self) -> None:
        invalidate(self.model.cache_namespaces)  # every portfolio: no row is read

    def update(self, **kwargs):
        count = super().update(**kwargs)
        self._invalidate()
        return count

    def bulk_update(self, objs, fields, batch_size=None):
        count = super().bulk_update(objs, fields, batch_size=batch_size)
        self._invalidate()
        return count

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        self._invalidate()
        return created

    def delete(self):
        result = super().delete()
        self._invalidate()
        return result


def connect_invalidation(model) -> None:
    """Connect post_save and post_delete of ``model`` to the invalidation of its
    ``cache_namespaces`` for the instance's portfolio (``portfolio_id``; every portfolio for a
    row that belongs to none, a price or an instrument). The apps call it in ``ready()``."""
    from django.db.models.signals import post_delete, post_save

    namespaces = tuple(model.cache_namespaces)

    def receiver(sender, instance, **kwargs):
        invalidate(namespaces, getattr(instance, "portfolio_id", None))

    receiver.__name__ = f"invalidate_{model.__name__.lower()}"
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=receiver.__name__)
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"{receiver.__name__}_d")


# --- Warming --------------------------------------------------------------------------------------

# namespace → function(portfolio) → (params, body): the body a GET with those parameters answers.
_warmers: dict[str, Callable] = {}


def register_warmer(namespace: str, render: Callable) -> None:
    _warmers[namespace] = render


def warm(namespace: str, portfolio) -> bool:
    """Compute and store one namespace's default body for ``portfolio``; False when it cannot be
    computed now (say, nothing marked yet) or the cache is unavailable."""
    from pms_project.errors import PMSError

    tokens = current_tokens(namespace, portfolio.pk)
    if tokens is None:
        return False  # no cache to warm now
    try:
        params, body = _warmers[namespace](portfolio)
    except PMSError:
        return False
    store(namespace, portfolio.pk, params, body, tokens)
    return True


def cache_warm(portfolio) -> dict[str, bool]:
    """After a pipeline step has persisted: the default views of ``portfolio`` computed and
    stored, so the desk's first reads are hits."""
    return {namespace: warm(namespace, portfolio) for namespace in _warmers}


class WriteThroughMiddleware:
    """After a successful write to the book's API (``/api/portfolio/``, ``/api/trades/``): the
    book of the portfolio written to is computed again and stored, so the next GET is a hit with
    fresh data. The write's transaction has committed (and invalidated) by then."""

    PREFIXES = ("/api/portfolio/", "/api/trades/")

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.method in ("POST", "PUT", "PATCH", "DELETE")
            and 200 <= response.status_code < 300
            and request.path.startswith(self.PREFIXES)
            and "book" in _warmers
        ):
            from pms_project.errors import PMSError
            from portfolio import selectors

            try:
                portfolio = selectors.portfolio_get(
                    request.GET.get("portfolio") or None, getattr(request, "user", None)
                )
                warm("book", portfolio)
            except PMSError:
                pass
            except DatabaseError as exc:
                # The write has committed: a lost connection while warming must not answer it
                # 500 (a client would retry, and record it twice). The book stays invalidated.
                logger.warning("write-through skipped (%s: %s)", type(exc).__name__, exc)
        return response
