"""The cache under concurrency, with real transactions (each thread its own database connection):
twenty simultaneous misses compute the book once, and readers hammering the book while a write's
commit is delayed never see the old book once the commit is a second old (SPEC §7)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connections, transaction
from django.test import Client

from pms_project import cache as pcache
from portfolio import services
from portfolio.api import views as portfolio_views
from portfolio.tests.api_support import WED, open_book
from portfolio.tests.factories import PortfolioFactory, UserFactory

BOOK = "/api/portfolio/book/"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk():
    cache.clear()
    pcache.breaker.down_until = 0.0
    portfolio = PortfolioFactory()
    open_book(portfolio)
    return portfolio, UserFactory(username="root9", is_superuser=True, is_staff=True)


def in_threads(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; their results, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_concurrent_misses_compute_the_book_once(desk, monkeypatch):
    _, user = desk
    calls = []
    real = portfolio_views.book_json

    def counted(p):
        calls.append(1)
        time.sleep(0.2)  # a slow book: the others arrive while it is computed
        return real(p)

    monkeypatch.setattr(portfolio_views, "book_json", counted)

    def read(_: int):
        client = Client()
        client.force_login(user)
        response = client.get(BOOK)
        return response.status_code, response["X-Cache"], response.json()["nav"]

    results = in_threads(20, read)
    assert {status for status, _, _ in results} == {200}
    assert len({nav for _, _, nav in results}) == 1
    assert len(calls) <= 2
    assert sum(state == "HIT" for _, state, _ in results) >= 18


def test_no_stale_read_a_second_after_a_delayed_commit(desk):
    portfolio, user = desk
    reader = Client()
    reader.force_login(user)
    assert reader.get(BOOK)["X-Cache"] == "MISS"
    assert reader.get(BOOK)["X-Cache"] == "HIT"
    stop = threading.Event()

    def hammer(_: int) -> int:
        client = Client()
        client.force_login(user)
        reads = 0
        while not stop.is_set():
            assert client.get(BOOK).status_code == 200
            reads += 1
        return reads

    readers = threading.Thread(target=lambda: in_threads(20, hammer))
    readers.start()
    try:
        # A write (one more ES) whose commit is held for a second while the readers read, and
        # refill the cache with the book they see: the one before the write
        with transaction.atomic():
            services.position_open(
                portfolio=portfolio,
                symbol="ES",
                quantity=Decimal(1),
                price=Decimal("5020.5"),
                trade_date=WED,
            )
            time.sleep(1.0)
        committed = time.monotonic()
        time.sleep(1.0)
        # A second after the commit, whatever the readers cached meanwhile: the new book
        while time.monotonic() - committed < 1.5:
            body = reader.get(BOOK).json()
            es = [row["quantity"] for row in body["positions"] if row["symbol"] == "ES"]
            assert es == ["3.00000000"], body["positions"]
    finally:
        stop.set()
        readers.join()
