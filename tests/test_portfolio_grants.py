"""Object level access (issue 13): a user granted portfolio A only, against portfolio B, on every
portfolio-scoped row of the permission table — 403 naming ``portfolio`` when B is named, 404 for
B's objects addressed by id, nothing written — and a user with no grant reads both.

The user holds every desk role (trader, approver, risk), so only the grant can refuse them.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from portfolio.tests.fixtures import module_data

from .permission_table import TABLE
from .test_permission_matrix import answer

A, B = "MACRO1", "MACRO2"
# Rows whose view names no portfolio: reference data, the process's endpoints, the admin.
GLOBAL = re.compile(
    r"^(login/|logout/|healthz|readyz|metrics|favicon\.ico|admin/|api/schema/|api/docs/"
    r"|api/portfolio/(prices/.*|strategies/.*|instruments/|portfolios/)?"
    r"|api/trades/(signals/)?|api/risk/)$"
)
SCOPED = sorted(key for key in TABLE if not GLOBAL.match(key[0]))
BY_ID = [key for key in SCOPED if "{" in TABLE[key].path]


def with_portfolio(path: str, code: str) -> str:
    return path + ("&" if "?" in path else "?") + f"portfolio={code}"


@pytest.fixture(scope="module")
def desks(django_db_setup, django_db_blocker):
    """Portfolios A and B, each with a position, a limit and a pending proposal; a restricted
    user (every desk role, granted A) and an unrestricted one (the same roles, no grant)."""
    from portfolio import services
    from portfolio.tests.api_support import MON, WED, market, open_position
    from portfolio.tests.factories import PortfolioFactory, StrategyFactory, UserFactory
    from risk import services as risk_services
    from trades import services as trades_services
    from trades.tests.fixtures_trades import restore_desk_groups

    roles = ["trader", "approver", "risk"]
    with module_data(django_db_blocker):
        restore_desk_groups()
        market()
        proposer = UserFactory(username="grants-proposer", groups=["trader"])
        ids = {}
        for code in (A, B):
            portfolio = PortfolioFactory(code=code)
            services.mark_to_market(portfolio=portfolio, business_date=MON)
            ids[code] = {
                "position": open_position(portfolio, "ES", "2", "5000").pk,
                "limit": risk_services.risk_limit_create(
                    portfolio=portfolio,
                    metric="var_99",
                    soft=Decimal("0.05"),
                    hard=Decimal("0.1"),
                ).pk,
                "proposal": trades_services.proposal_create(
                    portfolio=portfolio,
                    symbol="ES",
                    side="buy",
                    quantity=Decimal(1),
                    price=Decimal(5020),
                    day=WED,
                    rationale="grants",
                    user=proposer,
                ).pk,
                "strategy": StrategyFactory(code="GRANTX").pk,
            }
        restricted = UserFactory(username="restricted", groups=roles)
        services.grants_add(user=restricted, portfolios=[PortfolioFactory(code=A)])
        everyone = UserFactory(username="unrestricted", groups=roles)
        clients = {}
        for name, user in (("restricted", restricted), ("everyone", everyone)):
            clients[name] = APIClient()
            clients[name].force_login(user)
        yield clients, ids


def test_the_scoped_rows_cover_every_portfolio_endpoint():
    """Given the table; then the scoped rows are the book's, trades', risk's, attribution's,
    briefing's and ops' (a new portfolio endpoint lands here by default)."""
    assert len(SCOPED) >= 30 and len(BY_ID) == 9
    assert ("api/trades/audit/", "GET") in SCOPED and ("", "GET") in SCOPED


@pytest.mark.django_db
@pytest.mark.parametrize("key", SCOPED, ids=[f"{m} /{p}" for p, m in SCOPED])
def test_naming_a_portfolio_not_granted_is_refused(desks, key):
    """Given a user granted A only; when a request names B; then 403 naming ``portfolio`` (the
    same for a code that does not exist: nothing tells which codes exist), nothing written."""
    clients, ids = desks
    row = TABLE[key]
    for code in (B, "NOSUCH"):
        path = with_portfolio(row.path.format(**ids[B]), code)
        status, changed, content = answer(clients, "restricted", row.method, path, row.body)
        assert status == 403, (code, status, content)
        assert not changed, code
        if path.startswith("/api/"):
            assert re.fullmatch(
                rb'\{"portfolio":\["you have no grant for portfolio [^"]+"\]\}', content
            )


@pytest.mark.django_db
@pytest.mark.parametrize("key", BY_ID, ids=[f"{m} /{p}" for p, m in BY_ID])
def test_another_portfolios_object_is_not_found(desks, key):
    """Given a user granted A only; when they address B's position, proposal or limit by id
    (their default portfolio being A); then 404, nothing written."""
    clients, ids = desks
    row = TABLE[key]
    status, changed, content = answer(
        clients, "restricted", row.method, row.path.format(**ids[B]), row.body
    )
    assert status == 404, (status, content)
    assert not changed


@pytest.mark.django_db
@pytest.mark.parametrize("key", [k for k in BY_ID if k[1] == "GET"])
def test_a_user_with_no_grant_reads_both_portfolios(desks, key):
    clients, ids = desks
    row = TABLE[key]
    for code in (A, B):
        path = with_portfolio(row.path.format(**ids[code]), code)
        status, _, content = answer(clients, "everyone", "GET", path, None)
        assert status == 200, (code, status, content)


@pytest.mark.django_db
def test_the_portfolio_list_shows_only_the_portfolios_granted(desks):
    clients, _ = desks
    for name, codes in (("restricted", [A]), ("everyone", [A, B])):
        client = copy.deepcopy(clients[name])
        listed = client.get("/api/portfolio/portfolios/").json()
        rows = listed["results"] if isinstance(listed, dict) else listed
        assert [row["code"] for row in rows] == codes, name


@pytest.mark.django_db
def test_the_default_portfolio_is_the_only_one_granted(desks):
    """Two portfolios exist: with no code, the restricted user gets A, the other a 400."""
    clients, _ = desks
    assert clients["restricted"].get("/api/portfolio/book/").json()["portfolio"] == A
    refused = clients["everyone"].get("/api/portfolio/book/")
    assert refused.status_code == 400 and list(refused.json()) == ["portfolio"]
