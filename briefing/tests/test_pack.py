"""The morning pack against the owning apps: every section is what their services and
selectors answer for the close before the pack's date (SPEC §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attribution import report as attribution_report
from attribution.tests.fixtures_attribution import DATES, SAT, close
from briefing import report, services
from briefing.models import MorningPack
from pms_project.errors import PMSError
from portfolio.models import NavSnapshot, PositionSnapshot
from portfolio.tests.factories import UserFactory
from risk import report as risk_report
from risk.models import Alert
from trades import services as trades_services
from trades.models import TradeProposal

from .conftest import AS_OF, PACK_DATE


@pytest.fixture
def pack(desk) -> MorningPack:
    return services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)


def test_the_pack_is_built_from_the_close_before_its_date(pack):
    assert (pack.date, pack.as_of) == (PACK_DATE, AS_OF)
    c = pack.content
    assert (c["portfolio"], c["date"], c["as_of"]) == ("MACRO1", "2024-04-10", "2024-04-09")
    assert c["warnings"] == []
    assert MorningPack.objects.count() == 1


def test_header_is_the_nav_snapshot_and_the_attribution_of_each_period(desk, pack):
    header = pack.content["header"]
    assert Decimal(header["nav"]) == NavSnapshot.objects.get(portfolio=desk, date=AS_OF).nav
    for period in ("1D", "MTD", "YTD"):
        window = attribution_report.resolve_window(desk, period=period, as_of=AS_OF)
        result = attribution_report.attribution(desk, window)
        assert Decimal(header["pnl"][period]) == result["pnl"]
        assert header["twr"][period] == result["twr"]
    # 1D is the last day's NAV P&L; MTD covers April's six business days to the 9th
    last = NavSnapshot.objects.get(portfolio=desk, date=AS_OF)
    assert Decimal(header["pnl"]["1D"]) == last.daily_pnl
    april = NavSnapshot.objects.filter(portfolio=desk, date__gte=dt.date(2024, 4, 1))
    assert Decimal(header["pnl"]["MTD"]) == sum(n.daily_pnl for n in april)
    # The NAV curve: every marked day (the history is shorter than a year), oldest first
    navs = NavSnapshot.objects.filter(portfolio=desk).order_by("date")
    assert header["nav_curve"] == [{"date": n.date.isoformat(), "nav": f"{n.nav}"} for n in navs]


def test_risk_is_the_risk_of_the_close_with_its_breaches(desk, pack):
    risk = pack.content["risk"]
    expected = report.jsonable(risk_report.risk_of_day(desk, AS_OF))
    for key in ("as_of", "nav", "scenarios", "var", "exposures", "drawdown", "limits"):
        assert risk[key] == expected[key]
    statuses = {row["metric"]: row["status"] for row in risk["limits"]}
    assert statuses == {"gross_leverage": "breach", "var_99": "warning"}
    assert [row["metric"] for row in risk["breaches"]] == ["gross_leverage"]


def test_attribution_is_mtd_by_strategy(desk, pack):
    window = attribution_report.resolve_window(desk, period="MTD", as_of=AS_OF)
    expected = report.jsonable(attribution_report.attribution_by(desk, window, "strategy"))
    got = pack.content["attribution"]
    for key in ("period", "anchor", "first_date", "last_date", "days", "pnl", "twr", "rows"):
        assert got[key] == expected[key]
    assert {row["key"] for row in got["rows"]} == {"TREND", "CARRY"}


def test_positions_are_the_snapshots_of_the_close_ranked(desk, pack):
    positions = pack.content["positions"]
    snaps = PositionSnapshot.objects.filter(position__portfolio=desk, date=AS_OF).exclude(
        quantity=0
    )
    assert positions["count"] == snaps.count() == 3  # ES TREND, FGBL CARRY, FGBL TREND
    by_exposure = sorted(snaps, key=lambda s: -abs(s.exposure))
    assert [
        (r["symbol"], r["strategy"], Decimal(r["exposure"])) for r in positions["top_exposure"]
    ] == [(s.position.instrument.symbol, s.position.strategy.code, s.exposure) for s in by_exposure]
    by_pnl = sorted(snaps, key=lambda s: -abs(s.daily_pnl))
    assert [Decimal(r["daily_pnl"]) for r in positions["top_movers"]] == [
        s.daily_pnl for s in by_pnl
    ]


def test_market_moves_cover_held_and_signalled_instruments(pack):
    moves = {m["symbol"]: m for m in pack.content["market_moves"]}
    # GC was closed on 4 April: neither held at the close nor signalled
    assert sorted(moves) == ["ES", "EURUSD", "FGBL"]
    assert (moves["ES"]["held"], moves["ES"]["signalled"]) == (True, False)
    assert (moves["EURUSD"]["held"], moves["EURUSD"]["signalled"]) == (False, True)
    es = moves["ES"]
    assert (Decimal(es["close"]), es["close_date"]) == (close("ES", AS_OF), "2024-04-09")
    # 1D against the close before; 1W against the last close on or before Tue 2 April
    previous = DATES[DATES.index(AS_OF) - 1]
    assert es["moves"]["1D"] == pytest.approx(
        float(close("ES", AS_OF)) / float(close("ES", previous)) - 1, rel=1e-12
    )
    assert es["moves"]["1W"] == pytest.approx(
        float(close("ES", AS_OF)) / float(close("ES", dt.date(2024, 4, 2))) - 1, rel=1e-12
    )
    # 1M needs a close on or before 9 March: the history starts on 25 March
    assert es["moves"]["1M"] is None


def test_pending_proposals_with_rationale_risk_impact_and_admin_page(desk, pack):
    (proposal,) = pack.content["proposals"]
    stored = TradeProposal.objects.get(portfolio=desk)
    assert proposal["id"] == stored.id
    assert proposal["rationale"] == "Add to the trend into the data"
    assert (proposal["symbol"], proposal["side"], Decimal(proposal["quantity"])) == (
        "ES",
        "buy",
        Decimal(1),
    )
    assert Decimal(proposal["var_99_after"]) == stored.var_99_after
    assert proposal["utilization_after"] == stored.utilization_after
    assert proposal["admin_url"] == f"/admin/trades/tradeproposal/{stored.id}/change/"


def test_alerts_are_those_of_the_week(desk, pack):
    alert = Alert.objects.get(portfolio=desk)
    assert pack.content["alerts"] == [
        {
            "date": alert.date.isoformat(),
            "metric": "gross_leverage",
            "value": alert.value,
            "utilization": alert.utilization,
            "message": alert.message,
        }
    ]


def test_regenerating_replaces_the_pack(desk, pack):
    # Given the proposal was rejected after the pack was generated
    proposal = TradeProposal.objects.get(portfolio=desk)
    approver = UserFactory(username="approver1", groups=["approver"])
    trades_services.proposal_reject(proposal_id=proposal.id, user=approver, reason="not today")
    # When the pack is generated again
    again = services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    # Then the one row is replaced: same id, no pending proposal, a later generation time
    assert MorningPack.objects.filter(portfolio=desk).count() == 1
    assert again.pk == pack.pk
    assert again.content["proposals"] == []
    assert again.generated_at >= pack.generated_at
    assert again.content["header"] == pack.content["header"]


def test_a_pack_after_an_unmarked_close_says_so(desk):
    # Thursday's pack when Wednesday was not marked: as of Tuesday's close, with a warning
    thursday = PACK_DATE + dt.timedelta(days=1)
    pack = services.morning_pack_generate(portfolio=desk, business_date=thursday)
    assert pack.as_of == AS_OF
    assert pack.content["warnings"] == [
        "the close of 2024-04-10 is not marked: this pack is as of the close of 2024-04-09"
    ]


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (SAT, "not a business day"),
        (dt.date(2099, 1, 5), "in the future"),
        (DATES[0], "no marked close before 2024-03-25"),
    ],
)
def test_bad_dates_are_refused_naming_the_date_and_nothing_is_stored(desk, day, message):
    with pytest.raises(PMSError) as exc:
        services.morning_pack_generate(portfolio=desk, business_date=day)
    assert exc.value.field == "date"
    assert message in exc.value.message
    assert not MorningPack.objects.exists()


def test_the_query_count_does_not_grow_with_the_proposals(desk):
    services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    # Both measured runs replace a stored pack
    with CaptureQueriesContext(connection) as one:
        services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    for symbol in ("GC", "EURUSD"):
        trades_services.proposal_create(
            portfolio=desk,
            symbol=symbol,
            side="buy",
            quantity=Decimal(1),
            price=close(symbol, AS_OF),
            day=PACK_DATE,
            strategy_code="CARRY",
        )
    with CaptureQueriesContext(connection) as three:
        pack = services.morning_pack_generate(portfolio=desk, business_date=PACK_DATE)
    assert len(pack.content["proposals"]) == 3
    assert len(three.captured_queries) == len(one.captured_queries)
