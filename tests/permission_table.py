"""The permission matrix as ONE table: every URL pattern × every method its view allows → who
may call it and what a permitted caller gets (``tests/test_permission_matrix.py`` runs it).

A row is keyed by the route's pattern as ``routes()`` spells it (regex anchors dropped, every
URL parameter written ``<name>``) and the method. ``path`` fills in the ids of the module's data
(``{position}``, ``{proposal}``, ``{limit}``, ``{strategy}``); ``body`` is a valid request, so a
permitted role gets its success status, never a 400. Roles: anonymous, viewer, trader,
approver, risk, superuser (the desk's groups, as the migrations create them).
"""

from __future__ import annotations

from dataclasses import dataclass

ANON, VIEWER, TRADER, APPROVER, RISK, SUPER = (
    "anonymous",
    "viewer",
    "trader",
    "approver",
    "risk",
    "superuser",
)
ROLES = (ANON, VIEWER, TRADER, APPROVER, RISK, SUPER)
DESK = frozenset({VIEWER, TRADER, APPROVER, RISK, SUPER})  # every desk role reads
EVERYONE = frozenset(ROLES)
TRADERS = frozenset({TRADER, SUPER})  # book data: views' default ``write_groups``
APPROVERS = frozenset({APPROVER, SUPER})  # trades.approve_tradeproposal
RISK_DESK = frozenset({RISK, SUPER})  # limits
PRETRADE = frozenset({TRADER, APPROVER, RISK, SUPER})
STAFF = frozenset({SUPER})  # portfolios, the admin: staff or superusers (no desk role is staff)

TUE, WED, THU = "2024-03-05", "2024-03-06", "2024-03-07"


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    ok: int  # what a permitted role gets
    who: frozenset[str]  # the roles permitted
    body: object = None
    refused: int = 403  # what a signed-in role not permitted gets
    anon: int = 401  # what an anonymous caller gets (when not permitted)
    query: str = ""  # appended to the path

    def expected(self, role: str) -> int:
        if role in self.who:
            return self.ok
        return self.anon if role == ANON else self.refused


def read(path: str, *, who=DESK, ok=200, anon=401, refused=403) -> Row:
    return Row("GET", path, ok, who, anon=anon, refused=refused)


def page(path: str, ok: int = 200) -> Row:
    """A desk page: anonymous users are sent to the login."""
    return Row("GET", path, ok, DESK, anon=302)


def write(method: str, path: str, body, *, who=TRADERS, ok=200) -> Row:
    return Row(method, path, ok, who, body=body)


P = "api/portfolio/"
T = "api/trades/"
R = "api/risk/"

TABLE: dict[tuple[str, str], Row] = {
    # --- Desk pages and the process's own endpoints -----------------------------------------
    ("", "GET"): page("/"),
    ("briefing/latest/", "GET"): page("/briefing/latest/"),
    ("briefing/<day>/", "GET"): page(f"/briefing/{THU}/"),
    ("login/", "GET"): read("/login/", who=EVERYONE),
    # a wrong password re-renders the form (200) and signs nobody in
    ("login/", "POST"): Row(
        "POST", "/login/", 200, EVERYONE, body={"username": "x", "password": "y"}
    ),
    # Django's LoginView answers PUT as POST (ProcessFormView); PUT bodies are not parsed as forms
    ("login/", "PUT"): Row(
        "PUT", "/login/", 200, EVERYONE, body={"username": "x", "password": "y"}
    ),
    ("logout/", "POST"): Row("POST", "/logout/", 302, EVERYONE),
    ("healthz", "GET"): read("/healthz", who=EVERYONE),
    ("readyz", "GET"): read("/readyz", who=EVERYONE),
    # /metrics: a bearer token or an allowed network (the test client is 127.0.0.1), no login
    ("metrics", "GET"): read("/metrics", who=EVERYONE),
    ("favicon.ico", "GET"): read("/favicon.ico", who=EVERYONE),
    # the admin: staff only; everyone else is sent to the admin's login
    ("admin/", "GET"): Row("GET", "/admin/", 200, STAFF, anon=302, refused=302),
    ("api/schema/", "GET"): read("/api/schema/"),
    ("api/docs/", "GET"): read("/api/docs/"),
    # --- Portfolio ---------------------------------------------------------------------------
    (P + "prices/", "GET"): read("/api/portfolio/prices/?symbol=ES"),
    (P + "prices/", "POST"): write(
        "POST", "/api/portfolio/prices/", [{"symbol": "ES", "date": THU, "close": "5030"}], ok=201
    ),
    (P + "prices/update/", "POST"): write(
        "POST", "/api/portfolio/prices/update/", {"symbol": "ES", "price": "5025"}
    ),
    (P + "book/", "GET"): read("/api/portfolio/book/"),
    (P + "mtm/", "POST"): write("POST", "/api/portfolio/mtm/", {"date": WED}),
    (P + "nav/", "GET"): read("/api/portfolio/nav/"),
    (P + "portfolios/", "GET"): read("/api/portfolio/portfolios/"),
    (P + "portfolios/", "POST"): write(
        "POST",
        "/api/portfolio/portfolios/",
        {
            "code": "NEWFUND",
            "name": "New fund",
            "base_currency": "USD",
            "inception_date": "2024-01-02",
            "initial_capital": "1000000",
        },
        who=STAFF,
        ok=201,
    ),
    (P + "strategies/", "GET"): read("/api/portfolio/strategies/"),
    (P + "strategies/", "POST"): write(
        "POST",
        "/api/portfolio/strategies/",
        {"code": "CARRY", "name": "Carry", "asset_class": "FX", "risk_budget": "0.01"},
        ok=201,
    ),
    (P + "strategies/<pk>/", "GET"): read("/api/portfolio/strategies/{strategy}/"),
    (P + "strategies/<pk>/", "PATCH"): write(
        "PATCH", "/api/portfolio/strategies/{strategy}/", {"name": "Renamed"}
    ),
    (P + "instruments/", "GET"): read("/api/portfolio/instruments/"),
    (P + "instruments/", "POST"): write(
        "POST",
        "/api/portfolio/instruments/",
        {
            "symbol": "NQ",
            "name": "Nasdaq future",
            "asset_class": "EQUITY",
            "currency": "USD",
            "multiplier": "20",
        },
        ok=201,
    ),
    (P + "positions/", "GET"): read("/api/portfolio/positions/"),
    (P + "positions/open/", "POST"): write(
        "POST",
        "/api/portfolio/positions/open/",
        {"symbol": "ES", "quantity": "1", "price": "5020", "trade_date": WED},
        ok=201,
    ),
    (P + "positions/<pk>/", "GET"): read("/api/portfolio/positions/{position}/"),
    (P + "positions/<pk>/close/", "POST"): write(
        "POST", "/api/portfolio/positions/{position}/close/", {"price": "5020", "trade_date": WED}
    ),
    (P + "cashflows/", "GET"): read("/api/portfolio/cashflows/"),
    (P + "cashflows/", "POST"): write(
        "POST", "/api/portfolio/cashflows/", {"date": WED, "amount": "1000"}, ok=201
    ),
    (P, "GET"): read("/api/portfolio/"),
    # --- Trades ------------------------------------------------------------------------------
    (T + "signals/", "GET"): read("/api/trades/signals/"),
    (T + "audit/", "GET"): read("/api/trades/audit/"),
    (T + "proposals/", "GET"): read("/api/trades/proposals/"),
    (T + "proposals/", "POST"): write(
        "POST",
        "/api/trades/proposals/",
        {"symbol": "ES", "side": "buy", "quantity": "1", "price": "5010", "date": TUE},
        ok=201,
    ),
    (T + "proposals/generate/", "POST"): write(
        "POST", "/api/trades/proposals/generate/", {"date": WED}
    ),
    (T + "proposals/<pk>/", "GET"): read("/api/trades/proposals/{proposal}/"),
    (T + "proposals/<pk>/approve/", "POST"): write(
        "POST", "/api/trades/proposals/{proposal}/approve/", {"note": "ok"}, who=APPROVERS
    ),
    (T + "proposals/<pk>/modify-approve/", "POST"): write(
        "POST",
        "/api/trades/proposals/{proposal}/modify-approve/",
        {"quantity": "1", "note": "smaller"},
        who=APPROVERS,
    ),
    (T + "proposals/<pk>/reject/", "POST"): write(
        "POST", "/api/trades/proposals/{proposal}/reject/", {"reason": "no"}, who=APPROVERS
    ),
    (T, "GET"): read("/api/trades/"),
    # --- Risk --------------------------------------------------------------------------------
    (R + "live/", "GET"): read("/api/risk/live/"),
    (R + "history/", "GET"): read("/api/risk/history/"),
    (R + "stress/", "GET"): read("/api/risk/stress/"),
    (R + "alerts/", "GET"): read("/api/risk/alerts/"),
    (R + "pretrade/", "POST"): write(
        "POST",
        "/api/risk/pretrade/",
        {"symbol": "ES", "quantity": "1", "price": "5020"},
        who=PRETRADE,
    ),
    (R + "limits/", "GET"): read("/api/risk/limits/"),
    (R + "limits/", "POST"): write(
        "POST",
        "/api/risk/limits/",
        {"metric": "gross_leverage", "soft": "2", "hard": "3"},
        who=RISK_DESK,
        ok=201,
    ),
    (R + "limits/<pk>/", "GET"): read("/api/risk/limits/{limit}/"),
    (R + "limits/<pk>/", "PATCH"): write(
        "PATCH", "/api/risk/limits/{limit}/", {"soft": "0.04"}, who=RISK_DESK
    ),
    (R + "limits/<pk>/", "DELETE"): write(
        "DELETE", "/api/risk/limits/{limit}/", None, who=RISK_DESK, ok=204
    ),
    (R, "GET"): read("/api/risk/"),
    # --- Attribution, briefing, ops ----------------------------------------------------------
    ("api/attribution/", "GET"): read("/api/attribution/"),
    ("api/attribution/series/", "GET"): read("/api/attribution/series/"),
    ("api/briefing/latest/", "GET"): read("/api/briefing/latest/"),
    ("api/briefing/generate/", "POST"): write(
        "POST", "/api/briefing/generate/", {"date": THU}, ok=201
    ),
    ("api/briefing/<day>/", "GET"): read(f"/api/briefing/{THU}/"),
    ("api/ops/pipeline-runs/", "GET"): read("/api/ops/pipeline-runs/"),
}
