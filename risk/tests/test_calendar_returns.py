"""Returns on each instrument's own trading days (risk and signals): across a market's holiday an
instrument's return is the move from its previous close to its next one — never a zero-return
day, and the others' moves of that day are not lost from the scenarios."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from portfolio.models import Instrument, Price
from portfolio.tests.test_calendars_mtm import CLOSES, JUL, holiday_market
from risk import calculations as calc
from risk import pretrade, selectors
from risk import services as risk_services
from trades import selectors as trades_selectors

from .fixtures_risk import DATES, OPEN, build_market, open_book
from .test_pretrade_batch import plain_after

pytestmark = pytest.mark.django_db

DAYS = [JUL[d] for d in (1, 2, 3, 4, 5)]
ES = [100.0, 101.0, 102.0, 102.0, 105.0]  # 4 July: a vendor's repeat of the 3rd (NYSE closed)
FDAX = [50.0, 50.5, 51.0, 52.0, 51.5]


def closes() -> pd.DataFrame:
    return pd.DataFrame({"ES": ES, "FDAX": FDAX}, index=pd.Index(DAYS, dtype=object))


def test_a_us_holiday_is_no_zero_return_and_the_scenario_spans_it():
    # Given the closes masked by each instrument's calendar (ES: XNYS, FDAX: XETR)
    from portfolio import calendars

    masked = calendars.mask_closed(closes(), {"ES": "XNYS", "FDAX": "XETR"})
    returns = calc.daily_returns(masked)
    # Then ES has no return on the 4th (not 0) and its return of the 5th spans the holiday
    assert np.isnan(returns.loc[JUL[4], "ES"])
    assert returns.loc[JUL[5], "ES"] == pytest.approx(105 / 102 - 1, rel=1e-12)
    assert returns.loc[JUL[4], "FDAX"] == pytest.approx(52 / 51 - 1, rel=1e-12)
    # And the scenarios are the common dates, the 5th holding both moves since the 3rd
    common = calc.common_returns(returns)
    assert list(common.index) == [JUL[2], JUL[3], JUL[5]]
    assert common.loc[JUL[5], "ES"] == pytest.approx(105 / 102 - 1, rel=1e-12)
    assert common.loc[JUL[5], "FDAX"] == pytest.approx(51.5 / 51 - 1, rel=1e-12)
    assert common.loc[JUL[3], "FDAX"] == pytest.approx(51 / 50.5 - 1, rel=1e-12)


def test_unmasked_the_repeat_would_be_a_zero_return_day():
    """The case the calendar exists for: read as weekdays, the repeated close is a 0 return."""
    returns = calc.daily_returns(closes())
    assert returns.loc[JUL[4], "ES"] == 0.0
    assert list(calc.common_returns(returns).index) == DAYS[1:]


@pytest.mark.parametrize("seed", range(5))
def test_common_returns_compound_to_the_moves_between_common_dates(seed):
    """Given random closes with holes, then each common date's return of every column is its
    value there over its value on the previous common date, minus 1."""
    rng = np.random.default_rng(seed)
    values = pd.DataFrame(rng.uniform(50, 150, (40, 3)), columns=["A", "B", "C"])
    values = values.mask(rng.random((40, 3)) < 0.25)
    common = calc.common_returns(calc.daily_returns(values))
    dates = list(common.index)
    for before, after in itertools.pairwise(dates):
        expected = values.loc[after] / values.loc[before] - 1
        np.testing.assert_allclose(common.loc[after].to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_returns_frame_reads_each_instrument_on_its_own_days():
    # Given the holiday market in the database, and a vendor's repeat of ES's close on the 4th
    holiday_market()
    Price.objects.create(instrument=Instrument.objects.get(symbol="ES"), date=JUL[4], close=5020)
    infos = {
        i.symbol: selectors.InstrumentInfo(i.id, i.symbol, i.asset_class, i.currency, i.calendar)
        for i in Instrument.objects.filter(symbol__in=["ES", "FDAX"])
    }
    # When the returns in USD are read
    returns = selectors.returns_frame(base="USD", instruments=infos, end=JUL[5])
    # Then ES has no return on the 4th and its 5th spans the holiday; FDAX (in USD) has both
    es = {d: float(c) for d, c in CLOSES["ES"].items()}
    fdax = {d: float(c) * float(CLOSES["EURUSD"][d]) for d, c in CLOSES["FDAX"].items()}
    assert np.isnan(returns.loc[JUL[4], "ES"])
    assert returns.loc[JUL[5], "ES"] == pytest.approx(es[JUL[5]] / es[JUL[3]] - 1, rel=1e-12)
    assert returns.loc[JUL[4], "FDAX"] == pytest.approx(fdax[JUL[4]] / fdax[JUL[3]] - 1)
    window = calc.scenario_window(returns)
    assert list(window.index) == [JUL[2], JUL[3], JUL[5]]
    assert window.loc[JUL[5], "FDAX"] == pytest.approx(fdax[JUL[5]] / fdax[JUL[3]] - 1, rel=1e-12)
    # And the signals' closes drop the repeat too
    frame = trades_selectors.closes(list(Instrument.objects.all()), day=JUL[5])
    assert np.isnan(frame.loc[JUL[4], "ES"]) and frame.loc[JUL[4], "FDAX"] == 18300


def test_the_pretrade_batch_matches_its_own_computation_across_holidays(portfolio):
    """Given ES on NYSE's calendar (its closes of MLK day, Presidents' Day and Good Friday 2024
    then dropped: holes inside the window), then each trade's batched VaR equals the plain
    path's."""
    market = build_market(("ES", "FGBL", "GC", "EURUSD"))
    Instrument.objects.filter(symbol="ES").update(calendar="XNYS")
    holidays = [d for d in DATES[: OPEN + 1] if d.isoformat() in ("2024-01-15", "2024-02-19")]
    assert len(holidays) == 2
    open_book(portfolio, market)
    risk_services.risk_limit_create(
        portfolio=portfolio, metric="var_99", soft=Decimal(5), hard=Decimal(10)
    )
    es, gc = (Instrument.objects.get(symbol=s) for s in ("ES", "GC"))
    trades = [
        pretrade.Trade(es, "MANUAL", Decimal(1), market.close("ES")),
        pretrade.Trade(gc, "MANUAL", Decimal(3), market.close("GC")),
    ]
    impacts = pretrade.pretrade_impacts(portfolio, trades)
    for trade, impact in zip(trades, impacts, strict=True):
        var, _ = plain_after(portfolio, trade)
        values = {row["metric"]: row["value"] for row in impact["after"]["limits"]}
        assert impact["after"]["scenarios"] == var.scenarios
        assert values["var_99"] == pytest.approx(var.var_99 / float(impact["nav"]), rel=1e-12)
    # The holidays are not scenario dates: ES has no return on them
    infos = {
        i.symbol: selectors.InstrumentInfo(i.id, i.symbol, i.asset_class, i.currency, i.calendar)
        for i in Instrument.objects.filter(symbol__in=["ES", "GC"])
    }
    window = calc.scenario_window(selectors.returns_frame(base="USD", instruments=infos))
    assert not set(holidays) & set(window.index)
    assert dt.date(2024, 1, 16) in set(window.index)
