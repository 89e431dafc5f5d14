"""The pack and dashboard templates, rendered from sample contexts (no database): every section,
numbers for people, inline charts, no external asset."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from briefing import charts
from briefing.templatetags import desk

from .test_charts import sample_pack

NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
PACK_SECTIONS = (
    "Morning pack for 2026-12-01",
    "Market moves",
    "Positions",
    "Risk",
    "Pending proposals",
    "Attribution MTD by strategy",
    "Alerts",
)
DASHBOARD_SECTIONS = (
    "Book summary",
    "Live risk and limits",
    "Pending proposals",
    "Latest morning pack",
    "Alerts",
)


def pack_context(**changes) -> dict:
    pack = {**sample_pack(), **changes}
    return {
        "pack": pack,
        "charts": charts.pack_charts(pack),
        "generated_at": dt.datetime(2026, 12, 1, 6, 30, tzinfo=dt.UTC),
        "generated_by": "celery",
        "portfolio_code": "MACRO1",
    }


def dashboard_context(**changes) -> dict:
    limits = [
        {"id": 1, "metric": "var_99", "value": 0.01, "soft": Decimal("0.0150"),
         "hard": Decimal("0.0200"), "utilization": 0.5, "status": "ok"},
        {"id": 2, "metric": "gross_leverage", "value": 3.1, "soft": Decimal("2.5"),
         "hard": Decimal("3"), "utilization": 1.0333, "status": "breach"},
    ]  # fmt: skip
    risk = {
        "as_of": dt.date(2026, 12, 1),
        "nav": Decimal("101843453.87"),
        "scenarios": 250,
        "insufficient_history": True,
        "no_history": ["GC"],
        "var": {
            "var_95": {"amount": Decimal("456789.01"), "nav_fraction": 0.0045},
            "var_99": {"amount": Decimal("612345.12"), "nav_fraction": 0.006},
            "es_975": {"amount": Decimal("700000.00"), "nav_fraction": 0.0069},
            "parametric_var_95": {"amount": None, "nav_fraction": None},
            "parametric_var_99": {"amount": None, "nav_fraction": None},
        },
        "exposures": {"gross": Decimal("181526849.49"), "net": Decimal("-2e7"), "leverage": 1.78},
        "limits": limits,
    }
    book = {
        "as_of": dt.date(2026, 12, 1),
        "base_currency": "USD",
        "nav": Decimal("101843453.87"),
        "gross_exposure": Decimal("181526849.49"),
        "net_exposure": Decimal("-20000000.00"),
        "leverage": 1.78,
        "pnl": {"1D": Decimal("-2345.10"), "MTD": Decimal("12345.67"), "YTD": Decimal("1.5")},
        "positions": [
            {"symbol": "ES", "strategy": "TREND", "quantity": Decimal("10"),
             "price": Decimal("5012.25"), "exposure": Decimal("2506125.00"),
             "daily_pnl": Decimal("-1250.00"), "unrealized": Decimal("35000.00")},
        ],
        "complete": False,
        "unvalued": [{"symbol": "GC", "strategy": "TREND", "reason": "no close for GC"}],
    }  # fmt: skip
    proposals = [
        {"id": 7, "date": dt.date(2026, 12, 1), "strategy": "TREND", "symbol": "GC",
         "side": "buy", "quantity": Decimal("10"), "price": Decimal("2650.10"),
         "source": "manual", "rationale": "Gold as a hedge",
         "admin_url": "/admin/trades/tradeproposal/7/change/", "utilization_after": 0.85,
         "breaks_hard_limit": True},
    ]  # fmt: skip
    context = {
        "portfolio_code": "MACRO1",
        "book": book,
        "risk": risk,
        "proposals": proposals,
        "pending_url": "/admin/trades/tradeproposal/?status__exact=pending",
        "pack": sample_pack(),
        "pack_url": "/briefing/2026-12-01/",
        "alerts": [
            {
                "date": dt.date(2026, 11, 30),
                "metric": "gross_leverage",
                "value": 3.1,
                "utilization": 1.03,
                "message": "gross_leverage 310.00% breaches its hard limit",
            },
        ],
        "charts": charts.dashboard_charts(risk),
        "errors": {},
    }
    return {**context, **changes}


def outside_svg(html: str) -> str:
    return re.sub(r"<svg\b.*?</svg>", "", html, flags=re.S)


def assert_self_contained(html: str) -> None:
    assert "<link" not in html
    assert "<script" not in html
    assert "@import" not in html and "url(" not in outside_svg(html)
    assert set(re.findall(r"https?://[^\s\"'<)]+", html)) <= NAMESPACES
    assert "http" not in outside_svg(html)


@pytest.fixture(scope="module")
def pack_html() -> str:
    return render_to_string("briefing/pack.html", pack_context())


@pytest.fixture(scope="module")
def dashboard_html() -> str:
    return render_to_string("briefing/dashboard.html", dashboard_context())


def test_pack_has_every_section_in_order_one_sheet_each(pack_html):
    positions = [pack_html.index(heading) for heading in PACK_SECTIONS]
    assert positions == sorted(positions)
    assert pack_html.count('<section class="sheet"') == len(PACK_SECTIONS)
    assert pack_html.startswith("<!doctype html>")
    assert "as of the close of 2026-11-30" in pack_html


def test_pack_numbers_are_formatted(pack_html):
    text = outside_svg(pack_html)
    assert "101,843,453.87" in text  # NAV
    assert "−2,345.10" in text  # negative MTD P&L, real minus sign
    assert "+0.12%" in text and "−0.91%" in text  # TWR 1D and MTD
    assert "5,012.25" in text and "110.515625" in text and "−25" in text  # close, price, qty
    assert "612,345.12" in text and "0.60%" in text  # VaR 99 and its share of NAV
    assert "1.50%" in text and "2.00%" in text  # the var_99 limit's soft and hard
    assert "0.0101" not in text and "0.006<" not in text  # no raw float
    assert 'class="num neg">−2,345.10' in text


def test_pack_charts_are_inline(pack_html):
    for name in ("nav", "attribution", "utilization", "moves"):
        assert len(re.findall(rf'<svg [^>]*data-chart="{name}"', pack_html)) == 1
    assert_self_contained(pack_html)


def test_pack_warnings_proposals_and_breaches(pack_html):
    assert "No close for GC on 2026-11-30" in pack_html
    assert '<a href="/admin/trades/tradeproposal/7/change/">7</a>' in pack_html
    assert "breaks a hard limit" in pack_html
    assert "Gold as a hedge" in pack_html
    assert "No limit in breach" not in pack_html
    assert '<span class="badge breach">breach</span>' in pack_html
    assert "gross_leverage 310.00% breaches its hard limit 300.00%" in pack_html


def test_pack_empty_states():
    risk = {**sample_pack()["risk"], "breaches": [], "insufficient_history": True}
    html = render_to_string(
        "briefing/pack.html",
        pack_context(proposals=[], alerts=[], warnings=[], risk=risk, market_moves=[]),
    )
    assert "No proposal pending" in html
    assert "No alert" in html
    assert "No limit in breach" in html
    assert "Insufficient history" in html
    assert "Warnings" not in html
    assert_self_contained(html)


def test_an_empty_pack_still_renders():
    html = render_to_string(
        "briefing/pack.html", {"pack": {}, "charts": charts.pack_charts({}), "portfolio_code": "X"}
    )
    for heading in PACK_SECTIONS[1:]:
        assert heading in html
    assert "No data" in html


def test_user_text_is_escaped():
    pack = sample_pack()
    pack["proposals"][0]["rationale"] = "<script>alert(1)</script>"
    html = render_to_string("briefing/pack.html", pack_context(proposals=pack["proposals"]))
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_dashboard_has_every_section(dashboard_html):
    for heading in DASHBOARD_SECTIONS:
        assert f">{heading}</h2>" in dashboard_html
    assert_self_contained(dashboard_html)
    assert len(re.findall(r'<svg [^>]*data-chart="utilization"', dashboard_html)) == 1


def test_dashboard_numbers_links_and_notices(dashboard_html):
    text = outside_svg(dashboard_html)
    assert "101,843,453.87" in text and "−2,345.10" in text and "−20,000,000.00" in text
    assert "178.00%" in text  # leverage
    assert "Incomplete: 1 unvalued" in text and "no close for GC" in text
    assert "Insufficient history" in text
    assert '<a href="/admin/trades/tradeproposal/7/change/">7</a>' in text
    assert 'href="/admin/trades/tradeproposal/?status__exact=pending"' in text
    assert 'href="/briefing/2026-12-01/"' in text and "Morning pack for 2026-12-01" in text
    assert "gross_leverage 310.00% breaches its hard limit" in text
    assert '<span class="badge breach">breach</span>' in text


def test_dashboard_shows_a_section_error_instead_of_its_numbers():
    context = dashboard_context(
        risk=None, charts={}, errors={"risk": "No close for ES yet: risk cannot be computed"}
    )
    html = render_to_string("briefing/dashboard.html", context)
    assert "No close for ES yet: risk cannot be computed" in html
    assert "612,345.12" not in html and "VaR 99%" not in html
    assert "101,843,453.87" in html  # the book still answers


def test_dashboard_empty_states():
    html = render_to_string(
        "briefing/dashboard.html",
        dashboard_context(proposals=[], alerts=[], pack=None, pack_url=None),
    )
    assert "No proposal pending" in html
    assert "No alert" in html
    assert "No morning pack yet" in html


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("money", "101843453.87", "101,843,453.87"),
        ("money", Decimal("-2345.1"), "−2,345.10"),
        ("money", None, "—"),
        ("money", "not a number", "—"),
        ("money", float("nan"), "—"),
        ("qty", "10.000", "10"),
        ("qty", Decimal("-3.5"), "−3.5"),
        ("pct", 0.0215, "2.15%"),
        ("pct", "-0.004", "−0.40%"),
        ("pct", None, "—"),
        ("signed_pct", 0.0042, "+0.42%"),
        ("signed_pct", -0.011, "−1.10%"),
        ("signed_pct", 0, "0.00%"),
        ("signed_pct", None, "—"),
        ("sign", "-1.5", "neg"),
        ("sign", 0.2, "pos"),
        ("sign", 0, ""),
        ("sign", None, ""),
        ("isodate", dt.date(2026, 12, 1), "2026-12-01"),
        ("isodate", "2026-12-01", "2026-12-01"),
    ],
)
def test_desk_filters(name, value, expected):
    assert getattr(desk, name)(value) == expected
