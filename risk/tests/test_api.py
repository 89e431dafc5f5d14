"""Risk API: shapes (money as decimal strings, fractions as floats), filters and permissions."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from portfolio.tests.api_support import (
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    open_position,
)
from portfolio.tests.factories import InstrumentFactory, PortfolioFactory
from risk import report, services
from risk.models import Alert, RiskLimit

from .fixtures_risk import (
    DATES,
    HELD,
    LAST,
    OPEN,
    expected_var,
    is_fraction,
    leveraged_book,
    limit,
    mark,
    risk_counts,
    stored_values,
)

pytestmark = pytest.mark.django_db

API = "/api/risk"
GETS = ["/live/", "/history/", "/limits/", "/stress/", "/alerts/"]
LIMIT = {"metric": "var_95", "soft": "0.02", "hard": "0.03"}


# --- Shapes -----------------------------------------------------------------------------------


def test_live_shape_and_numbers(viewer_client, portfolio, market):
    # Given the book and a breached gross leverage limit
    created = limit(portfolio, "gross_leverage", "0.5", "1")
    # When a viewer reads live risk
    response = viewer_client.get(f"{API}/live/")
    # Then it answers with the report: money as decimal strings, fractions as floats
    assert response.status_code == 200, response.content
    body = response.json()
    assert {
        "portfolio",
        "base_currency",
        "as_of",
        "nav",
        "scenarios",
        "scenario_dates",
        "insufficient_history",
        "no_history",
        "var",
        "exposures",
        "drawdown",
        "limits",
        "complete",
        "unvalued",
    } <= set(body)
    assert (body["portfolio"], body["base_currency"], body["as_of"]) == (
        "MACRO1",
        "USD",
        LAST.isoformat(),
    )
    assert (body["scenarios"], body["insufficient_history"], body["no_history"]) == (80, False, [])
    assert body["scenario_dates"] == {"first": DATES[1].isoformat(), "last": LAST.isoformat()}
    nav = D(body["nav"])
    assert set(body["var"]) == {
        "var_95",
        "var_99",
        "es_975",
        "parametric_var_95",
        "parametric_var_99",
    }
    exposures = {s: float(e) for s, e in report.live_book(portfolio).holdings.exposures.items()}
    expected = expected_var(stored_values(list(HELD)), exposures)
    for name, figure in body["var"].items():
        assert set(figure) == {"amount", "nav_fraction"}
        assert math.isclose(float(D(figure["amount"])), expected[name], rel_tol=1e-6), name
        assert is_fraction(figure["nav_fraction"])
        assert figure["nav_fraction"] == pytest.approx(float(D(figure["amount"]) / nav))
    ex = body["exposures"]
    assert set(ex) == {"gross", "net", "leverage", "net_fraction", "by_asset_class", "largest"}
    gross = D(ex["gross"])
    assert D(ex["net"]) < gross
    assert is_fraction(ex["leverage"]) and ex["leverage"] == pytest.approx(float(gross / nav))
    assert set(ex["by_asset_class"]) == {"COMMODITY", "EQUITY", "RATES"}
    for row in ex["by_asset_class"].values():
        assert set(row) == {"net", "gross", "gross_fraction"}
        assert abs(D(row["net"])) == D(row["gross"])
        assert is_fraction(row["gross_fraction"])
    assert sum(D(r["gross"]) for r in ex["by_asset_class"].values()) == gross
    assert ex["largest"]["symbol"] == "ES" and isinstance(ex["largest"]["exposure"], str)
    assert set(body["drawdown"]) == {"drawdown", "nav_drawdown"}
    assert all(is_fraction(v) for v in body["drawdown"].values())
    assert body["limits"] == [
        {
            "id": created.id,
            "metric": "gross_leverage",
            "value": ex["leverage"],
            "soft": "0.500000",
            "hard": "1.000000",
            "utilization": ex["leverage"],
            "status": "breach",
        }
    ]
    assert (body["complete"], body["unvalued"]) == (True, [])
    # And the breach raised its alert
    assert Alert.objects.filter(metric="gross_leverage").count() == 1


def test_live_with_an_instrument_without_history_answers(viewer_client, portfolio, market):
    # Given the book plus a position in NEWCO, never priced
    InstrumentFactory(symbol="NEWCO", asset_class="EQUITY", multiplier=Decimal(1))
    open_position(portfolio, "NEWCO", "100", "50", day=LAST)
    # When live risk is read
    response = viewer_client.get(f"{API}/live/")
    # Then it answers 200, naming NEWCO and flagging the history, with the others' VaR
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["no_history"], body["insufficient_history"], body["scenarios"]) == (
        ["NEWCO"],
        True,
        80,
    )
    assert isinstance(body["var"]["var_99"]["amount"], str)
    stress = viewer_client.get(f"{API}/stress/")
    assert stress.status_code == 200, stress.content
    assert stress.json()["no_history"] == ["NEWCO"]


def test_live_of_an_empty_book(viewer_client, portfolio):
    body = viewer_client.get(f"{API}/live/").json()
    assert (body["scenarios"], body["insufficient_history"], body["limits"]) == (0, True, [])
    assert body["var"]["var_99"] == {"amount": None, "nav_fraction": None}
    assert D(body["nav"]) == 1_000_000
    assert body["exposures"]["largest"] is None


def test_history_shape_and_date_filter(viewer_client, portfolio, market):
    # Given the risk of the six marked days recorded
    mark(portfolio, DATES[OPEN])
    limit(portfolio, "gross_leverage", "2", "3")
    services.risk_snapshot_range(portfolio=portfolio, start=DATES[OPEN], end=LAST)
    # When the whole history is read
    response = viewer_client.get(f"{API}/history/")
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    # Then every day is there, oldest first, with money as strings and fractions as floats
    assert [r["date"] for r in rows] == [d.isoformat() for d in DATES[OPEN:]]
    row = rows[-1]
    assert set(row) == {
        "date",
        "nav",
        "var_95",
        "var_99",
        "es_975",
        "parametric_var_95",
        "parametric_var_99",
        "scenarios",
        "insufficient_history",
        "gross_exposure",
        "net_exposure",
        "leverage",
        "largest_symbol",
        "largest_exposure",
        "drawdown",
        "nav_drawdown",
        "exposure_by_asset_class",
        "limits",
        "no_history",
    }
    for key in ("nav", "var_95", "var_99", "es_975", "gross_exposure", "largest_exposure"):
        assert isinstance(row[key], str), key
    for key in ("leverage", "drawdown", "nav_drawdown"):
        assert is_fraction(row[key]), key
    assert row["leverage"] == pytest.approx(float(D(row["gross_exposure"]) / D(row["nav"])))
    assert (row["scenarios"], row["largest_symbol"], row["no_history"]) == (80, "ES", [])
    assert isinstance(row["exposure_by_asset_class"]["RATES"]["gross"], str)
    [lim] = row["limits"]
    assert (lim["metric"], lim["soft"], lim["hard"], lim["status"]) == (
        "gross_leverage",
        "2.000000",
        "3.000000",
        "ok",
    )
    assert is_fraction(lim["value"]) and lim["value"] == row["leverage"]


@pytest.mark.parametrize(
    ("query", "days"),
    [
        (f"from={DATES[77]}", DATES[77:]),
        (f"to={DATES[76]}", DATES[75:77]),
        (f"from={DATES[76]}&to={DATES[78]}", DATES[76:79]),
        (f"from={LAST}&to={LAST}", [LAST]),
        ("from=2024-04-20&to=2024-04-21", []),  # a weekend: nothing recorded
        (f"from={DATES[79]}&to={DATES[76]}", []),  # from after to: an empty list, not a 400
    ],
)
def test_history_from_to(viewer_client, portfolio, market, query, days):
    mark(portfolio, DATES[OPEN])
    services.risk_snapshot_range(portfolio=portfolio, start=DATES[OPEN], end=LAST)
    response = viewer_client.get(f"{API}/history/?{query}")
    assert response.status_code == 200, response.content
    assert [r["date"] for r in response.json()["results"]] == [d.isoformat() for d in days]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2024-13-01", "from"),
        ("to=2024-02-30", "to"),
        ("from=18/04/2024", "from"),
        ("from=", "from"),
    ],
)
@pytest.mark.parametrize("path", ["/history/", "/alerts/"])
def test_a_malformed_date_filter_is_a_400_naming_it(viewer_client, portfolio, path, query, field):
    assert_400_naming(viewer_client.get(f"{API}{path}?{query}"), field)


def test_limits_shape(viewer_client, portfolio):
    created = limit(portfolio, "var_99", "0.02", "0.03")
    response = viewer_client.get(f"{API}/limits/")
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    assert set(row) == {"id", "portfolio", "metric", "soft", "hard", "updated_at"}
    assert (row["id"], row["portfolio"], row["metric"], row["soft"], row["hard"]) == (
        created.id,
        "MACRO1",
        "var_99",
        "0.020000",
        "0.030000",
    )
    one = viewer_client.get(f"{API}/limits/{created.id}/")
    assert (one.status_code, one.json()) == (200, row)
    assert viewer_client.get(f"{API}/limits/?metric=var_95").json()["results"] == []


def test_stress_shape(viewer_client, portfolio, market):
    response = viewer_client.get(f"{API}/stress/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) >= {
        "portfolio",
        "base_currency",
        "as_of",
        "nav",
        "history",
        "history_days",
        "no_history",
        "scenarios",
        "historical",
    }
    assert (body["history_days"], body["no_history"]) == (80, [])
    assert body["history"] == {"first": DATES[1].isoformat(), "last": LAST.isoformat()}
    named = {row["name"]: row for row in body["scenarios"]}
    assert {"risk-off", "rates up", "USD rally", "commodity crash"} <= set(named)
    risk_off = named["risk-off"]
    assert set(risk_off) == {"name", "description", "shocks", "pnl", "nav_fraction"}
    assert risk_off["shocks"]["EQUITY"] == -0.10
    assert isinstance(risk_off["pnl"], str) and is_fraction(risk_off["nav_fraction"])
    assert risk_off["nav_fraction"] == pytest.approx(float(D(risk_off["pnl"]) / D(body["nav"])))
    assert [w["days"] for w in body["historical"]] == [1, 5, 20]
    for window in body["historical"]:
        assert set(window) == {"days", "start", "end", "pnl", "nav_fraction"}
        assert isinstance(window["pnl"], str) and D(window["pnl"]) < 0
        assert window["start"] <= window["end"]


def test_alerts_shape_and_filters(viewer_client, portfolio):
    # Given an alert raised by a breached leverage limit
    leveraged_book(portfolio)
    limit(portfolio, "gross_leverage", "1", "1.2")
    services.risk_live(portfolio)
    # When the alerts are read
    response = viewer_client.get(f"{API}/alerts/")
    assert response.status_code == 200, response.content
    [row] = response.json()["results"]
    # Then the breach is there, fractions as floats and limits as decimal strings
    assert set(row) == {
        "id",
        "portfolio",
        "date",
        "metric",
        "value",
        "soft",
        "hard",
        "utilization",
        "message",
        "created_at",
    }
    assert (row["portfolio"], row["metric"], row["value"], row["soft"], row["hard"]) == (
        "MACRO1",
        "gross_leverage",
        1.5,
        "1.000000",
        "1.200000",
    )
    assert row["utilization"] == pytest.approx(1.25)
    day = row["date"]
    assert viewer_client.get(f"{API}/alerts/?metric=var_95").json()["results"] == []
    assert len(viewer_client.get(f"{API}/alerts/?from={day}&to={day}").json()["results"]) == 1
    assert viewer_client.get(f"{API}/alerts/?to=2024-01-01").json()["results"] == []
    assert_400_naming(viewer_client.get(f"{API}/alerts/?metric=nope"), "metric")


# --- Permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GETS)
def test_anonymous_is_401(anon_client, portfolio, path):
    assert anon_client.get(f"{API}{path}").status_code == 401


def test_anonymous_writes_are_401_and_write_nothing(anon_client, portfolio):
    created = limit(portfolio, "var_99", "0.02", "0.03")
    before = risk_counts()
    assert anon_client.post(f"{API}/limits/", LIMIT, format="json").status_code == 401
    url = f"{API}/limits/{created.id}/"
    assert anon_client.patch(url, {"soft": "0.01"}, format="json").status_code == 401
    assert anon_client.delete(url).status_code == 401
    pretrade = {"symbol": "ES", "quantity": "1", "price": "1"}
    assert anon_client.post(f"{API}/pretrade/", pretrade, format="json").status_code == 401
    assert risk_counts() == before


@pytest.mark.parametrize("who", ["viewer_client", "trader_client"])
def test_viewer_and_trader_read_but_may_not_change_limits(request, portfolio, market, who):
    client = request.getfixturevalue(who)
    created = limit(portfolio, "var_99", "0.02", "0.03")
    # They read every risk endpoint
    for path in GETS:
        response = client.get(f"{API}{path}")
        assert response.status_code == 200, (path, response.content)
    # But creating, changing or deleting a limit is refused, and nothing changes
    before = risk_counts()
    url = f"{API}/limits/{created.id}/"
    assert client.post(f"{API}/limits/", LIMIT, format="json").status_code == 403
    assert client.patch(url, {"soft": "0.01"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert risk_counts() == before
    created.refresh_from_db()
    assert (created.soft, created.hard) == (Decimal("0.02"), Decimal("0.03"))


@pytest.mark.parametrize("who", ["risk_client", "admin_client_api"])
def test_risk_group_and_superuser_create_change_and_delete_limits(request, portfolio, who):
    client = request.getfixturevalue(who)
    # Create
    response = client.post(f"{API}/limits/", LIMIT, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["portfolio"], body["metric"], body["soft"], body["hard"]) == (
        "MACRO1",
        "var_95",
        "0.020000",
        "0.030000",
    )
    created = RiskLimit.objects.get()
    assert (created.id, created.soft, created.hard) == (
        body["id"],
        Decimal("0.02"),
        Decimal("0.03"),
    )
    # Change one bound, then both
    url = f"{API}/limits/{created.id}/"
    response = client.patch(url, {"soft": "0.025"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["soft"], response.json()["hard"]) == ("0.025000", "0.030000")
    response = client.patch(url, {"soft": "0.04", "hard": "0.05"}, format="json")
    assert response.status_code == 200, response.content
    created.refresh_from_db()
    assert (created.soft, created.hard) == (Decimal("0.04"), Decimal("0.05"))
    # Delete
    assert client.delete(url).status_code == 204
    assert RiskLimit.objects.count() == 0
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [("viewer_client", 403), ("trader_client", 200), ("risk_client", 200)],
)
def test_pretrade_is_for_traders_approvers_and_risk(request, portfolio, market, who, status):
    client = request.getfixturevalue(who)
    payload = {"symbol": "ES", "quantity": "1", "price": str(market.close("ES"))}
    response = client.post(f"{API}/pretrade/", payload, format="json")
    assert response.status_code == status, response.content


def test_put_on_a_limit_is_405(risk_client, portfolio):
    created = limit(portfolio, "var_99", "0.02", "0.03")
    response = risk_client.put(f"{API}/limits/{created.id}/", LIMIT, format="json")
    assert response.status_code == 405
    created.refresh_from_db()
    assert (created.metric, created.soft) == ("var_99", Decimal("0.02"))


def test_limits_belong_to_their_portfolio(risk_client, portfolio):
    # Given a second portfolio with its own limit
    other = PortfolioFactory(code="MACRO2")
    theirs = limit(other, "var_99", "0.02", "0.03")
    ours = limit(portfolio, "var_99", "0.01", "0.05")
    # Then each portfolio lists only its own, and one cannot reach the other's by id
    listed = risk_client.get(f"{API}/limits/?portfolio=MACRO1").json()["results"]
    assert [r["id"] for r in listed] == [ours.id]
    url = f"{API}/limits/{theirs.id}/?portfolio=MACRO1"
    assert risk_client.patch(url, {"soft": "0.025"}, format="json").status_code == 404
    assert risk_client.delete(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.soft == Decimal("0.02")
    # And a limit is created for the portfolio named, even when the other has the metric
    response = risk_client.post(
        f"{API}/limits/?portfolio=MACRO2", {**LIMIT, "metric": "var_95"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert RiskLimit.objects.get(id=response.json()["id"]).portfolio == other
    # And with two portfolios, a request that names none is a 400 naming the parameter
    assert_400_naming(risk_client.get(f"{API}/live/"), "portfolio")
    assert_400_naming(risk_client.get(f"{API}/live/?portfolio=NOPE"), "portfolio")


def test_stress_of_an_empty_book(viewer_client, portfolio):
    response = viewer_client.get(f"{API}/stress/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["history_days"], body["historical"], body["no_history"]) == (0, [], [])
    assert {D(row["pnl"]) for row in body["scenarios"]} == {0}
