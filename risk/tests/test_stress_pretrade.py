"""Stress (named shocks and the worst historical windows) and the pre-trade impact of a trade."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pms_project.errors import PMSError
from portfolio.tests.api_support import counts, open_position
from portfolio.tests.factories import InstrumentFactory
from risk import pretrade, report
from risk.models import Alert, StressScenario, StressShock

from .fixtures_risk import (
    DATES,
    HELD,
    LAST,
    build_market,
    expected_var,
    exposure,
    limit,
    live_exposures,
    open_book,
    risk_counts,
    stored_values,
)

pytestmark = pytest.mark.django_db


# --- Stress -----------------------------------------------------------------------------------

DEFAULT_SCENARIOS = {
    "risk-off": {"EQUITY": -0.10, "COMMODITY": -0.08, "CREDIT": -0.03, "FX": -0.03, "RATES": 0.02},
    "rates up": {"RATES": -0.06, "EQUITY": -0.03, "CREDIT": -0.015},
    "USD rally": {"FX": -0.05, "COMMODITY": -0.04, "EQUITY": -0.02},
    "commodity crash": {
        "COMMODITY": -0.20,
        "EQUITY": -0.04,
        "CREDIT": -0.02,
        "FX": -0.02,
        "RATES": 0.01,
    },
}
CLASS_OF = {"ES": "EQUITY", "FGBL": "RATES", "GC": "COMMODITY"}


def test_the_migration_installs_the_four_default_scenarios():
    scenarios = {
        s.name: {x.asset_class: float(x.shock) for x in s.shocks.all()}
        for s in StressScenario.objects.prefetch_related("shocks")
    }
    for name, shocks in DEFAULT_SCENARIOS.items():
        assert scenarios[name] == shocks, name
    assert all(s.description for s in StressScenario.objects.filter(name__in=DEFAULT_SCENARIOS))


def test_named_scenarios_are_exposure_times_shock_by_hand(portfolio, market):
    # Given the book (exposures from LAST's closes)
    e = {s: exposure(market, s, q) for s, q in HELD.items()}
    # When the stress report is read
    result = report.stress_report(portfolio)
    # Then each default scenario's P&L is Σ exposure × its asset class's shock
    named = {row["name"]: row for row in result["scenarios"]}
    assert set(named) >= set(DEFAULT_SCENARIOS)
    for name, shocks in DEFAULT_SCENARIOS.items():
        by_hand = sum(float(e[s]) * shocks.get(CLASS_OF[s], 0.0) for s in e)
        assert float(named[name]["pnl"]) == pytest.approx(by_hand, rel=1e-12), name
        assert named[name]["nav_fraction"] == pytest.approx(
            by_hand / float(result["nav"]), rel=1e-12
        )
        assert named[name]["shocks"] == shocks


def test_an_instrument_shock_overrides_its_asset_class(portfolio, market):
    # Given risk-off with ES at −25 % (its class says −10 %), and a new scenario with an equity
    # shock, a commodity shock and GC's own +3 %
    risk_off = StressScenario.objects.get(name="risk-off")
    es, gc = (InstrumentFactory(symbol=s) for s in ("ES", "GC"))
    StressShock.objects.create(scenario=risk_off, instrument=es, shock=Decimal("-0.25"))
    custom = StressScenario.objects.create(name="gold squeeze", description="gold up")
    StressShock.objects.create(scenario=custom, asset_class="EQUITY", shock=Decimal("-0.05"))
    StressShock.objects.create(scenario=custom, asset_class="COMMODITY", shock=Decimal("-0.1"))
    StressShock.objects.create(scenario=custom, instrument=gc, shock=Decimal("0.03"))
    StressScenario.objects.filter(name="USD rally").update(active=False)
    e = {s: float(exposure(market, s, q)) for s, q in HELD.items()}
    # When the stress report is read
    named = {row["name"]: row for row in report.stress_report(portfolio)["scenarios"]}
    # Then the instrument's shock wins over its class's; the rest keep their class shocks;
    # inactive scenarios are left out
    assert {"commodity crash", "gold squeeze", "rates up", "risk-off"} <= set(named)
    assert "USD rally" not in named
    risk_off_pnl = e["ES"] * -0.25 + e["FGBL"] * 0.02 + e["GC"] * -0.08
    assert float(named["risk-off"]["pnl"]) == pytest.approx(risk_off_pnl, rel=1e-12)
    assert named["risk-off"]["shocks"]["ES"] == -0.25
    custom_pnl = e["ES"] * -0.05 + e["GC"] * 0.03  # FGBL: no rates shock, 0
    assert float(named["gold squeeze"]["pnl"]) == pytest.approx(custom_pnl, rel=1e-12)
    assert named["gold squeeze"]["shocks"] == {"EQUITY": -0.05, "COMMODITY": -0.1, "GC": 0.03}


PLANT = 40  # DATES[40]: Tue 2024-02-27


def _windows_by_hand(values, e: dict[str, float]) -> dict[int, tuple]:
    """Every overlapping 1/5/20-day window, P&L = Σ e × (Π(1 + r) − 1), by plain loops."""
    returns = values.pct_change(fill_method=None).iloc[1:].dropna()
    dates = list(returns.index)
    worst = {}
    for days in (1, 5, 20):
        best = None
        for start in range(len(dates) - days + 1):
            chunk = returns.iloc[start : start + days]
            pnl = sum(e[s] * (float((1 + chunk[s]).prod()) - 1) for s in e)
            if best is None or pnl < best[2]:
                best = (dates[start], dates[start + days - 1], pnl)
        worst[days] = best
    return worst


@pytest.mark.parametrize("symbol", ["ES", "FGBL"])
def test_the_worst_historical_day_is_the_planted_fall(portfolio, symbol):
    # Given a −10 % close planted on DATES[40] in one instrument, held long alone
    quantity = {"ES": 2, "FGBL": 3}[symbol]
    market = build_market(plant={symbol: PLANT})
    open_book(portfolio, market, held={symbol: quantity})
    e = float(exposure(market, symbol, quantity))
    # When the stress report is read
    result = report.stress_report(portfolio)
    historical = {w["days"]: w for w in result["historical"]}
    # Then the worst 1-day window is that date, its P&L exposure × −10 % (times the EURUSD move
    # of the day for the EUR future)
    fx = 1.0
    if symbol == "FGBL":
        fx = float(market.close("EURUSD", DATES[PLANT]) / market.close("EURUSD", DATES[PLANT - 1]))
    worst = historical[1]
    assert (worst["start"], worst["end"]) == (DATES[PLANT], DATES[PLANT])
    assert float(worst["pnl"]) == pytest.approx(e * (0.9 * fx - 1), rel=1e-9)
    assert worst["nav_fraction"] == pytest.approx(float(worst["pnl"]) / float(result["nav"]))
    # And the 5- and 20-day windows are the lowest of every overlapping window, by hand
    by_hand = _windows_by_hand(stored_values([symbol]), {symbol: e})
    assert sorted(historical) == [1, 5, 20]
    for days, (start, end, pnl) in by_hand.items():
        window = historical[days]
        assert (window["start"], window["end"]) == (start, end), days
        assert float(window["pnl"]) == pytest.approx(pnl, rel=1e-9), days
        assert start <= DATES[PLANT] <= end
    assert (result["history_days"], result["history"]) == (80, {"first": DATES[1], "last": LAST})


def test_stress_names_an_instrument_without_history(portfolio, market):
    InstrumentFactory(symbol="NEWCO", asset_class="EQUITY", multiplier=Decimal(1))
    open_position(portfolio, "NEWCO", "100", "50", day=LAST)
    result = report.stress_report(portfolio)
    assert result["no_history"] == ["NEWCO"]
    named = {row["name"]: row for row in result["scenarios"]}
    e = {s: float(exposure(market, s, q)) for s, q in HELD.items()}
    # NEWCO's 5,000 of exposure still takes its class shock in the named scenarios
    by_hand = e["ES"] * -0.10 + e["FGBL"] * 0.02 + e["GC"] * -0.08 + 5000 * -0.10
    assert float(named["risk-off"]["pnl"]) == pytest.approx(by_hand, rel=1e-12)
    assert [w["days"] for w in result["historical"]] == [1, 5, 20]


# --- Pre-trade impact -------------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "quantity"), [("ES", "3"), ("FGBL", "-4"), ("GC", "2")])
def test_pretrade_before_is_live_and_after_adds_the_trade(portfolio, market, symbol, quantity):
    # Given the book, a gross leverage limit and a VaR limit
    limit(portfolio, "gross_leverage", "1.5", "3")
    limit(portfolio, "var_99", "0.05", "0.1")
    live = report.risk_live(portfolio)
    price = market.close(symbol)
    # When the impact of a trade at the last close is asked
    impact = pretrade.pretrade_impact(
        portfolio=portfolio, symbol=symbol, quantity=Decimal(quantity), price=price
    )
    # Then "before" is live risk's VaR 99
    assert impact["before"]["var_99"] == live["var"]["var_99"]["amount"]
    assert impact["before"]["scenarios"] == live["scenarios"] == 80
    # And the added exposure is quantity × multiplier × price × the latest fx
    added = exposure(market, symbol, quantity)
    assert impact["exposure_added"] == pytest.approx(added, abs=Decimal("1E-8"))
    # And "after" is the recomputation with that exposure added to the instrument's
    exposures = live_exposures(portfolio)
    exposures[symbol] += float(added)
    expected = expected_var(stored_values(list(HELD)), exposures)
    assert float(impact["after"]["var_99"]) == pytest.approx(expected["var_99"], rel=1e-6)
    assert impact["after"]["var_99_fraction"] == pytest.approx(
        expected["var_99"] / float(live["nav"]), rel=1e-6
    )
    gross_after = sum(abs(v) for v in exposures.values())
    rows = {r["metric"]: r for r in impact["after"]["limits"]}
    assert rows["gross_leverage"]["value"] == pytest.approx(
        gross_after / float(live["nav"]), rel=1e-12
    )
    assert impact["before"]["limits"] == live["limits"]
    assert (impact["hard_breaches"], impact["breaks_hard_limit"]) == ([], False)


def test_a_trade_that_closes_a_position_lowers_gross_leverage(portfolio, market):
    # Given long 1 GC (MANUAL) in the book, gross leverage ≈ 1.07, a hard limit of 1.2
    limit(portfolio, "gross_leverage", "1.1", "1.2")
    limit(portfolio, "gross_commodity", "0.25", "0.3")
    live = report.risk_live(portfolio)
    nav = float(live["nav"])
    e = live_exposures(portfolio)
    # When selling 1 GC (a manual trade, into the same MANUAL sleeve) is assessed
    impact = pretrade.pretrade_impact(
        portfolio=portfolio, symbol="GC", quantity=Decimal(-1), price=market.close("GC")
    )
    # Then the position is flat after the trade: gross leverage falls by GC's exposure and the
    # commodity gross is zero; no limit is broken
    after = {r["metric"]: r for r in impact["after"]["limits"]}
    assert after["gross_leverage"]["value"] == pytest.approx(
        (abs(e["ES"]) + abs(e["FGBL"])) / nav, rel=1e-12
    )
    assert after["gross_commodity"]["value"] == 0.0
    assert (impact["hard_breaches"], impact["breaks_hard_limit"]) == ([], False)


def test_pretrade_in_an_instrument_listed_later_keeps_each_sides_common_dates(portfolio):
    # Given the book, and NQ (not held) listed on DATES[30]
    market = build_market(("ES", "FGBL", "GC", "EURUSD", "NQ"), listed={"NQ": 30})
    open_book(portfolio, market)
    # When buying 40 NQ is assessed
    impact = pretrade.pretrade_impact(
        portfolio=portfolio, symbol="NQ", quantity=Decimal(40), price=market.close("NQ")
    )
    # Then "before" keeps its 80 scenarios; "after" has the 50 common dates with NQ, flagged
    assert (impact["before"]["scenarios"], impact["before"]["insufficient_history"]) == (80, False)
    assert (impact["after"]["scenarios"], impact["after"]["insufficient_history"]) == (50, True)
    exposures = {**live_exposures(portfolio), "NQ": float(exposure(market, "NQ", 40))}
    expected = expected_var(stored_values([*HELD, "NQ"]), exposures)
    assert float(impact["after"]["var_99"]) == pytest.approx(expected["var_99"], rel=1e-6)


def test_a_trade_over_the_hard_leverage_limit_is_flagged_and_nothing_is_written(portfolio, market):
    # Given gross leverage ≈ 1.07 against a soft 1.2 / hard 1.5 limit
    limit(portfolio, "gross_leverage", "1.2", "1.5")
    limit(portfolio, "var_99", "0.5", "1")
    leverage = report.risk_live(portfolio)["exposures"]["leverage"]
    assert 1 < leverage < 1.2
    before_portfolio, before_risk = counts(), risk_counts()
    # When buying 3 more ES (≈ +0.72 of leverage) is assessed
    impact = pretrade.pretrade_impact(
        portfolio=portfolio, symbol="ES", quantity=Decimal(3), price=market.close("ES")
    )
    # Then the trade breaks the hard leverage limit, and only that one
    assert impact["breaks_hard_limit"] is True
    assert impact["hard_breaches"] == ["gross_leverage"]
    before = {r["metric"]: r["status"] for r in impact["before"]["limits"]}
    after = {r["metric"]: r["status"] for r in impact["after"]["limits"]}
    assert before == {"gross_leverage": "ok", "var_99": "ok"}
    assert after == {"gross_leverage": "breach", "var_99": "ok"}
    # And nothing is written: no row in the book or the risk tables, no alert
    assert counts() == before_portfolio
    assert risk_counts() == before_risk
    assert Alert.objects.count() == 0


@pytest.mark.parametrize(
    ("symbol", "quantity", "price", "field"),
    [
        ("NOPE", "1", "100", "symbol"),
        ("ES", "0", "100", "quantity"),
        ("ES", "1", "0", "price"),
        ("ES", "1", "-5", "price"),
    ],
)
def test_pretrade_bad_input_names_the_field(portfolio, market, symbol, quantity, price, field):
    with pytest.raises(PMSError) as raised:
        pretrade.pretrade_impact(
            portfolio=portfolio, symbol=symbol, quantity=Decimal(quantity), price=Decimal(price)
        )
    assert raised.value.field == field
