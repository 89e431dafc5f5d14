"""Live risk on real PostgreSQL: exposures equal the book's, VaR against a direct numpy
recomputation, a held instrument without history."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pandas as pd
import pytest

from portfolio.book import book_get
from portfolio.tests.api_support import open_position
from portfolio.tests.factories import InstrumentFactory
from risk import report, services

from .fixtures_risk import (
    DATES,
    HELD,
    LAST,
    assert_var_matches,
    build_market,
    expected_var,
    exposure,
    limit,
    live_exposures,
    open_book,
    set_today,
    stored_values,
)

pytestmark = pytest.mark.django_db


# --- Live risk: exposures ---------------------------------------------------------------------


def test_live_exposures_are_the_books(portfolio, market):
    # Given long 2 ES, short 3 FGBL (EUR), long 1 GC, closes to LAST
    # When live risk is computed
    result = services.risk_live(portfolio)
    book = book_get(portfolio)
    # Then its exposures are the book's, to the last digit
    exposures = result["exposures"]
    assert exposures["gross"] == book["gross_exposure"]
    assert exposures["net"] == book["net_exposure"]
    assert {cls: row["net"] for cls, row in exposures["by_asset_class"].items()} == book[
        "exposure_by_asset_class"
    ]
    assert {cls: row["gross"] for cls, row in exposures["by_asset_class"].items()} == book[
        "gross_exposure_by_asset_class"
    ]
    assert result["nav"] == book["nav"]
    assert exposures["leverage"] == book["leverage"]
    # And the book's exposures are quantity × multiplier × last close × last EURUSD, by hand
    by_hand = {s: exposure(market, s, q) for s, q in HELD.items()}
    assert book["exposure_totals"].by_instrument == pytest.approx(by_hand, abs=Decimal("1E-8"))
    assert set(exposures["by_asset_class"]) == {"COMMODITY", "EQUITY", "RATES"}
    largest = max(by_hand, key=lambda s: abs(by_hand[s]))
    assert exposures["largest"]["symbol"] == largest == "ES"
    assert result["as_of"] == LAST
    assert (result["complete"], result["unvalued"], result["no_history"]) == (True, [], [])


# --- Live risk: VaR against a direct recomputation --------------------------------------------


def test_live_var_equals_a_direct_numpy_recomputation(portfolio, market):
    # Given the book and 81 closes of each instrument (80 returns)
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then every figure is the numpy recomputation from the stored closes (price × fx returns,
    # common dates, the last 250, linear percentile, ES, z·√(eᵀ Σ e))
    expected = expected_var(stored_values(list(HELD)), live_exposures(portfolio))
    assert expected["scenarios"] == 80
    assert result["scenarios"] == 80
    assert result["scenario_dates"] == {"first": DATES[1], "last": LAST}
    assert result["insufficient_history"] is False
    assert_var_matches(result["var"], expected)
    # And each figure's fraction is amount / NAV
    nav = float(result["nav"])
    for name, figure in result["var"].items():
        assert figure["nav_fraction"] == pytest.approx(expected[name] / nav, rel=1e-6), name
    # And the ordering a desk expects holds
    var = {k: float(v["amount"]) for k, v in result["var"].items()}
    assert 0 < var["var_95"] < var["var_99"]
    assert var["es_975"] >= var["var_95"]


@pytest.mark.parametrize(
    ("symbol", "quantity", "pair"),
    [("FGBL", -3, "EURUSD"), ("NK", 2, "USDJPY")],
    ids=["EUR × EURUSD", "JPY ÷ USDJPY"],
)
def test_live_var_converts_a_foreign_instruments_returns(portfolio, symbol, quantity, pair):
    # Given a book holding only a foreign future, converted to USD by its pair (direct for EUR,
    # inverse for JPY)
    market = build_market((symbol, pair))
    open_book(portfolio, market, held={symbol: quantity})
    exposures = live_exposures(portfolio)
    assert exposures == {symbol: pytest.approx(float(exposure(market, symbol, quantity)))}
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then the VaR is that of the USD values (price × fx)
    converted = expected_var(stored_values([symbol]), exposures)
    assert result["scenarios"] == 80
    assert_var_matches(result["var"], converted)
    # And not that of the prices in their own currency: the currency moves count
    raw = expected_var(stored_values([symbol], convert=False), exposures)
    assert not math.isclose(raw["var_99"], converted["var_99"], rel_tol=1e-3)


LONG_DATES = [d.date() for d in pd.bdate_range("2022-09-01", periods=400)]


@pytest.mark.parametrize("today", [None, dt.date(2024, 3, 26)], ids=["years-later", "next-day"])
def test_the_window_is_the_last_250_common_dates(monkeypatch, portfolio, today):
    # Given 400 business days of ES and GC closes (to Mon 2024-03-25), long both; read either
    # years later or the next day (when the look-back alone holds ≥ 250 common dates)
    market = build_market(("ES", "GC"), dates=LONG_DATES)
    last = LONG_DATES[-1]
    open_book(portfolio, market, held={"ES": 2, "GC": -3}, day=last)
    if today is not None:
        assert (today - dt.timedelta(days=report.LOOKBACK_DAYS)) > LONG_DATES[0]
        set_today(monkeypatch, today)
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then the scenarios are the last 250 returns and the VaR is theirs
    assert result["scenarios"] == 250
    assert result["scenario_dates"] == {"first": LONG_DATES[150], "last": last}
    expected = expected_var(stored_values(["ES", "GC"]), live_exposures(portfolio))
    assert expected["scenarios"] == 250
    assert_var_matches(result["var"], expected)


@pytest.mark.parametrize(
    ("first_close", "scenarios", "insufficient"),
    [
        (0, 80, False),  # listed with the others
        (10, 70, False),  # listed 10 days later: 70 common dates
        (20, 60, False),  # exactly the minimum
        (21, 59, True),  # one short of it
        (30, 50, True),
    ],
)
def test_an_instrument_listed_later_shortens_the_window_to_the_common_dates(
    portfolio, first_close, scenarios, insufficient
):
    # Given the book plus long 40 NQ, whose closes start at DATES[first_close]
    market = build_market(("ES", "FGBL", "GC", "EURUSD", "NQ"), listed={"NQ": first_close})
    open_book(portfolio, market, held={**HELD, "NQ": 40})
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then the scenarios are the dates on which every instrument has a return: after NQ's
    # first close
    assert result["scenarios"] == scenarios
    assert result["scenario_dates"] == {"first": DATES[first_close + 1], "last": LAST}
    assert result["insufficient_history"] is insufficient
    assert result["no_history"] == []
    expected = expected_var(stored_values([*HELD, "NQ"]), live_exposures(portfolio))
    assert expected["scenarios"] == scenarios
    assert_var_matches(result["var"], expected)


# --- Live risk: a held instrument without history ---------------------------------------------


def test_a_held_instrument_with_no_price_history_is_named_and_left_out(portfolio, market):
    # Given the book plus long 100 NEWCO, never priced (the book values it at its execution
    # price)
    InstrumentFactory(symbol="NEWCO", asset_class="EQUITY", multiplier=Decimal(1))
    open_position(portfolio, "NEWCO", "100", "50", day=LAST)
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then it answers, naming NEWCO as without history and flagging the history as insufficient
    assert result["no_history"] == ["NEWCO"]
    assert result["insufficient_history"] is True
    # And NEWCO's exposure (at its execution price) is in the exposures, not in the VaR, which
    # is the other three's
    assert result["exposures"]["by_asset_class"]["EQUITY"]["net"] == (
        exposure(market, "ES", 2) + Decimal(5000)
    )
    assert result["complete"] is True
    assert result["scenarios"] == 80
    exposures = {s: e for s, e in live_exposures(portfolio).items() if s != "NEWCO"}
    assert_var_matches(result["var"], expected_var(stored_values(list(HELD)), exposures))


def test_a_book_holding_only_an_unpriced_instrument_has_no_var(portfolio):
    # Given a single long position in NEWCO (USD), never priced
    InstrumentFactory(symbol="NEWCO", asset_class="EQUITY", multiplier=Decimal(1))
    open_position(portfolio, "NEWCO", "100", "50", day=LAST)
    limit(portfolio, "var_99", "0.01", "0.02")
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then there is no scenario and no figure, and the VaR limit cannot be assessed
    assert (result["scenarios"], result["no_history"], result["insufficient_history"]) == (
        0,
        ["NEWCO"],
        True,
    )
    assert {name: f["amount"] for name, f in result["var"].items()} == dict.fromkeys(
        report.VAR_FIGURES
    )
    [row] = result["limits"]
    assert (row["status"], row["value"], row["utilization"]) == ("unavailable", None, None)


def test_a_book_holding_only_an_unpriced_eur_instrument_has_no_var(portfolio):
    # Given EURUSD with 81 closes and a single long position in BOBL (EUR), never priced
    market = build_market(("EURUSD",))
    InstrumentFactory(symbol="BOBL", asset_class="RATES", currency="EUR", multiplier=Decimal(1))
    open_position(portfolio, "BOBL", "1000", "117", day=LAST)
    limit(portfolio, "var_99", "0.01", "0.02")
    assert market.closes["EURUSD"]
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then, as for a USD instrument without history, there is no scenario and no VaR (not a VaR
    # of zero on the EURUSD dates, which marks the limit "ok")
    assert result["no_history"] == ["BOBL"]
    assert result["scenarios"] == 0
    assert result["var"]["var_99"]["amount"] is None
    assert result["limits"][0]["status"] == "unavailable"


def test_an_empty_book_has_no_scenario(portfolio):
    result = services.risk_live(portfolio)
    assert (result["scenarios"], result["insufficient_history"], result["no_history"]) == (
        0,
        True,
        [],
    )
    assert result["var"]["var_99"] == {"amount": None, "nav_fraction": None}
    assert (result["exposures"]["gross"], result["nav"]) == (0, Decimal(1_000_000))
    assert result["exposures"]["largest"] is None
