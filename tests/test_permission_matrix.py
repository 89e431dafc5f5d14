"""The permission matrix (issue 13): every URL pattern × every method its view allows × every
desk role answers what ``tests/permission_table.py`` says, and a refused write writes nothing.

- The URL resolver and the views' allowed methods are enumerated: a (pattern, method) with no
  row in the table fails, so a new endpoint cannot ship without one; a row whose route is gone
  fails too.
- Each row is sent once per role, each request in a transaction rolled back afterwards, so every
  role meets the same data (the same pending proposal, the same limit).
- A method no row lists is refused (405 for a superuser, never a 2xx for anyone).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from pms_project import cache_hits
from portfolio.tests.fixtures import module_data

from .permission_table import ANON, ROLES, SUPER, TABLE

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _pattern(text: str) -> str:
    """``^positions/(?P<pk>[0-9]{1,18})/$`` and ``<str:day>/`` → ``positions/<pk>/``, ``<day>/``."""
    import re

    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text)
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", text)
    return text.replace("^", "").replace("$", "")


def routes() -> dict[str, object]:
    """Every URL pattern (the admin as one page, ``admin/``) → its view callback."""
    found: dict[str, object] = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            text = _pattern(str(entry.pattern))
            if isinstance(entry, URLResolver):
                if text == "admin/":
                    found["admin/"] = None
                else:
                    walk(entry.url_patterns, prefix + text)
            elif isinstance(entry, URLPattern):
                found[prefix + text] = entry.callback

    walk(get_resolver().url_patterns, "")
    # DRF's format-suffix twins (``\.(?P<format>…)``) are the same views
    return {k: v for k, v in found.items() if "<format>" not in k}


def allowed_methods(callback) -> set[str] | None:
    """The methods a class-based view answers (DRF viewsets: their actions); None for a plain
    function, whose methods the table alone declares."""
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions} & set(METHODS)
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return None
    return {m.upper() for m in view_class.http_method_names if hasattr(view_class, m)} & set(
        METHODS
    )


def test_every_route_and_method_has_a_row():
    """Given the URL resolver; then each class-based view's methods have a row, each function
    view has at least one, and every row names a route that exists."""
    found = routes()
    missing = []
    for pattern, callback in found.items():
        methods = allowed_methods(callback) if callback is not None else {"GET"}
        if methods is None:
            if not any(p == pattern for p, _ in TABLE):
                missing.append((pattern, "any method"))
            continue
        missing += [(pattern, m) for m in sorted(methods) if (pattern, m) not in TABLE]
    assert not missing, f"no row in tests/permission_table.py for {missing}"
    stale = sorted({p for p, _ in TABLE} - set(found))
    assert not stale, f"rows for routes that no longer exist: {stale}"
    declared = {
        (p, m)
        for p, callback in found.items()
        if callback is not None and (methods := allowed_methods(callback)) is not None
        for m in methods
    }
    extra = [
        (p, m)
        for p, m in TABLE
        if found.get(p) is not None and allowed_methods(found[p]) and (p, m) not in declared
    ]
    assert not extra, f"rows for methods the views do not allow: {extra}"
    assert len(TABLE) >= 60


@pytest.fixture(autouse=True)
def _no_login_throttle(settings):
    """The login rows post wrong passwords from one address for six roles: more than the login
    throttle's five a minute (pms_project/tests/test_throttling.py tests the throttle itself)."""
    settings.PMS_LOGIN_ATTEMPTS_PER_MINUTE = 1000


# --- The data every row runs against --------------------------------------------------------------


@pytest.fixture(scope="module")
def desk(django_db_setup, django_db_blocker):
    """A book marked Monday to Wednesday (ES, FGBL), Thursday's morning pack, a VaR limit, a
    pending proposal of another trader, and one user per role."""
    from briefing import services as briefing_services
    from portfolio import services
    from portfolio.tests.api_support import MON, THU, WED, open_book
    from portfolio.tests.factories import PortfolioFactory, StrategyFactory, UserFactory
    from risk import services as risk_services
    from trades import services as trades_services
    from trades.tests.fixtures_trades import restore_desk_groups

    with module_data(django_db_blocker):
        restore_desk_groups()
        portfolio = PortfolioFactory()
        positions = open_book(portfolio)
        services.mark_to_market_range(portfolio=portfolio, start=MON, end=WED)
        briefing_services.morning_pack_generate(portfolio=portfolio, business_date=THU)
        limit = risk_services.risk_limit_create(
            portfolio=portfolio, metric="var_99", soft=Decimal("0.05"), hard=Decimal("0.10")
        )
        proposer = UserFactory(username="proposer", groups=["trader"])
        proposal = trades_services.proposal_create(
            portfolio=portfolio,
            symbol="ES",
            side="buy",
            quantity=Decimal(1),
            price=Decimal(5020),
            day=WED,
            strategy_code=None,
            rationale="matrix",
            user=proposer,
        )
        users = {
            role: UserFactory(username=f"matrix-{role}", groups=[role])
            for role in ROLES
            if role not in (ANON, SUPER)
        }
        users[SUPER] = UserFactory(username="matrix-root", is_superuser=True, is_staff=True)
        ids = {
            "position": positions["ES"].pk,
            "proposal": proposal.pk,
            "limit": limit.pk,
            "strategy": StrategyFactory(code="MACROX").pk,
        }
        clients = {role: client_for(users, role) for role in ROLES}  # one session per role
        yield clients, ids


def row_counts() -> dict[str, int]:
    """Rows of every table the project owns (sessions aside: a login writes one), one query."""
    tables = sorted(
        m._meta.db_table
        for m in apps.get_models()
        if m._meta.managed and not m._meta.proxy and m._meta.db_table != "django_session"
    )
    select = ", ".join(f'(SELECT count(*) FROM "{t}")' for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select}")
        return dict(zip(tables, cursor.fetchone(), strict=True))


def send(client: APIClient, method: str, path: str, body):
    kwargs = {}
    if body is not None and method != "GET":
        if path == "/login/":
            kwargs = {"data": body}  # a form, as a browser sends it
        else:
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method.lower())(path, **kwargs)


def client_for(users: dict, role: str) -> APIClient:
    client = APIClient()
    if role != ANON:
        client.force_login(users[role])
    return client


def answer(clients, role, method, path, body) -> tuple[int, bool, bytes]:
    """(status, whether any row changed, body) of one request, rolled back afterwards. A GET's
    rows are not counted (the matrix reads them; the cached views write nothing). The cache is
    not cleared: authentication and permissions run before it is read, so a stored body never
    changes a status (and a flush per request costs the shared Redis for nothing)."""
    cache_hits.forget()
    write = method != "GET"
    client = clients[role]
    cookies = copy.deepcopy(client.cookies)  # a logout clears them: the next row needs them
    with transaction.atomic():
        before = row_counts() if write else None
        response = send(client, method, path, body)
        changed = write and row_counts() != before
        transaction.set_rollback(True)
    client.cookies = cookies
    return response.status_code, changed, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize("key", list(TABLE), ids=[f"{m} /{p}" for p, m in TABLE])
def test_each_role_gets_what_the_table_says(desk, key):
    clients, ids = desk
    row = TABLE[key]
    path = row.path.format(**ids)
    wrong = []
    for role in ROLES:
        status, changed, content = answer(clients, role, row.method, path, row.body)
        if status != row.expected(role):
            wrong.append((role, status, row.expected(role), content))
        if status in (401, 403) and row.method != "GET":
            assert not changed, f"{role}: a refused {row.method} {path} wrote rows"
    assert not wrong, wrong


@pytest.mark.django_db
@pytest.mark.parametrize("pattern", sorted({p for p, _ in TABLE}))
def test_a_method_no_row_lists_is_refused(desk, pattern):
    """Given a route; when a method none of its rows lists is sent; then a superuser gets 405
    and nobody gets a 2xx or writes a row (the admin's index renders for any method: only
    that it writes nothing is checked there)."""
    clients, ids = desk
    listed = {m for p, m in TABLE if p == pattern}
    path = next(row.path for (p, _), row in TABLE.items() if p == pattern).format(**ids)
    for method in sorted(set(METHODS) - listed):
        for role in (ANON, SUPER):
            status, changed, content = answer(clients, role, method, path, {})
            assert not changed, (method, role)
            if pattern == "admin/":
                continue
            assert not 200 <= status < 300, (method, role, status, content)
            if role == SUPER:
                assert status == 405, (method, status, content)
