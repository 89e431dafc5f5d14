"""The charts module: inline, self-contained, accessible SVG whatever the input (pure, no DB)."""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import matplotlib
import pytest

from briefing import charts

SVG = "{http://www.w3.org/2000/svg}"
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def sample_pack() -> dict:
    """A morning pack as the services store it: Decimals as strings, dates as ISO strings."""
    start = dt.date(2026, 1, 2)
    days = [start + dt.timedelta(days=i) for i in range(0, 340) if (start.toordinal() + i) % 7 < 5]
    curve = [
        {"date": d.isoformat(), "nav": f"{100_000_000 + 5_400 * i + 250_000 * math.sin(i / 9):.2f}"}
        for i, d in enumerate(days)
    ]
    position = {
        "symbol": "ES",
        "strategy": "TREND",
        "asset_class": "equity",
        "currency": "USD",
        "quantity": "10",
        "price": "5012.25",
        "exposure": "2506125.00",
        "daily_pnl": "-1250.00",
        "total_pnl": "35000.00",
    }
    short = {
        **position,
        "symbol": "TY",
        "strategy": "CARRY",
        "asset_class": "rates",
        "quantity": "-25",
        "price": "110.515625",
        "exposure": "-2762890.63",
        "daily_pnl": "4100.00",
        "total_pnl": "-12000.50",
    }
    limits = [
        {"id": 1, "metric": "var_99", "value": 0.01, "soft": "0.0150", "hard": "0.0200",
         "utilization": 0.5, "status": "ok"},
        {"id": 2, "metric": "gross_leverage", "value": 3.1, "soft": "2.5000", "hard": "3.0000",
         "utilization": 1.0333, "status": "breach"},
        {"id": 3, "metric": "drawdown", "value": 0.085, "soft": "0.0800", "hard": "0.1000",
         "utilization": 0.85, "status": "warning"},
        {"id": 4, "metric": "es_975", "value": None, "soft": "0.0200", "hard": "0.0300",
         "utilization": None, "status": "unavailable"},
    ]  # fmt: skip
    moves = [
        {
            "symbol": "ES",
            "name": "E-mini S&P 500",
            "asset_class": "equity",
            "currency": "USD",
            "held": True,
            "signalled": False,
            "close": "5012.25",
            "close_date": "2026-11-30",
            "moves": {"1D": 0.0042, "1W": -0.011, "1M": None},
        },
        {
            "symbol": "TY",
            "name": "10-year T-note",
            "asset_class": "rates",
            "currency": "USD",
            "held": True,
            "signalled": True,
            "close": "110.515625",
            "close_date": "2026-11-30",
            "moves": {"1D": -0.0008, "1W": 0.0031, "1M": 0.012},
        },
        {
            "symbol": "EURUSD",
            "name": "Euro / US dollar",
            "asset_class": "fx",
            "currency": "USD",
            "held": False,
            "signalled": True,
            "close": "1.0842",
            "close_date": "2026-11-30",
            "moves": {"1D": 0.0011, "1W": None, "1M": -0.021},
        },
    ]
    proposals = [
        {
            "id": 7,
            "date": "2026-12-01",
            "strategy": "TREND",
            "symbol": "GC",
            "side": "buy",
            "quantity": "10",
            "price": "2650.1",
            "source": "manual",
            "rationale": "Gold as a hedge",
            "created_by": "demo-trader",
            "var_99_before": "1000000.00",
            "var_99_after": "1020000.00",
            "utilization_before": 0.8,
            "utilization_after": 0.85,
            "breaks_hard_limit": False,
            "admin_url": "/admin/trades/tradeproposal/7/change/",
        },
        {
            "id": 8,
            "date": "2026-12-01",
            "strategy": "CARRY",
            "symbol": "TY",
            "side": "sell",
            "quantity": "40",
            "price": "110.5",
            "source": "signal",
            "rationale": "Carry signal flipped",
            "created_by": "system",
            "var_99_before": "1000000.00",
            "var_99_after": "1350000.00",
            "utilization_before": 0.8,
            "utilization_after": 1.12,
            "breaks_hard_limit": True,
            "admin_url": "/admin/trades/tradeproposal/8/change/",
        },
    ]
    alerts = [
        {
            "date": "2026-11-30",
            "metric": "gross_leverage",
            "value": 3.1,
            "utilization": 1.03,
            "message": "gross_leverage 310.00% breaches its hard limit 300.00%",
        },
    ]
    var = {"amount": "612345.12", "nav_fraction": 0.006}
    return {
        "portfolio": "MACRO1",
        "name": "Macro fund 1",
        "base_currency": "USD",
        "date": "2026-12-01",
        "as_of": "2026-11-30",
        "warnings": ["No close for GC on 2026-11-30: marked at the close of 2026-11-27"],
        "header": {
            "nav": "101843453.87",
            "pnl": {"1D": "12345.67", "MTD": "-2345.10", "YTD": "1843453.87"},
            "twr": {"1D": 0.0012, "MTD": -0.0091, "YTD": 0.0184},
            "nav_curve": curve,
        },
        "market_moves": moves,
        "positions": {"count": 12, "top_exposure": [short, position], "top_movers": [short]},
        "risk": {
            "nav": "101843453.87",
            "scenarios": 250,
            "insufficient_history": False,
            "no_history": [],
            "var": {
                "var_95": {"amount": "456789.01", "nav_fraction": 0.0045},
                "var_99": var,
                "es_975": {"amount": "700000.00", "nav_fraction": 0.0069},
                "parametric_var_95": {"amount": "440000.00", "nav_fraction": 0.0043},
                "parametric_var_99": {"amount": "620000.00", "nav_fraction": 0.0061},
            },
            "exposures": {
                "gross": "181526849.49",
                "net": "-20000000.00",
                "leverage": 1.78,
                "net_fraction": -0.196,
            },
            "drawdown": {"drawdown": 0.012, "nav_drawdown": 0.02},
            "limits": limits,
            "breaches": [limits[1]],
        },
        "proposals": proposals,
        "attribution": {
            "period": "MTD",
            "anchor": "2026-10-30",
            "first_date": "2026-11-02",
            "last_date": "2026-11-30",
            "days": 21,
            "pnl": "912345.67",
            "twr": 0.0091,
            "rows": [
                {"key": "TREND", "pnl": "1000000.00", "contribution": 0.0101},
                {"key": "CARRY", "pnl": "-87654.33", "contribution": -0.0010},
            ],
        },
        "alerts": alerts,
    }


def parse(svg: str, name: str) -> ET.Element:
    """The checks every chart passes: inline-able, self-contained, accessible."""
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
    assert "<image" not in svg
    urls = set(re.findall(r"https?://[^\s\"')]+", svg))
    assert urls <= NAMESPACES, urls
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("class") == "chart"
    assert root.get("data-chart") == name
    assert root.get("role") == "img" and root.get("aria-label")
    assert root.get("viewBox") and root.get("width") == "100%" and root.get("height") is None
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_nav_curve_is_an_inline_svg_with_text_as_text():
    points = [(dt.date(2026, 11, d), Decimal(f"1000{d}000.5")) for d in range(2, 28)]
    root = parse(charts.nav_curve(points, title="NAV of MACRO1"), "nav")
    assert root.get("aria-label") == "NAV of MACRO1"
    labels = texts(root)
    assert "NAV of MACRO1" in labels
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+", t) for t in labels)  # thousands separators


def test_nav_curve_takes_iso_strings_and_decimal_strings_and_skips_bad_points():
    points = [("2026-11-02", "100.5"), ("2026-11-03", None), ("2026-11-04", "NaN"), ("x", "1")]
    parse(charts.nav_curve(points), "nav")


def test_signed_bars_show_labels_and_signed_values_in_their_colours():
    rows = [("TREND", 0.0125), ("CARRY", -0.004), ("RV", None)]
    svg = charts.signed_bars(rows, title="Contribution", name="attribution")
    root = parse(svg, "attribution")
    labels = texts(root)
    for expected in ("TREND", "CARRY", "+1.25%", "\u22120.40%", "n/a", "Contribution"):
        assert expected in labels
    assert charts.NEGATIVE in svg and charts.POSITIVE in svg


def test_signed_bars_without_percent_use_thousands_separators():
    root = parse(
        charts.signed_bars([("A", 1234.5), ("B", -98765.4)], title="P&L", percent=False),
        "signed_bars",
    )
    assert {"+1,234.50", "\u221298,765.40"} <= set(texts(root))


def test_only_a_negative_row_is_red():
    assert charts.NEGATIVE not in charts.signed_bars([("A", 0.01), ("B", 0.0)], title="t")


def test_utilization_colours_a_breach_red_and_marks_missing_values():
    red = f"fill: {charts.NEGATIVE}"
    ok = charts.utilization_bars([("var_99", 0.5, 0.75, "ok")])
    assert red not in ok and f"fill: {charts.POSITIVE}" in ok
    rows = [("var_99", 0.5, 0.75, "ok"), ("gross_leverage", 1.03, 0.8, "breach")]
    breach = charts.utilization_bars(rows)
    root = parse(breach, "utilization")
    assert red in breach  # the breached bar and its label
    assert {"gross_leverage", "103.0%", "50.0%"} <= set(texts(root))
    labels = {"".join(t.itertext()): t.get("style", "") for t in root.iter(f"{SVG}text")}
    assert red in labels["103.0%"] and red not in labels["50.0%"]
    missing = parse(charts.utilization_bars([("es_975", None, 0.75, "unavailable")]), "utilization")
    assert "n/a" in texts(missing)


def test_grouped_moves_have_a_legend_and_a_percent_axis():
    rows = [("ES", 0.0042, -0.011, None), ("TY", None, 0.003, 0.012)]
    root = parse(charts.grouped_moves(rows), "moves")
    labels = texts(root)
    assert {"1D", "1W", "1M", "ES", "TY", "n/a"} <= set(labels)
    assert any(t.endswith("%") for t in labels)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda rows: charts.nav_curve(rows), "nav"),
        (lambda rows: charts.signed_bars(rows, title="t"), "signed_bars"),
        (lambda rows: charts.utilization_bars(rows), "utilization"),
        (lambda rows: charts.grouped_moves(rows), "moves"),
    ],
)
def test_empty_input_says_no_data(build, name):
    for empty in ([], None):
        root = parse(build(empty), name)
        assert "No data" in texts(root)


def test_none_and_nan_do_not_raise():
    nan = float("nan")
    parse(charts.nav_curve([("2026-11-02", None), ("2026-11-03", nan)]), "nav")
    parse(
        charts.signed_bars([("A", None), ("B", nan), ("C", Decimal("NaN"))], title="t"),
        "signed_bars",
    )
    parse(
        charts.utilization_bars([("a", None, None, "unavailable"), ("b", nan, nan, "")]),
        "utilization",
    )
    parse(charts.grouped_moves([("ES", None, nan, float("inf"))]), "moves")


def test_labels_are_escaped_and_titles_with_dollars_stay_text():
    svg = charts.signed_bars([("<script>alert(1)</script>", 0.01)], title="P&L in $ and $")
    root = parse(svg, "signed_bars")
    assert "<script>" not in svg
    assert "<script>alert(1)</script>" in texts(root)
    assert root.get("aria-label") == "P&L in $ and $"


def test_charts_are_deterministic_and_ids_do_not_clash_between_charts():
    pack = sample_pack()
    first, again = charts.pack_charts(pack), charts.pack_charts(pack)
    assert first == again
    ids = [i for svg in first.values() for i in re.findall(r'\sid="([^"]+)"', svg)]
    assert len(ids) == len(set(ids))


def test_pack_charts_returns_the_four_charts():
    result = charts.pack_charts(sample_pack())
    assert set(result) == {"nav", "attribution", "utilization", "moves"}
    for name, svg in result.items():
        parse(svg, name)
    assert "TREND" in texts(ET.fromstring(result["attribution"]))


def test_pack_charts_of_an_empty_pack_say_no_data():
    result = charts.pack_charts({})
    assert all("No data" in texts(parse(svg, name)) for name, svg in result.items())


def test_dashboard_charts_take_decimal_limits():
    risk = {
        "limits": [
            {
                "metric": "var_99",
                "value": 0.01,
                "soft": Decimal("0.015"),
                "hard": Decimal("0.02"),
                "utilization": 0.5,
                "status": "ok",
            },
            {
                "metric": "gross_leverage",
                "value": 3.1,
                "soft": Decimal("2.5"),
                "hard": Decimal("0"),
                "utilization": None,
                "status": "unavailable",
            },
        ]
    }
    result = charts.dashboard_charts(risk)
    assert set(result) == {"utilization"}
    assert "var_99" in texts(parse(result["utilization"], "utilization"))
    assert "No data" in texts(parse(charts.dashboard_charts({})["utilization"], "utilization"))


def test_global_rcparams_do_not_change_a_chart():
    points = [(dt.date(2026, 11, d), 100.0 + d) for d in range(2, 20)]
    before = charts.nav_curve(points)
    rc = {"svg.fonttype": "path", "font.size": 20, "lines.linewidth": 5, "axes.grid": False}
    with matplotlib.rc_context(rc):
        assert charts.nav_curve(points) == before
    assert "<text" in before


def test_charts_drawn_in_threads_are_the_charts_drawn_alone():
    pack = sample_pack()
    expected = charts.pack_charts(pack)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: charts.pack_charts(pack), range(6)))
    assert all(result == expected for result in results)
