"""The cached GETs against the real Redis of the suite (SPEC §7): a miss then a hit, one entry for
the default and the named portfolio, every write path makes the next GET fresh, bulk writes
invalidate once, authentication and permissions run before the cache, and Redis down answers
from the database."""

from __future__ import annotations

import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import OperationalError
from django.test import override_settings
from django_redis import get_redis_connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pms_project import cache as pcache
from portfolio import services
from portfolio.book_json import book_json
from portfolio.models import Price
from portfolio.tasks import ingest_prices
from portfolio.tests.api_support import WED
from portfolio.tests.factories import UserFactory
from risk.models import RiskLimit
from tests.redis_server import RedisServer

from .test_cache import DEAD

BOOK = "/api/portfolio/book/"
RISK = "/api/risk/live/"


@pytest.fixture(autouse=True)
def clean():
    cache.clear()
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False
    pcache._pending.clear()


def read(client: APIClient, path: str) -> tuple[str, dict]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body.pop("cached") is (response["X-Cache"] == "HIT")
    return response["X-Cache"], body


def fresh_book(portfolio) -> dict:
    """The book computed now, without the cache."""
    return json.loads(book_json(portfolio))


def es_price(body: dict) -> str:
    return next(row["price"] for row in body["positions"] if row["symbol"] == "ES")


def test_miss_then_hit_one_entry_for_the_default_and_the_named_portfolio(
    viewer_client, portfolio, book
):
    miss, first = read(viewer_client, BOOK)
    hit, second = read(viewer_client, f"{BOOK}?portfolio={portfolio.code}")
    assert (miss, hit) == ("MISS", "HIT")
    assert first == second == fresh_book(portfolio)
    # and the live risk likewise
    assert read(viewer_client, RISK)[0] == "MISS"
    assert read(viewer_client, RISK)[0] == "HIT"


# Each write path of SPEC §7, then the book read again: (what it does, the ES price expected).
def _api_intraday_mark(trader_client, portfolio):
    response = trader_client.post(
        "/api/portfolio/prices/update/", {"symbol": "ES", "price": "5100"}, format="json"
    )
    assert response.status_code == 200, response.content


def _api_open(trader_client, portfolio):
    response = trader_client.post(
        "/api/portfolio/positions/open/",
        {"symbol": "ES", "quantity": "1", "price": "5020.5", "trade_date": "2024-03-06"},
        format="json",
    )
    assert response.status_code == 201, response.content


def _command_import(trader_client, portfolio):
    with tempfile.NamedTemporaryFile("w", suffix=".csv") as f:
        f.write("date,symbol,close\n2024-03-07,ES,5090\n2024-03-07,FGBL,133\n")
        f.write("2024-03-07,EURUSD,1.09\n")
        f.flush()
        call_command("import_prices", f.name)


def _ingest_task(trader_client, portfolio):
    with (
        tempfile.TemporaryDirectory() as folder,
        override_settings(PMS_PRICE_DROP_DIR=Path(folder), PMS_PRICE_DROP_SETTLE_SECONDS=0),
    ):
        (Path(folder) / "eod.csv").write_text(
            "date,symbol,close\n2024-03-07,ES,5095\n", encoding="utf-8"
        )
        assert [f["closes"] for f in ingest_prices.apply().get()["imported"]] == [1]


def _queryset_update(trader_client, portfolio):
    assert Price.objects.filter(instrument__symbol="ES", date=WED).update(close=Decimal(5080)) == 1


def _bulk_update(trader_client, portfolio):
    prices = list(Price.objects.filter(instrument__symbol="ES", date=WED))
    for price in prices:
        price.close = Decimal(5070)
    Price.objects.bulk_update(prices, ["close"])


@pytest.mark.parametrize(
    ("write", "es"),
    [
        (_api_intraday_mark, "5100.0000000000"),
        (_api_open, "5020.5000000000"),
        (_command_import, "5090.0000000000"),
        (_ingest_task, "5095.0000000000"),
        (_queryset_update, "5080.0000000000"),
        (_bulk_update, "5070.0000000000"),
    ],
    ids=[
        "api-intraday-mark",
        "api-open",
        "command-import-prices",
        "ingest-task",
        "update",
        "bulk-update",
    ],
)
def test_every_write_path_makes_the_next_get_fresh(
    viewer_client, trader_client, portfolio, book, write, es
):
    # Given the book cached
    read(viewer_client, BOOK)
    _, before = read(viewer_client, BOOK)
    # When it is written to
    write(trader_client, portfolio)
    # Then the next read is the book as it is now, never the cached one
    _, after = read(viewer_client, BOOK)
    assert after == fresh_book(portfolio)
    assert es_price(after) == es
    assert after != before


def test_a_write_through_the_api_leaves_the_fresh_book_cached(viewer_client, trader_client, book):
    read(viewer_client, BOOK)
    _api_open(trader_client, None)
    state, body = read(viewer_client, BOOK)
    # the write's own request stored the new book: a hit, with the third position's quantity
    assert state == "HIT"
    es = [row for row in body["positions"] if row["symbol"] == "ES"]
    assert [row["quantity"] for row in es] == ["3.00000000"]


def test_a_committed_write_answers_201_when_the_write_through_loses_the_database(
    viewer_client, trader_client, book, monkeypatch
):
    # Given the write-through's book computation failing on the database (a killed connection)
    def lost_connection(portfolio):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setitem(pcache._warmers, "book", lost_connection)
    # When a trader opens a position
    _api_open(trader_client, None)  # Then the committed write answers 201, not 500
    monkeypatch.undo()
    # And the next read shows it (the book was invalidated, the warm only skipped)
    state, body = read(viewer_client, BOOK)
    assert state == "MISS"
    assert [row["quantity"] for row in body["positions"] if row["symbol"] == "ES"] == ["3.00000000"]


def test_an_admin_edit_of_a_limit_makes_the_risk_fresh(
    viewer_client, admin_client, portfolio, book
):
    limit = RiskLimit.objects.create(
        portfolio=portfolio, metric="gross_leverage", soft=Decimal(2), hard=Decimal(3)
    )
    read(viewer_client, RISK)
    assert read(viewer_client, RISK)[0] == "HIT"
    response = admin_client.post(
        f"/admin/risk/risklimit/{limit.id}/change/",
        {"portfolio": portfolio.id, "metric": "gross_leverage", "soft": "4", "hard": "5"},
    )
    assert response.status_code == 302
    state, body = read(viewer_client, RISK)
    assert state == "MISS"
    assert [(row["soft"], row["hard"]) for row in body["limits"]] == [("4.000000", "5.000000")]


def test_a_bulk_load_invalidates_once_whatever_its_size(portfolio, book):
    redis = get_redis_connection("default")

    def sets_of_load(days: int) -> int:
        pcache._stored()  # a body stored since the last write (a reader came by): renewal due
        before = redis.info("commandstats").get("cmdstat_set", {"calls": 0})["calls"]
        services.prices_load(
            services.PriceRow("ES", WED.replace(day=6 + d), Decimal(5000 + d))
            for d in range(1, days + 1)
            if WED.replace(day=6 + d).weekday() < 5
        )
        return redis.info("commandstats")["cmdstat_set"]["calls"] - before

    # one SET per namespace (book, risk, attribution, for every portfolio), not one per row
    assert sets_of_load(2) == sets_of_load(20) == 3


def test_authentication_and_permissions_run_before_the_cache(portfolio, book):
    viewer = UserFactory(username="viewer9", groups=["viewer"])
    token = Token.objects.create(user=viewer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(BOOK).status_code == 200
    assert client.get(BOOK)["X-Cache"] == "HIT"
    # A user who lost their role is refused at once, not after the TTL
    viewer.groups.clear()
    refused = client.get(BOOK)
    assert refused.status_code == 403 and "X-Cache" not in refused
    # A revoked token too
    token.delete()
    assert client.get(BOOK).status_code == 401
    # and an anonymous request never reaches the cache
    assert APIClient().get(BOOK).status_code == 401


def test_redis_down_answers_from_the_database(settings, viewer_client, portfolio, book):
    settings.CACHES = DEAD
    for _ in range(3):
        state, body = read(viewer_client, BOOK)
        assert state == "MISS"
        assert body == fresh_book(portfolio)
    assert read(viewer_client, RISK)[0] == "MISS"


def test_redis_paused_answers_within_200_ms_and_caching_resumes(
    settings, monkeypatch, viewer_client, portfolio, book
):
    monkeypatch.setattr(pcache, "RETRY_SECONDS", 0.5)  # the breaker's wait, shortened for the test
    with RedisServer() as own:  # paused below: never the machine's Redis, which others share
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": own.url}}
        read(viewer_client, BOOK)
        assert read(viewer_client, BOOK)[0] == "HIT"
        # Given Redis paused (SIGSTOP): it accepts connections but answers nothing
        own.pause()
        seconds = []
        try:
            for _ in range(20):
                started = time.perf_counter()
                state, body = read(viewer_client, BOOK)
                seconds.append(time.perf_counter() - started)
                assert state == "MISS"
                assert body == fresh_book(portfolio)
        finally:
            own.resume()
        # Then every read answered from the database, the slowest few within 200 ms
        p95 = sorted(seconds)[int(0.95 * len(seconds)) - 1]
        assert p95 < 0.2, seconds
        # And once Redis answers and the breaker's wait is over, reads are hits again
        time.sleep(0.6)
        assert read(viewer_client, BOOK)[0] == "HIT"


def test_cache_warm_stores_every_default_view(viewer_client, portfolio, book):
    # Given a marked book with a morning pack (what the pipelines persist)
    from briefing import services as briefing_services
    from portfolio.tests.api_support import MON, THU

    services.mark_to_market_range(portfolio=portfolio, start=MON, end=WED)
    briefing_services.morning_pack_generate(portfolio=portfolio, business_date=THU)
    cache.clear()
    # When the caches are warmed
    warmed = pcache.cache_warm(portfolio)
    # Then every namespace was stored, and the desk's first reads are hits
    assert warmed == {"book": True, "risk": True, "attribution": True, "briefing": True}
    for path in (BOOK, RISK, "/api/attribution/", "/api/briefing/latest/"):
        state, _ = read(viewer_client, path)
        assert state == "HIT", path


def test_cache_warm_skips_what_cannot_be_computed_yet(portfolio):
    # A portfolio with nothing marked: no attribution, no pack — warmed as far as it goes
    warmed = pcache.cache_warm(portfolio)
    assert warmed["attribution"] is False and warmed["briefing"] is False
    assert warmed["book"] is True
