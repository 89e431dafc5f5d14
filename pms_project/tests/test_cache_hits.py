"""The hit path of the cached GETs (``pms_project.cache_hits``) against the real Redis of the
suite: a remembered token on a remembered route is answered with no SQL, exactly as DRF answers
a hit; anything that changes who may read or what a request resolves to sends the next request
through DRF again, at once."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pms_project import cache as pcache
from pms_project import cache_hits
from portfolio.models import Portfolio
from portfolio.tests.factories import PortfolioFactory, UserFactory

BOOK = "/api/portfolio/book/"


@pytest.fixture(autouse=True)
def clean():
    cache.clear()
    cache_hits.forget()
    pcache.breaker.down_until = 0.0
    pcache.breaker.outage = False
    pcache._pending.clear()


def token_client(groups=("viewer",)) -> tuple[APIClient, Token]:
    user = UserFactory(groups=list(groups))
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client, token


def hit_without_sql(client, path, django_assert_num_queries):
    """A GET answered by the hit path: a 200 HIT that ran no SQL at all."""
    with django_assert_num_queries(0):
        response = client.get(path)
    assert response.status_code == 200 and response["X-Cache"] == "HIT", response.content
    return response


@pytest.fixture
def marked(portfolio, book):
    """A book marked Monday to Wednesday with Thursday's morning pack: every cached view has a
    body."""
    from briefing import services as briefing_services
    from portfolio import services
    from portfolio.tests.api_support import MON, THU, WED

    services.mark_to_market_range(portfolio=portfolio, start=MON, end=WED)
    briefing_services.morning_pack_generate(portfolio=portfolio, business_date=THU)
    return portfolio


def test_every_cached_view_hits_without_sql_as_drf_answers_a_hit(marked, django_assert_num_queries):
    client, _ = token_client()
    paths = [
        BOOK,
        f"{BOOK}?portfolio={marked.code}",
        "/api/risk/live/",
        "/api/attribution/",
        "/api/attribution/?period=YTD&by=instrument",
        "/api/attribution/series/",
        "/api/briefing/latest/",
        "/api/briefing/2024-03-07/",
    ]
    for path in paths:
        assert client.get(path).status_code == 200, path  # through DRF: remembered
        fast = hit_without_sql(client, path, django_assert_num_queries)
        # The same request through DRF (nothing remembered): the same bytes and headers
        cache_hits.forget()
        slow = client.get(path)
        assert slow["X-Cache"] == "HIT", path
        assert fast.content == slow.content, path
        assert dict(fast.headers) == dict(slow.headers), path
        assert fast.content.startswith(b'{"cached":true,'), path


def test_a_revoked_token_is_refused_at_once(book, django_assert_num_queries):
    client, token = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    token.delete()
    assert client.get(BOOK).status_code == 401


@pytest.mark.parametrize(
    "revoke",
    [
        lambda user: user.groups.clear(),
        lambda user: Group.objects.get(name="viewer").user_set.remove(user),
        lambda user: Group.objects.filter(name="viewer").delete(),
    ],
    ids=["groups-cleared", "removed-from-the-group", "group-deleted"],
)
def test_a_lost_role_is_refused_at_once(book, django_assert_num_queries, revoke):
    client, token = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    revoke(token.user)
    refused = client.get(BOOK)
    assert refused.status_code == 403 and "X-Cache" not in refused


def test_a_deactivated_user_is_refused_at_once(book, django_assert_num_queries):
    client, token = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    token.user.is_active = False
    token.user.save()
    assert client.get(BOOK).status_code == 401


def test_a_login_elsewhere_keeps_the_remembered_tokens(book, django_assert_num_queries):
    other = UserFactory(groups=["viewer"])
    client, _ = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    other.last_login = timezone.now()
    other.save(update_fields=["last_login"])  # what django.contrib.auth does on a login
    hit_without_sql(client, BOOK, django_assert_num_queries)


@pytest.mark.parametrize("path", [BOOK, "/api/briefing/latest/"])
def test_a_new_portfolio_ends_the_default_route(marked, django_assert_num_queries, path):
    client, _ = token_client()
    client.get(path)
    hit_without_sql(client, path, django_assert_num_queries)
    # A new portfolio changes no pack (the briefing's body stays current), but with two
    # portfolios no parameter is ambiguous: a 400, not the first portfolio's answer
    PortfolioFactory(code="SECOND")
    ambiguous = client.get(path)
    assert ambiguous.status_code == 400 and "portfolio" in ambiguous.json()


def test_a_renamed_portfolio_ends_its_route(portfolio, book, django_assert_num_queries):
    client, _ = token_client()
    path = f"{BOOK}?portfolio={portfolio.code}"
    client.get(path)
    hit_without_sql(client, path, django_assert_num_queries)
    Portfolio.objects.filter(pk=portfolio.pk).update(code="RENAMED")  # a bulk write too
    assert client.get(path).status_code in (400, 404)
    assert client.get(f"{BOOK}?portfolio=RENAMED").status_code == 200


def test_a_flushed_redis_never_revives_a_revoked_token(book, django_assert_num_queries):
    client, token = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    cache.clear()  # Redis restarted empty: every generation gone
    assert client.get(BOOK)["X-Cache"] == "MISS"  # through DRF, generations set again
    hit_without_sql(client, BOOK, django_assert_num_queries)
    token.delete()
    assert client.get(BOOK).status_code == 401


def test_a_stale_body_and_an_unseen_query_go_through_the_view(
    portfolio, book, trader_client, django_assert_num_queries
):
    client, _ = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    response = trader_client.post(
        "/api/portfolio/prices/update/", {"symbol": "ES", "price": "5100"}, format="json"
    )
    assert response.status_code == 200
    # The write made the body stale (write-through stored a new one under its key): DRF's path
    fresh = client.get(BOOK)
    assert fresh["X-Cache"] == "HIT"
    assert any(row["price"] == "5100.0000000000" for row in fresh.json()["positions"])
    hit_without_sql(client, BOOK, django_assert_num_queries)
    # A query string the view never answered is the view's to refuse
    assert client.get(f"{BOOK}?portfolio=NOPE").status_code in (400, 404)


def test_session_logins_and_other_methods_go_through_the_view(
    book, django_assert_num_queries, django_user_model
):
    client, token = token_client()
    client.get(BOOK)
    hit_without_sql(client, BOOK, django_assert_num_queries)
    session = APIClient()
    session.force_login(token.user)
    assert session.get(BOOK)["X-Cache"] == "HIT"
    assert client.head(BOOK).status_code == 200
    assert client.post(BOOK).status_code == 403  # a viewer may not write: not a cached answer


# --- Per-portfolio grants on the hit path ---------------------------------------------------------


@pytest.fixture
def two_books(book, portfolio):
    """MACRO1 (the shared book) and MACRO2 (long 1 ES), both with a cached book body."""
    from portfolio.tests.api_support import open_position

    other = PortfolioFactory(code="MACRO2")
    open_position(other, "ES", "1", "5000")
    return portfolio, other


def test_a_restricted_token_never_gets_another_portfolios_cached_body(
    two_books, django_assert_num_queries
):
    """Given an unrestricted viewer who made MACRO2's route and body hot, and a viewer granted
    only MACRO1 whose token is remembered; when that viewer asks for MACRO2's book, then 403."""
    from portfolio.models import PortfolioGrant

    mine, theirs = two_books
    everyone, _ = token_client()
    path = f"{BOOK}?portfolio={theirs.code}"
    assert everyone.get(path).status_code == 200
    hit_without_sql(everyone, path, django_assert_num_queries)
    restricted, token = token_client()
    PortfolioGrant.objects.create(user=token.user, portfolio=mine)
    assert restricted.get(f"{BOOK}?portfolio={mine.code}").status_code == 200
    hit_without_sql(restricted, f"{BOOK}?portfolio={mine.code}", django_assert_num_queries)
    for _ in range(2):
        refused = restricted.get(path)
        assert refused.status_code == 403, refused.content
        assert list(refused.json()) == ["portfolio"] and "X-Cache" not in refused
    # With no code, "the only portfolio" is the one granted: MACRO1's body, never MACRO2's.
    assert restricted.get(BOOK).json()["portfolio"] == mine.code
    hit_without_sql(restricted, BOOK, django_assert_num_queries)
    assert everyone.get(BOOK).status_code == 400  # two portfolios: name one


def test_a_new_grant_narrows_a_remembered_token_at_once(two_books, django_assert_num_queries):
    """Given a viewer with no grant whose MACRO2 book is a hit; when they are granted MACRO1
    only, then their next MACRO2 request is refused (the grant renewed ``auth``)."""
    from portfolio import services

    mine, theirs = two_books
    client, token = token_client()
    path = f"{BOOK}?portfolio={theirs.code}"
    assert client.get(path).status_code == 200
    hit_without_sql(client, path, django_assert_num_queries)
    services.grants_add(user=token.user, portfolios=[mine])
    assert client.get(path).status_code == 403
    services.grants_revoke(user=token.user, portfolios=[mine])
    assert client.get(path).status_code == 200  # no grant left: every portfolio again
