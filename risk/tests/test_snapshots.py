"""The EOD risk snapshot of a date: D's positions, returns up to D, replaced on re-run; the
drawdowns."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from pms_project.errors import PMSError
from portfolio import services as portfolio_services
from portfolio.models import NavSnapshot
from portfolio.tests.api_support import open_position
from portfolio.tests.factories import InstrumentFactory
from risk import services
from risk.models import Alert, RiskSnapshot

from .fixtures_risk import (
    DATES,
    HELD,
    LAST,
    MON,
    OPEN,
    THU,
    TUE,
    WED,
    expected_var,
    exposure,
    floats,
    limit,
    mark,
    nav_of,
    risk_counts,
    snapshot_exposures,
    stored_values,
)

pytestmark = pytest.mark.django_db


# --- EOD snapshots ----------------------------------------------------------------------------

D = DATES[78]  # Fri 2024-04-19, two business days before LAST


def test_snapshot_uses_the_days_position_snapshots_and_returns_up_to_it(portfolio, market):
    # Given the book marked from its opening day to LAST
    mark(portfolio, DATES[OPEN])
    exposures = snapshot_exposures(portfolio, D)
    # When D's risk is recorded
    snap = services.risk_snapshot_record(portfolio=portfolio, business_date=D)
    # Then it values D's position snapshots, on the returns up to D
    assert snap.date == D
    assert snap.nav == nav_of(portfolio, D)
    assert snap.gross_exposure == sum(abs(e) for e in exposures.values())
    assert snap.net_exposure == sum(exposures.values())
    assert exposures == pytest.approx(
        {s: exposure(market, s, q, D) for s, q in HELD.items()}, abs=Decimal("1E-8")
    )
    assert snap.leverage == pytest.approx(float(snap.gross_exposure / snap.nav), rel=1e-15)
    assert (snap.largest_symbol, snap.largest_exposure) == ("ES", exposures["ES"])
    assert (snap.scenarios, snap.insufficient_history, snap.no_history) == (78, False, [])
    expected = expected_var(stored_values(list(HELD), upto=D), floats(exposures))
    for name in ("var_95", "var_99", "es_975", "parametric_var_95", "parametric_var_99"):
        assert math.isclose(float(getattr(snap, name)), expected[name], rel_tol=1e-6), name
    assert snap.exposure_by_asset_class == {
        "COMMODITY": {"net": str(exposures["GC"]), "gross": str(exposures["GC"])},
        "EQUITY": {"net": str(exposures["ES"]), "gross": str(exposures["ES"])},
        "RATES": {"net": str(exposures["FGBL"]), "gross": str(-exposures["FGBL"])},
    }
    # And it is not live risk: the live book is at LAST's closes
    assert snap.gross_exposure != services.risk_live(portfolio)["exposures"]["gross"]

    # When closes after D go wild, a trade is booked after D, and D is recorded again
    before = {f: getattr(snap, f) for f in ("nav", "var_95", "var_99", "es_975", "scenarios")}
    portfolio_services.prices_load(
        [
            portfolio_services.PriceRow("ES", DATES[79], market.close("ES", D) * 3),
            portfolio_services.PriceRow("EURUSD", DATES[79], Decimal("0.5")),
        ]
    )
    open_position(portfolio, "GC", "5", str(market.close("GC", LAST)), day=LAST)
    again = services.risk_snapshot_record(portfolio=portfolio, business_date=D)
    # Then the figures are the same and the row is replaced, not added
    assert {f: getattr(again, f) for f in before} == before
    assert again.pk == snap.pk
    assert RiskSnapshot.objects.filter(portfolio=portfolio).count() == 1


def test_snapshot_records_its_breaches_once(portfolio, market):
    # Given D marked and a gross leverage limit D's book breaches
    mark(portfolio, D, D)
    limit(portfolio, "gross_leverage", "0.5", "0.8")
    # When D is recorded twice
    services.risk_snapshot_record(portfolio=portfolio, business_date=D)
    snap = services.risk_snapshot_record(portfolio=portfolio, business_date=D)
    # Then the snapshot keeps the limit row, decimals as strings, and one alert is dated D
    [row] = snap.limits
    assert (row["metric"], row["soft"], row["hard"], row["status"]) == (
        "gross_leverage",
        "0.500000",
        "0.800000",
        "breach",
    )
    assert row["value"] == pytest.approx(float(snap.gross_exposure / snap.nav), rel=1e-15)
    assert row["utilization"] == pytest.approx(row["value"] / 0.8, rel=1e-15)
    assert list(Alert.objects.values_list("metric", "date")) == [("gross_leverage", D)]


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (DATES[74], "not marked"),  # a business day before anything was marked
        (dt.date(2024, 4, 20), "not a business day"),  # a Saturday
        (dt.date(2024, 4, 21), "not a business day"),  # a Sunday
        (dt.date(2099, 1, 2), "in the future"),
    ],
)
def test_snapshot_of_a_date_that_cannot_be_recorded_names_the_date(portfolio, market, day, words):
    # Given the book marked from its opening day
    mark(portfolio, DATES[OPEN])
    before = risk_counts()
    # When such a date is recorded
    with pytest.raises(PMSError) as raised:
        services.risk_snapshot_record(portfolio=portfolio, business_date=day)
    # Then the error names the date, with the reason, and nothing is written
    assert raised.value.field == "date"
    assert raised.value.status_code == 400
    assert words in raised.value.message, raised.value.message
    assert risk_counts() == before


CL_CLOSES = {MON: "100", TUE: "110", WED: "105", THU: "108"}
CL_NAVS = {MON: 1_000_000, TUE: 1_010_000, WED: 1_005_000, THU: 908_000}
# Flow-adjusted index: 1, 1 (Mon), 1.01 (Tue), 1.005 (Wed), 1.005 × 908,000 / 905,000 (Thu: the
# redemption of 100,000 is not a loss); NAV itself peaks at 1,010,000 on Tuesday.
CL_DRAWDOWNS = [
    (MON, 0.0, 0.0),
    (TUE, 0.0, 0.0),
    (WED, 1 - 1.005 / 1.01, 1 - 1_005_000 / 1_010_000),
    (THU, 1 - 1.005 * (908_000 / 905_000) / 1.01, 1 - 908_000 / 1_010_000),
]


@pytest.mark.parametrize(("day", "drawdown", "nav_drawdown"), CL_DRAWDOWNS)
def test_snapshot_drawdowns_by_hand(portfolio, day, drawdown, nav_drawdown):
    # Given long 1 CL (×1000) bought at 100 on Monday, closes 100, 110, 105, 108 and a
    # redemption of 100,000 on Thursday, marked Monday to Thursday
    InstrumentFactory(symbol="CL", asset_class="COMMODITY", multiplier=Decimal(1000))
    portfolio_services.prices_load(
        portfolio_services.PriceRow("CL", d, Decimal(c)) for d, c in CL_CLOSES.items()
    )
    open_position(portfolio, "CL", "1", "100", day=MON)
    portfolio_services.cash_flow_record(portfolio=portfolio, date=THU, amount=Decimal(-100_000))
    mark(portfolio, MON, THU)
    assert {n.date: n.nav for n in NavSnapshot.objects.filter(portfolio=portfolio)} == CL_NAVS
    # When the day's risk is recorded
    snap = services.risk_snapshot_record(portfolio=portfolio, business_date=day)
    # Then the drawdown of the flow-adjusted index and of NAV itself are the hand-computed ones
    assert snap.drawdown == pytest.approx(drawdown, abs=1e-12)
    assert snap.nav_drawdown == pytest.approx(nav_drawdown, abs=1e-12)
    assert snap.nav == CL_NAVS[day]
    # And with at most three returns, the history is flagged
    assert (snap.scenarios, snap.insufficient_history) == ((day - MON).days, True)


@pytest.mark.parametrize("marked_thursday", [False, True])
def test_live_drawdown_takes_the_live_nav_after_the_snapshots(portfolio, marked_thursday):
    # Given the CL book marked Monday to Wednesday (and Thursday or not), Thursday's close 108
    # and Thursday's redemption of 100,000
    InstrumentFactory(symbol="CL", asset_class="COMMODITY", multiplier=Decimal(1000))
    portfolio_services.prices_load(
        portfolio_services.PriceRow("CL", d, Decimal(c)) for d, c in CL_CLOSES.items()
    )
    open_position(portfolio, "CL", "1", "100", day=MON)
    portfolio_services.cash_flow_record(portfolio=portfolio, date=THU, amount=Decimal(-100_000))
    mark(portfolio, MON, THU if marked_thursday else WED)
    # When live risk is computed (the book is at Thursday's close)
    result = services.risk_live(portfolio)
    # Then its drawdowns are Thursday's, by hand, whether or not Thursday is marked
    _, drawdown, nav_drawdown = CL_DRAWDOWNS[-1]
    assert (result["as_of"], result["nav"]) == (THU, Decimal(908_000))
    assert result["drawdown"]["drawdown"] == pytest.approx(drawdown, abs=1e-12)
    assert result["drawdown"]["nav_drawdown"] == pytest.approx(nav_drawdown, abs=1e-12)


def test_snapshot_range_records_every_business_day(portfolio, market):
    mark(portfolio, DATES[OPEN])
    snaps = services.risk_snapshot_range(portfolio=portfolio, start=DATES[OPEN], end=LAST)
    assert [s.date for s in snaps] == DATES[OPEN:]
    assert [s.scenarios for s in snaps] == list(range(OPEN, 81))
    assert RiskSnapshot.objects.count() == 6
