"""GET /api/attribution/ and /api/attribution/series/ (SPEC §5, §10): shapes and numbers against
the independent recomputation, defaults, ``?portfolio=``, permissions, bad input (a 400 naming
the field, writing nothing) and read-only GETs."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from rest_framework.test import APIClient

from attribution import services
from portfolio import services as portfolio_services
from portfolio.models import NavSnapshot
from portfolio.tests.api_support import (
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
)
from portfolio.tests.factories import PortfolioFactory, UserFactory

from .fixtures_attribution import (
    AFTER,
    BEFORE,
    DATES,
    FIRST,
    LAST,
    SAT,
    attribution_counts,
    close,
    trade,
)
from .reference import expected, history

pytestmark = pytest.mark.django_db

API = "/api/attribution/"
SERIES = "/api/attribution/series/"
ENDPOINTS = [API, SERIES]
MTD_ANCHOR = dt.date(2024, 3, 29)  # as of Tue 9 April: Friday 29 March (31 March was a Sunday)
ATTRIBUTION_KEYS = {
    "portfolio",
    "period",
    "as_of",
    "anchor",
    "days",
    "twr",
    "by",
    "first_date",
    "last_date",
    "linking",
    "pnl",
    "statistics",
    "rows",
}
STATISTICS_KEYS = {
    "twr",
    "volatility",
    "sharpe",
    "max_drawdown",
    "hit_rate",
    "best_day",
    "worst_day",
}


def get_ok(client, url: str, **params) -> dict:
    response = client.get(url, params)
    assert response.status_code == 200, (response.status_code, response.content)
    return response.json()


def assert_keys(body: dict, keys: set[str]) -> None:
    """Every key of the contract; at most SPEC §7's cache flag besides."""
    assert keys <= set(body), keys - set(body)
    assert set(body) - keys <= {"cached"}, set(body) - keys


def without_flag(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "cached"}


def all_counts() -> dict[str, int]:
    return {**counts(), **attribution_counts()}


# --- Shapes and numbers -----------------------------------------------------------------------


def test_attribution_shape_and_numbers(viewer_client, marked):
    # When a viewer asks for the QTD attribution by asset class as of Friday 5 April
    as_of = DATES[9]
    body = get_ok(viewer_client, API, period="QTD", by="asset_class", as_of=as_of.isoformat())
    # Then the body has every key, and the figures of the recomputation
    assert_keys(body, ATTRIBUTION_KEYS)
    exp = expected(history(marked), MTD_ANCHOR, as_of)
    assert exp.dates == DATES[5:10]
    assert (body["portfolio"], body["period"], body["by"], body["linking"]) == (
        "MACRO1",
        "QTD",
        "asset_class",
        "carino",
    )
    assert (body["as_of"], body["anchor"]) == (as_of.isoformat(), MTD_ANCHOR.isoformat())
    assert (body["first_date"], body["last_date"], body["days"]) == (
        DATES[5].isoformat(),
        as_of.isoformat(),
        5,
    )
    assert D(body["pnl"]) == exp.pnl
    assert isinstance(body["twr"], float)
    assert body["twr"] == pytest.approx(exp.twr, abs=1e-14)
    # rows: [{key, pnl (decimal string), contribution (float)}], Σ contribution = TWR
    assert {r["key"] for r in body["rows"]} == {"EQUITY", "RATES", "COMMODITY"}
    for row in body["rows"]:
        assert set(row) == {"key", "pnl", "contribution"}
        pnl, contribution = exp.rows["asset_class"][row["key"]]
        assert D(row["pnl"]) == pnl
        assert isinstance(row["contribution"], float)
        assert row["contribution"] == pytest.approx(contribution, rel=1e-9, abs=1e-13)
    assert abs(sum(r["contribution"] for r in body["rows"]) - body["twr"]) <= 1e-12
    assert sum(D(r["pnl"]) for r in body["rows"]) == D(body["pnl"])
    # statistics, against numpy
    stats = body["statistics"]
    assert set(stats) == STATISTICS_KEYS
    r = np.array(exp.returns)
    std = float(np.std(r, ddof=1))
    assert stats["twr"] == body["twr"]
    assert stats["volatility"] == pytest.approx(math.sqrt(252) * std, rel=1e-9)
    assert stats["sharpe"] == pytest.approx(math.sqrt(252) * float(r.mean()) / std, rel=1e-9)
    index = np.concatenate([[1.0], np.cumprod(1 + r)])
    assert stats["max_drawdown"] == pytest.approx(
        float(np.max(1 - index / np.maximum.accumulate(index))), abs=1e-12
    )
    assert stats["hit_rate"] == pytest.approx(float(np.mean(r > 0)), abs=1e-15)
    best, worst = int(np.argmax(r)), int(np.argmin(r))
    assert stats["best_day"] == {
        "date": exp.dates[best].isoformat(),
        "return": pytest.approx(r[best], rel=1e-12),
    }
    assert stats["worst_day"] == {
        "date": exp.dates[worst].isoformat(),
        "return": pytest.approx(r[worst], rel=1e-12),
    }


@pytest.mark.parametrize("by", ["strategy", "asset_class", "instrument", "currency"])
def test_every_dimension_by_api(viewer_client, marked, by):
    body = get_ok(viewer_client, API, period="ITD", by=by)
    exp = expected(history(marked), marked.inception_date, LAST)
    assert body["by"] == by and body["days"] == len(DATES)
    assert {r["key"]: D(r["pnl"]) for r in body["rows"]} == {
        k: v[0] for k, v in exp.rows[by].items()
    }
    assert abs(sum(r["contribution"] for r in body["rows"]) - body["twr"]) <= 1e-12
    assert body["twr"] == pytest.approx(exp.twr, abs=1e-14)


def test_a_custom_range_by_api(viewer_client, marked):
    body = get_ok(viewer_client, API, **{"from": DATES[2].isoformat(), "to": DATES[7].isoformat()})
    exp = expected(history(marked), DATES[1], DATES[7])
    assert (body["period"], body["as_of"], body["anchor"]) == ("custom", None, None)
    assert (body["first_date"], body["last_date"], body["days"]) == (
        DATES[2].isoformat(),
        DATES[7].isoformat(),
        6,
    )
    assert D(body["pnl"]) == exp.pnl
    assert body["twr"] == pytest.approx(exp.twr, abs=1e-14)
    assert {r["key"]: D(r["pnl"]) for r in body["rows"]} == {
        k: v[0] for k, v in exp.rows["strategy"].items()
    }


def test_series_shape_and_numbers(viewer_client, marked):
    body = get_ok(viewer_client, SERIES, period="YTD")
    assert_keys(body, {"portfolio", "period", "as_of", "anchor", "days", "twr", "points"})
    assert (body["portfolio"], body["period"], body["as_of"], body["anchor"]) == (
        "MACRO1",
        "YTD",
        LAST.isoformat(),
        "2023-12-29",
    )
    days = history(marked)
    navs = {n.date: n for n in NavSnapshot.objects.filter(portfolio=marked)}
    assert body["days"] == len(DATES) == len(body["points"])
    index = 1.0
    for point, day in zip(body["points"], days, strict=True):
        assert set(point) == {"date", "nav", "pnl", "return", "index"}
        assert point["date"] == day.date.isoformat()
        assert D(point["nav"]) == navs[day.date].nav
        assert D(point["pnl"]) == day.pnl
        assert isinstance(point["return"], float) and isinstance(point["index"], float)
        assert point["return"] == pytest.approx(day.ret, rel=1e-12, abs=1e-16)
        index *= 1 + day.ret
        assert point["index"] == pytest.approx(index, rel=1e-12)
    # the index of the last point is 1 + the period's TWR
    assert body["points"][-1]["index"] == pytest.approx(1 + body["twr"], abs=1e-12)
    assert body["twr"] == pytest.approx(expected(days, dt.date(2023, 12, 29), LAST).twr, abs=1e-14)
    # the series and the attribution of a period agree on its TWR
    assert body["twr"] == pytest.approx(get_ok(viewer_client, API, period="YTD")["twr"], abs=1e-15)


def test_series_of_a_custom_range(viewer_client, marked):
    body = get_ok(
        viewer_client, SERIES, **{"from": DATES[4].isoformat(), "to": DATES[6].isoformat()}
    )
    assert [p["date"] for p in body["points"]] == [d.isoformat() for d in DATES[4:7]]
    assert (body["period"], body["anchor"], body["as_of"]) == ("custom", None, None)
    assert body["points"][-1]["index"] == pytest.approx(1 + body["twr"], abs=1e-12)


# --- Defaults and the portfolio ---------------------------------------------------------------


def test_defaults_are_mtd_by_strategy_as_of_the_last_nav_snapshot(viewer_client, marked):
    body = get_ok(viewer_client, API)
    assert (body["period"], body["by"], body["as_of"], body["anchor"]) == (
        "MTD",
        "strategy",
        LAST.isoformat(),
        MTD_ANCHOR.isoformat(),
    )
    assert {r["key"] for r in body["rows"]} == {"TREND", "CARRY"}
    assert body["days"] == len(DATES[5:])
    explicit = get_ok(viewer_client, API, period="MTD", by="strategy", as_of=LAST.isoformat())
    assert without_flag(body) == without_flag(explicit)
    series = get_ok(viewer_client, SERIES)
    assert (series["period"], series["as_of"], series["anchor"]) == (
        "MTD",
        LAST.isoformat(),
        MTD_ANCHOR.isoformat(),
    )
    assert [p["date"] for p in series["points"]] == [d.isoformat() for d in DATES[5:]]


def test_the_default_as_of_follows_the_last_snapshot(viewer_client, marked):
    NavSnapshot.objects.filter(portfolio=marked, date__gt=DATES[8]).delete()
    body = get_ok(viewer_client, API, period="1D")
    assert (body["as_of"], body["anchor"]) == (DATES[8].isoformat(), DATES[7].isoformat())


@pytest.mark.parametrize("url", ENDPOINTS)
def test_portfolio_parameter(viewer_client, marked, url):
    # Given a second portfolio, never marked
    PortfolioFactory(code="MACRO2", name="Second")
    # Then the portfolio must be named
    assert_400_naming(viewer_client.get(url), "portfolio", "several portfolios")
    body = get_ok(viewer_client, url, portfolio="MACRO1", period="WTD")
    assert body["portfolio"] == "MACRO1" and body["days"] == 2
    assert_400_naming(viewer_client.get(url, {"portfolio": "NOPE"}), "portfolio", "NOPE")
    # And a portfolio with no NAV snapshot is a 400 naming the date parameter
    before = all_counts()
    assert_400_naming(viewer_client.get(url, {"portfolio": "MACRO2"}), "as_of", "no NAV snapshot")
    assert_400_naming(
        viewer_client.get(url, {"portfolio": "MACRO2", "from": FIRST.isoformat()}),
        "from",
        "no NAV snapshot",
    )
    assert_400_naming(
        viewer_client.get(url, {"portfolio": "MACRO2", "to": FIRST.isoformat()}),
        "to",
        "no NAV snapshot",
    )
    assert all_counts() == before


# --- Permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ENDPOINTS)
def test_anonymous_is_401(anon_client, marked, url):
    assert anon_client.get(url).status_code == 401
    assert anon_client.post(url, {}, format="json").status_code == 401


@pytest.mark.parametrize("group", ["viewer", "trader", "approver", "risk"])
@pytest.mark.parametrize("url", ENDPOINTS)
def test_every_desk_user_may_read(marked, group, url):
    client = APIClient()
    client.force_authenticate(UserFactory(username=f"{group}-reader", groups=[group]))
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_user_without_a_desk_role_is_403(marked, url):
    client = APIClient()
    client.force_authenticate(UserFactory(username="outsider"))
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", ENDPOINTS)
def test_writes_are_refused(viewer_client, trader_client, admin_client_api, marked, url, method):
    before = all_counts()
    # a viewer may not write at all (DeskRolePermission checks before the method)
    assert getattr(viewer_client, method)(url, {}, format="json").status_code == 403
    # a trader or a superuser may write, but these views only read
    assert getattr(trader_client, method)(url, {}, format="json").status_code == 405
    assert getattr(admin_client_api, method)(url, {}, format="json").status_code == 405
    assert all_counts() == before


# --- Bad input --------------------------------------------------------------------------------

BAD = [
    ({"period": "MTH"}, "period", ""),
    ({"period": "mtd"}, "period", ""),
    ({"from": DATES[5].isoformat(), "to": DATES[2].isoformat()}, "from", "after"),
    ({"as_of": BEFORE.isoformat()}, "as_of", "outside the marked history"),
    ({"as_of": AFTER.isoformat()}, "as_of", "outside the marked history"),
    ({"as_of": "2099-01-02"}, "as_of", ""),
    ({"period": "YTD", "as_of": BEFORE.isoformat()}, "as_of", "outside"),
    ({"from": BEFORE.isoformat()}, "from", "outside the marked history"),
    ({"from": AFTER.isoformat()}, "from", "outside the marked history"),
    ({"to": AFTER.isoformat()}, "to", "outside the marked history"),
    ({"to": BEFORE.isoformat()}, "to", "outside the marked history"),
    ({"from": FIRST.isoformat(), "to": AFTER.isoformat()}, "to", "outside"),
    ({"as_of": "2024-3-4"}, "as_of", ""),
    ({"as_of": "04/03/2024"}, "as_of", ""),
    ({"as_of": "x"}, "as_of", ""),
    ({"as_of": ""}, "as_of", ""),
    ({"from": "2024-3-4"}, "from", ""),
    ({"from": "04/03/2024"}, "from", ""),
    ({"from": "x"}, "from", ""),
    ({"to": "2024-3-4"}, "to", ""),
    ({"to": "04/03/2024"}, "to", ""),
    ({"to": "x"}, "to", ""),
    ({"as_of": "2024-02-30"}, "as_of", ""),
    ({"as_of": SAT.isoformat()}, "as_of", "not a business day"),
    ({"as_of": "2024-03-31"}, "as_of", "not a business day"),  # a Sunday
    ({"period": "MTD", "from": DATES[2].isoformat()}, "period", ""),
    ({"period": "MTD", "to": DATES[2].isoformat()}, "period", ""),
    ({"as_of": LAST.isoformat(), "from": DATES[2].isoformat()}, "as_of", ""),
    ({"as_of": LAST.isoformat(), "to": DATES[2].isoformat()}, "as_of", ""),
]


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(("params", "field", "words"), BAD)
def test_bad_input_is_a_400_naming_the_field(viewer_client, marked, url, params, field, words):
    before = all_counts()
    response = viewer_client.get(url, params)
    assert_400_naming(response, field, *([words] if words else []))
    assert all_counts() == before


@pytest.mark.parametrize("by", ["sector", "", "STRATEGY"])
def test_an_unknown_by_is_a_400_naming_by(viewer_client, marked, by):
    assert_400_naming(viewer_client.get(API, {"by": by}), "by")


def test_a_range_of_a_weekend_only_is_an_empty_period(viewer_client, marked):
    """Inside the history but with no marked day: nothing happened, which is not an error."""
    sunday = SAT + dt.timedelta(days=1)
    response = viewer_client.get(API, {"from": SAT.isoformat(), "to": sunday.isoformat()})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["days"], body["rows"], body["twr"]) == (0, [], 0.0)
    assert (body["first_date"], body["last_date"]) == (None, None)
    assert D(body["pnl"]) == 0
    assert body["statistics"]["volatility"] is None


# --- GETs write nothing -----------------------------------------------------------------------


def test_gets_write_nothing(viewer_client, marked):
    queries = [
        {},
        {"period": "ITD", "by": "instrument"},
        {"period": "1D", "as_of": DATES[3].isoformat()},
        {"from": DATES[1].isoformat(), "to": DATES[6].isoformat(), "by": "currency"},
    ]
    # Before any EOD step: every day is computed on the fly, and nothing is stored
    before = all_counts()
    assert before["SegmentPnl"] == before["AttributionDay"] == before["AttributionResult"] == 0
    for url in ENDPOINTS:
        for query in queries:
            get_ok(viewer_client, url, **query)
    assert all_counts() == before
    # After it, and after a late trade and a re-mark made two days stale: still nothing written
    services.attribution_record(portfolio=marked, business_date=LAST)
    trade(marked, "ES", 1, close("ES", DATES[-2]), DATES[-2], "CARRY")
    portfolio_services.mark_to_market_range(portfolio=marked, start=DATES[-2], end=LAST)
    before = all_counts()
    stamps = list(marked.attribution_days.order_by("date").values_list("date", "marked_at"))
    for url in ENDPOINTS:
        for query in queries:
            get_ok(viewer_client, url, **query)
    assert all_counts() == before
    assert list(marked.attribution_days.order_by("date").values_list("date", "marked_at")) == stamps


def test_the_api_keeps_full_precision(viewer_client, marked):
    body = get_ok(viewer_client, API, period="ITD", by="instrument")
    # money as decimal strings with every place, never a rounded float
    for row in body["rows"]:
        assert isinstance(row["pnl"], str)
        assert Decimal(row["pnl"]) == Decimal(row["pnl"]).quantize(Decimal("1E-8"))
    assert isinstance(body["pnl"], str)
