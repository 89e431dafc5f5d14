"""The batched pre-trade check gives, trade by trade, what the plain path gives: the after side
rebuilt from the book's rows and its VaR computed by ``var_of`` on its own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio.models import Instrument
from portfolio.tests.factories import InstrumentFactory
from risk import pretrade, report
from risk import services as risk_services

from .fixtures_risk import DATES, OPEN, build_market, open_book, open_position


def plain_after(portfolio, trade: pretrade.Trade):
    """(VaR result, no-history symbols) of the book after ``trade``, the long way."""
    live = report.live_book(portfolio)
    rows, booked = [], False
    added = pcalc.exposure(
        quantity=trade.quantity,
        multiplier=trade.instrument.multiplier,
        price=trade.price,
        fx=pcalc.ONE,
    )
    for r in live.book["positions"]:
        exposure = r["exposure"]
        if (r["symbol"], r["strategy"]) == (trade.instrument.symbol, trade.strategy):
            exposure, booked = exposure + added, True
        rows.append(pcalc.ExposureRow(r["symbol"], r["asset_class"], r["currency"], exposure))
    if not booked:
        i = trade.instrument
        rows.append(pcalc.ExposureRow(i.symbol, i.asset_class, i.currency, added))
    i = trade.instrument
    info = report.selectors.InstrumentInfo(i.id, i.symbol, i.asset_class, "USD", i.calendar)
    holdings = report.Holdings(
        live.holdings.nav,
        pcalc.exposure_totals(rows),
        {**live.holdings.instruments, trade.instrument.symbol: info},
    )
    return report.var_of(holdings, base="USD", end=portfolio_selectors.today())


def test_each_trade_of_a_batch_matches_its_own_computation(portfolio):
    """Given a book of ES, FGBL, GC and Q1 (no close at all), and trades that add to a holding,
    close ES out, open Q0 (listed late: a shorter window), open Q2 (no history) and add to Q1,
    then each trade's VaR 95/99, ES 97.5, scenarios and history flag equal the plain path's."""
    market = build_market(("ES", "FGBL", "GC", "EURUSD", "Q0"), listed={"Q0": 40})
    open_book(portfolio, market)
    q1 = InstrumentFactory(symbol="Q1", multiplier=Decimal(10))
    q2 = InstrumentFactory(symbol="Q2", multiplier=Decimal(10))
    open_position(portfolio, "Q1", "3", "100", day=DATES[OPEN])
    for metric in ("var_95", "var_99", "es_975"):
        risk_services.risk_limit_create(
            portfolio=portfolio, metric=metric, soft=Decimal(5), hard=Decimal(10)
        )
    es, gc, q0 = (Instrument.objects.get(symbol=s) for s in ("ES", "GC", "Q0"))
    trades = [
        pretrade.Trade(es, "MANUAL", Decimal(1), market.close("ES")),
        pretrade.Trade(es, "MANUAL", Decimal(-2), market.close("ES")),  # ES out of the book
        pretrade.Trade(gc, "MANUAL", Decimal(3), market.close("GC")),
        pretrade.Trade(q0, "MANUAL", Decimal(5), market.close("Q0")),
        pretrade.Trade(q2, "MANUAL", Decimal(1), Decimal(100)),
        pretrade.Trade(q1, "MANUAL", Decimal(1), Decimal(100)),
    ]
    impacts = pretrade.pretrade_impacts(portfolio, trades)
    scenarios = set()
    for trade, impact in zip(trades, impacts, strict=True):
        var, no_history = plain_after(portfolio, trade)
        after = impact["after"]
        values = {row["metric"]: row["value"] for row in after["limits"]}
        nav = float(impact["nav"])
        assert after["scenarios"] == var.scenarios, trade
        assert values["var_95"] == pytest.approx(var.var_95 / nav, rel=1e-12)
        assert values["var_99"] == pytest.approx(var.var_99 / nav, rel=1e-12)
        assert values["es_975"] == pytest.approx(var.es_975 / nav, rel=1e-12)
        assert after["insufficient_history"] == (var.insufficient_history or bool(no_history))
        scenarios.add(var.scenarios)
    assert len(scenarios) == 2  # Q0's shorter window, and everyone else's
    # Q1 and Q2 have no return at all: flagged; ES out of the book leaves Q1 flagged still.
    assert [i["after"]["insufficient_history"] for i in impacts] == [True] * 6
