"""Attribution of a genuinely marked book (SPEC §2, §5): the report against an independent
recomputation from the position and NAV snapshots, flows, closes, custom ranges, the stored
daily totals, staleness after a re-mark, and the EOD step's replacement and refusals."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F

from attribution import report, selectors, services
from attribution.choices import Period
from attribution.models import AttributionDay, AttributionResult, SegmentPnl
from pms_project.errors import PMSError
from portfolio import services as portfolio_services
from portfolio.models import NavSnapshot, PositionSnapshot
from portfolio.tests.factories import PortfolioFactory

from .fixtures_attribution import (
    AFTER,
    BEFORE,
    DATES,
    FIRST,
    GC_CLOSED,
    LAST,
    REDEMPTION,
    SAT,
    SUBSCRIPTION,
    attribution_counts,
    close,
    trade,
)
from .reference import DIMENSIONS, expected, history

pytestmark = pytest.mark.django_db

# The anchors of the standard periods as of Tue 2024-04-09, by hand: 1D the Monday before; WTD
# the Friday before the week; MTD and QTD Friday 29 March (the month and the quarter ended on a
# Sunday); YTD Friday 29 December 2023; ITD the inception date of the factory's portfolio.
ANCHORS_AS_OF_LAST = {
    "1D": dt.date(2024, 4, 8),
    "WTD": dt.date(2024, 4, 5),
    "MTD": dt.date(2024, 3, 29),
    "QTD": dt.date(2024, 3, 29),
    "YTD": dt.date(2023, 12, 29),
    "ITD": dt.date(2024, 1, 2),
}


def assert_matches(result: dict, exp, *, contributions_of=None) -> None:
    """``result`` (report.attribution) against the recomputation ``exp``: exact P&L, linked
    contributions to 1e-12, Σ contributions = TWR to 1e-12, Σ rows' P&L = the total exactly."""
    assert result["days"] == len(exp.dates)
    assert result["first_date"] == (exp.dates[0] if exp.dates else None)
    assert result["last_date"] == (exp.dates[-1] if exp.dates else None)
    assert result["pnl"] == exp.pnl
    assert result["twr"] == pytest.approx(exp.twr, abs=1e-14)
    assert result["linking"] == "carino"
    for dim in DIMENSIONS:
        rows = result["by"][dim]
        assert {r["key"]: r["pnl"] for r in rows} == {k: v[0] for k, v in exp.rows[dim].items()}
        expected_c = contributions_of or exp
        for r in rows:
            assert r["contribution"] == pytest.approx(
                expected_c.rows[dim][r["key"]][1], rel=1e-9, abs=1e-13
            ), (dim, r["key"])
        assert abs(sum(r["contribution"] for r in rows) - result["twr"]) <= 1e-12
        assert sum((r["pnl"] for r in rows), Decimal(0)) == result["pnl"]
        # rows largest contribution first
        assert [r["contribution"] for r in rows] == sorted(
            (r["contribution"] for r in rows), reverse=True
        )


def attribution_as_of(portfolio, period: str, as_of: dt.date = LAST) -> dict:
    window = report.resolve_window(portfolio, period=period, as_of=as_of)
    return report.attribution(portfolio, window)


# --- The marked book against the recomputation ------------------------------------------------


def test_the_snapshots_add_up(marked):
    # The invariant attribution relies on (SPEC §2): Σ position daily P&L = NAV(D) − NAV(D−1) −
    # flow(D), and the stored daily return is NAV(D) / (NAV(D−1) + flow(D)) − 1.
    days = history(marked)
    assert [d.date for d in days] == DATES
    for d in days:
        for dim in DIMENSIONS:
            assert sum(d.segments[dim].values(), Decimal(0)) == d.pnl, (d.date, dim)
        assert d.stored_return == pytest.approx(d.ret, rel=1e-12, abs=1e-16)
        assert d.pnl != 0  # every day moves, so every day tests something
    assert [d.flow for d in days if d.flow] == [SUBSCRIPTION[1], REDEMPTION[1]]


@pytest.mark.parametrize("as_of", [LAST, DATES[7], DATES[5], FIRST])
def test_every_period_and_dimension_matches_the_recomputation(marked, as_of):
    days = history(marked)
    for period in Period.values:
        window = report.resolve_window(marked, period=period, as_of=as_of)
        if as_of == LAST:
            assert window.anchor == ANCHORS_AS_OF_LAST[period]
        result = report.attribution(marked, window)
        exp = expected(days, window.anchor, as_of)
        assert exp.dates, (period, as_of)
        assert (result["period"], result["as_of"], result["anchor"]) == (
            period,
            as_of,
            window.anchor,
        )
        assert_matches(result, exp)
        # The statistics of the window's daily returns, directly with numpy
        r = np.array(exp.returns)
        stats = result["statistics"]
        assert stats["twr"] == result["twr"]
        if len(r) >= 2:
            std = np.std(r, ddof=1)
            assert stats["volatility"] == pytest.approx(math.sqrt(252) * std, rel=1e-9)
            assert stats["sharpe"] == pytest.approx(math.sqrt(252) * r.mean() / std, rel=1e-9)
        else:
            assert stats["volatility"] is None and stats["sharpe"] is None
        index = np.concatenate([[1.0], np.cumprod(1 + r)])
        drawdown = float(np.max(1 - index / np.maximum.accumulate(index)))
        assert stats["max_drawdown"] == pytest.approx(drawdown, abs=1e-12)
        assert stats["hit_rate"] == pytest.approx(float(np.mean(r > 0)), abs=1e-15)
        best, worst = int(np.argmax(r)), int(np.argmin(r))
        assert stats["best_day"]["date"] == exp.dates[best]
        assert stats["best_day"]["return"] == pytest.approx(r[best], rel=1e-12)
        assert stats["worst_day"]["date"] == exp.dates[worst]
        assert stats["worst_day"]["return"] == pytest.approx(r[worst], rel=1e-12)


def test_itd_and_ytd_cover_every_marked_day_and_the_whole_pnl(marked):
    nav = list(NavSnapshot.objects.filter(portfolio=marked).order_by("date"))
    for period in ("ITD", "YTD"):
        result = attribution_as_of(marked, period)
        assert result["days"] == len(DATES)
        # the whole P&L: the NAV's growth less the flows, never the flows themselves
        flows = SUBSCRIPTION[1] + REDEMPTION[1]
        assert result["pnl"] == nav[-1].nav - marked.initial_capital - flows
        growth = 1.0
        for snap in nav:
            growth *= 1 + snap.daily_return
        assert result["twr"] == pytest.approx(growth - 1, abs=1e-14)


def test_a_position_closed_during_the_day_contributes_its_pnl_that_day(marked):
    # GC (×100, USD), long 1, closed on Thursday at its close + 0.7: that day's P&L is
    # (exit price − Wednesday's close) × 100, by hand
    wednesday = DATES[DATES.index(GC_CLOSED) - 1]
    gc_pnl = (close("GC", GC_CLOSED) + Decimal("0.7") - close("GC", wednesday)) * 100
    assert gc_pnl != 0
    result = attribution_as_of(marked, "1D", GC_CLOSED)
    rows = {r["key"]: r for r in result["by"]["instrument"]}
    assert rows["GC"]["pnl"] == gc_pnl
    days = history(marked)
    [day] = [d for d in days if d.date == GC_CLOSED]
    capital = float(day.capital)
    # one day: k_t / K = 1, so the contribution is the P&L over the day's capital
    assert rows["GC"]["contribution"] == pytest.approx(float(gc_pnl) / capital, rel=1e-12)
    # CARRY's P&L that day is its FGBL sleeve's plus the closed GC's
    carry = {r["key"]: r["pnl"] for r in result["by"]["strategy"]}["CARRY"]
    carry_fgbl = PositionSnapshot.objects.get(
        position__portfolio=marked,
        position__instrument__symbol="FGBL",
        position__strategy__code="CARRY",
        date=GC_CLOSED,
    ).daily_pnl
    assert carry == carry_fgbl + gc_pnl
    # And the day after, GC has no P&L any more
    after = attribution_as_of(marked, "1D", DATES[DATES.index(GC_CLOSED) + 1])
    assert {r["key"]: r["pnl"] for r in after["by"]["instrument"]}.get("GC", 0) == 0


def test_a_custom_range_covers_from_to_to_both_included(marked):
    days = history(marked)
    start, end = DATES[3], DATES[8]  # Thu 28 March .. Thu 4 April
    window = report.resolve_window(marked, start=start, end=end)
    result = report.attribution(marked, window)
    exp = expected(days, start - dt.timedelta(days=1), end)
    assert exp.dates == DATES[3:9]
    assert (result["period"], result["anchor"], result["as_of"]) == ("custom", None, None)
    assert_matches(result, exp)
    # the return of ``from`` is measured against the NAV before it (Wednesday's)
    [thursday] = [d for d in days if d.date == start]
    wednesday_nav = NavSnapshot.objects.get(portfolio=marked, date=DATES[2]).nav
    assert thursday.capital == wednesday_nav + thursday.flow
    assert result["statistics"]["best_day"]["return"] == pytest.approx(max(exp.returns), rel=1e-12)
    # A range starting on a Saturday starts with Monday
    weekend = report.attribution(marked, report.resolve_window(marked, start=SAT, end=DATES[6]))
    assert (weekend["first_date"], weekend["last_date"], weekend["days"]) == (
        DATES[5],
        DATES[6],
        2,
    )
    assert_matches(weekend, expected(days, SAT - dt.timedelta(days=1), DATES[6]))


def test_one_day_range_and_defaults_to_the_edges_of_the_history(marked):
    days = history(marked)
    one = report.attribution(marked, report.resolve_window(marked, start=DATES[4], end=DATES[4]))
    assert_matches(one, expected(days, DATES[3], DATES[4]))
    # from alone runs to the last mark; to alone starts from the first
    tail = report.resolve_window(marked, start=DATES[9])
    head = report.resolve_window(marked, end=DATES[1])
    assert (tail.anchor, tail.end) == (DATES[9] - dt.timedelta(days=1), LAST)
    assert (head.anchor, head.end) == (FIRST - dt.timedelta(days=1), DATES[1])


# --- Flows ------------------------------------------------------------------------------------


def test_flows_change_no_pnl_only_the_denominator(twins):
    with_flows, without = twins
    days_a, days_b = history(with_flows), history(without)
    # The P&L of every segment on every day is the same with or without the flows
    for a, b in zip(days_a, days_b, strict=True):
        assert a.segments == b.segments, a.date
        assert a.pnl == b.pnl, a.date
    flows = {a.date: a.flow for a in days_a if a.flow}
    assert flows == {SUBSCRIPTION[0]: SUBSCRIPTION[1], REDEMPTION[0]: REDEMPTION[1]}
    assert all(b.flow == 0 for b in days_b)
    # and the NAV differs by the flows so far
    for a, b in zip(days_a, days_b, strict=True):
        assert a.nav - b.nav == sum(v for d, v in flows.items() if d <= a.date)

    for as_of in (LAST, SUBSCRIPTION[0], REDEMPTION[0]):
        for period in Period.values:
            result_a = attribution_as_of(with_flows, period, as_of)
            result_b = attribution_as_of(without, period, as_of)
            # the P&L rows are identical: a flow is never P&L
            assert result_a["pnl"] == result_b["pnl"]
            for dim in DIMENSIONS:
                assert {r["key"]: r["pnl"] for r in result_a["by"][dim]} == {
                    r["key"]: r["pnl"] for r in result_b["by"][dim]
                }
            # the contributions are the same P&L over the flows' denominators
            anchor = report.resolve_window(with_flows, period=period, as_of=as_of).anchor
            on_a_capital = expected(days_b, anchor, as_of, capital_from=days_a)
            assert_matches(result_a, expected(days_a, anchor, as_of), contributions_of=on_a_capital)
            assert_matches(result_b, expected(days_b, anchor, as_of))
            flowed = any(d <= as_of for d in flows)  # the NAVs differ from the first flow on
            differs = any(
                abs(ra["contribution"] - rb["contribution"]) > 1e-9
                for dim in DIMENSIONS
                for ra, rb in zip(
                    sorted(result_a["by"][dim], key=lambda r: r["key"]),
                    sorted(result_b["by"][dim], key=lambda r: r["key"]),
                    strict=True,
                )
            )
            assert differs == flowed, (period, as_of)


def test_the_day_of_a_subscription_divides_by_the_nav_plus_the_flow(marked):
    day, amount = SUBSCRIPTION
    before = NavSnapshot.objects.get(portfolio=marked, date=DATES[DATES.index(day) - 1]).nav
    result = attribution_as_of(marked, "1D", day)
    [snapshot] = [d for d in history(marked) if d.date == day]
    for row in result["by"]["strategy"]:
        pnl = snapshot.segments["strategy"][row["key"]]
        assert row["pnl"] == pnl
        assert row["contribution"] == pytest.approx(float(pnl / (before + amount)), rel=1e-12)
    # and the flow is not in the day's P&L
    assert result["pnl"] == snapshot.nav - before - amount


# --- Stored totals ----------------------------------------------------------------------------


def stored_rows(portfolio) -> dict[tuple[dt.date, str, str], Decimal]:
    return {
        (s.date, s.dimension, s.key): s.pnl for s in SegmentPnl.objects.filter(portfolio=portfolio)
    }


def reference_rows(days) -> dict[tuple[dt.date, str, str], Decimal]:
    return {
        (d.date, dim, key): pnl
        for d in days
        for dim in DIMENSIONS
        for key, pnl in d.segments[dim].items()
    }


def test_stored_totals_give_the_same_answers_as_from_scratch(marked):
    days = history(marked)
    # Before the EOD step every day is computed from its position snapshots
    nav = selectors.nav_days(marked, after=dt.date.min, upto=LAST)
    assert nav.stale == DATES
    scratch = {p: attribution_as_of(marked, p) for p in Period.values}
    # When the EOD step of the last day runs
    results = services.attribution_record(portfolio=marked, business_date=LAST)
    # Then it stored the daily totals of every day, as the recomputation has them
    assert selectors.nav_days(marked, after=dt.date.min, upto=LAST).stale == []
    assert stored_rows(marked) == reference_rows(days)
    assert sorted(AttributionDay.objects.values_list("date", flat=True)) == DATES
    # and the answers read from them are those computed from scratch
    for period in Period.values:
        stored = attribution_as_of(marked, period)
        assert stored["pnl"] == scratch[period]["pnl"]
        assert stored["twr"] == scratch[period]["twr"]
        assert stored["statistics"] == scratch[period]["statistics"]
        for dim in DIMENSIONS:
            assert [r["key"] for r in stored["by"][dim]] == [
                r["key"] for r in scratch[period]["by"][dim]
            ]
            for a, b in zip(stored["by"][dim], scratch[period]["by"][dim], strict=True):
                assert a["pnl"] == b["pnl"]
                assert a["contribution"] == pytest.approx(b["contribution"], abs=1e-15)
    # and one AttributionResult per period, with the recomputation's figures
    assert [r.period for r in results] == list(Period.values)
    for row in AttributionResult.objects.filter(portfolio=marked):
        exp = expected(days, ANCHORS_AS_OF_LAST[row.period], LAST)
        assert (row.as_of, row.anchor, row.days) == (
            LAST,
            ANCHORS_AS_OF_LAST[row.period],
            len(exp.dates),
        )
        assert row.pnl == exp.pnl
        assert row.twr == pytest.approx(exp.twr, abs=1e-14)
        assert set(row.segments) == set(DIMENSIONS)
        for dim in DIMENSIONS:
            assert {r["key"]: Decimal(r["pnl"]) for r in row.segments[dim]} == {
                k: v[0] for k, v in exp.rows[dim].items()
            }
        assert (
            row.statistics["best_day"]["date"] == exp.dates[int(np.argmax(exp.returns))].isoformat()
        )


def test_the_report_reads_the_stored_totals_of_a_fresh_day(marked):
    # Given the EOD step stored every day
    services.attribution_record(portfolio=marked, business_date=LAST)
    days = history(marked)
    # When a stored total is altered behind the report's back (the day is not re-marked)
    SegmentPnl.objects.filter(portfolio=marked, date=LAST, dimension="instrument", key="ES").update(
        pnl=F("pnl") + 1
    )
    # Then the report serves the stored figure: the day is fresh, not recomputed
    rows = {r["key"]: r["pnl"] for r in attribution_as_of(marked, "1D")["by"]["instrument"]}
    [last] = [d for d in days if d.date == LAST]
    assert rows["ES"] == last.segments["instrument"]["ES"] + 1


# --- Staleness --------------------------------------------------------------------------------


def test_a_late_trade_and_a_re_mark_make_the_days_stale_and_the_api_shows_the_new_numbers(
    marked, viewer_client
):
    # Given the EOD step stored every day up to the last one
    services.attribution_record(portfolio=marked, business_date=LAST)
    stored_before = stored_rows(marked)
    # and the API's answers cached (pms_project.cache)
    combos = (("MTD", "instrument"), ("1D", "strategy"), ("ITD", "currency"))
    for period, by in combos:
        viewer_client.get("/api/attribution/", {"period": period, "by": by})
        cached = viewer_client.get("/api/attribution/", {"period": period, "by": by})
        assert cached["X-Cache"] == "HIT"
    # When a late trade is booked on Monday 8 April and Monday and Tuesday are marked again
    monday = DATES[-2]
    trade(marked, "GC", 3, close("GC", monday) + Decimal("0.3"), monday, "TREND")
    portfolio_services.mark_to_market_range(portfolio=marked, start=monday, end=LAST)
    # Then those two days are stale
    assert selectors.nav_days(marked, after=dt.date.min, upto=LAST).stale == [monday, LAST]
    counts = attribution_counts()
    # And the API answers with the new numbers, without a new attribution run
    days = history(marked)
    for period, by in combos:
        response = viewer_client.get("/api/attribution/", {"period": period, "by": by})
        assert (response.status_code, response["X-Cache"]) == (200, "MISS"), response.content
        body = response.json()
        exp = expected(days, ANCHORS_AS_OF_LAST[period], LAST)
        assert Decimal(body["pnl"]) == exp.pnl
        assert body["twr"] == pytest.approx(exp.twr, abs=1e-14)
        assert {r["key"]: Decimal(r["pnl"]) for r in body["rows"]} == {
            k: v[0] for k, v in exp.rows[by].items()
        }
        for r in body["rows"]:
            assert r["contribution"] == pytest.approx(exp.rows[by][r["key"]][1], abs=1e-13)
    # the new GC sleeve shows on Monday: 3 × 100 × (Monday's close − (Monday's close + 0.3)) plus
    # Tuesday's move, i.e. the TREND GC P&L is on the books
    gc = {
        r["key"]: Decimal(r["pnl"])
        for r in viewer_client.get(
            "/api/attribution/", {"period": "WTD", "by": "instrument"}
        ).json()["rows"]
    }["GC"]
    assert gc == 3 * 100 * (close("GC", LAST) - close("GC", monday) - Decimal("0.3"))
    # And the GETs wrote nothing: the stored rows are the old ones
    assert attribution_counts() == counts
    assert stored_rows(marked) == stored_before
    # When the EOD step runs again, it replaces the two days' totals with the new ones
    services.attribution_record(portfolio=marked, business_date=LAST)
    assert stored_rows(marked) == reference_rows(days)
    assert selectors.nav_days(marked, after=dt.date.min, upto=LAST).stale == []


def test_a_price_change_and_a_re_mark_show_in_the_next_answer(marked, viewer_client):
    services.attribution_record(portfolio=marked, business_date=LAST)
    monday = DATES[-2]
    # When Tuesday's ES close is corrected by +40 and Tuesday is marked again
    new_close = close("ES", LAST) + 40
    portfolio_services.prices_load([portfolio_services.PriceRow("ES", LAST, new_close)])
    portfolio_services.mark_to_market(portfolio=marked, business_date=LAST)
    # Then Tuesday's ES P&L is 2 contracts (2 + 1 − 1) × 50 × (new close − Monday's close)
    response = viewer_client.get("/api/attribution/", {"period": "1D", "by": "instrument"})
    assert response.status_code == 200, response.content
    rows = {r["key"]: Decimal(r["pnl"]) for r in response.json()["rows"]}
    assert rows["ES"] == 2 * 50 * (new_close - close("ES", monday))
    [last] = [d for d in history(marked) if d.date == LAST]
    assert Decimal(response.json()["pnl"]) == last.pnl
    assert response.json()["twr"] == pytest.approx(last.ret, abs=1e-15)


# --- The EOD step -----------------------------------------------------------------------------


def test_attribution_run_twice_replaces(marked):
    call_command("attribution_run", "--date", LAST.isoformat(), stdout=StringIO())
    first = attribution_counts()
    ids = sorted(AttributionResult.objects.values_list("id", flat=True))
    stored = stored_rows(marked)
    call_command("attribution_run", "--date", LAST.isoformat(), stdout=StringIO())
    assert attribution_counts() == first
    assert sorted(AttributionResult.objects.values_list("id", flat=True)) == ids
    assert stored_rows(marked) == stored
    assert first["AttributionResult"] == len(Period.values)
    assert first["AttributionDay"] == len(DATES)
    keys = list(AttributionResult.objects.values_list("portfolio", "period", "as_of"))
    assert len(keys) == len(set(keys)) == 6
    # Another date adds its own six results, and stores no day twice
    call_command("attribution_run", "--date", DATES[5].isoformat(), stdout=StringIO())
    assert AttributionResult.objects.count() == 12
    assert attribution_counts()["AttributionDay"] == len(DATES)
    assert attribution_counts()["SegmentPnl"] == first["SegmentPnl"]


def test_record_of_an_earlier_date_stores_only_the_days_up_to_it(marked):
    services.attribution_record(portfolio=marked, business_date=DATES[3])
    assert sorted(AttributionDay.objects.values_list("date", flat=True)) == DATES[:4]
    assert {d for d, _, _ in stored_rows(marked)} == set(DATES[:4])
    assert set(AttributionResult.objects.values_list("as_of", flat=True)) == {DATES[3]}


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (BEFORE, "not marked"),
        (AFTER, "not marked"),
        (SAT, "not a business day"),
    ],
)
def test_record_of_a_date_that_cannot_be_attributed_names_date(marked, day, words):
    before = attribution_counts()
    with pytest.raises(PMSError) as raised:
        services.attribution_record(portfolio=marked, business_date=day)
    assert raised.value.field == "date"
    assert words in raised.value.message, raised.value.message
    assert day.isoformat() in raised.value.message
    assert attribution_counts() == before


def test_a_day_without_capital_after_a_full_redemption_still_attributes(db, viewer_client):
    # Given a portfolio with no position, marked Monday, fully redeemed on Tuesday (which
    # cash_flow_record allows: "a redemption may take the NAV to zero") and subscribed again on
    # Wednesday, each day marked: Tuesday starts with NAV(Mon) + flow = 0 and has no P&L, so its
    # return is 0 (portfolio.calculations.daily_return) and it contributes nothing
    empty = PortfolioFactory(code="EMPTY1", initial_capital=Decimal(1_000_000))
    monday, tuesday, wednesday = DATES[5], DATES[6], DATES[7]
    portfolio_services.mark_to_market(portfolio=empty, business_date=monday)
    portfolio_services.cash_flow_record(portfolio=empty, date=tuesday, amount=Decimal(-1_000_000))
    portfolio_services.mark_to_market(portfolio=empty, business_date=tuesday)
    portfolio_services.cash_flow_record(portfolio=empty, date=wednesday, amount=Decimal(500_000))
    portfolio_services.mark_to_market(portfolio=empty, business_date=wednesday)
    snaps = NavSnapshot.objects.filter(portfolio=empty).order_by("date")
    assert [(s.nav, s.daily_pnl, s.daily_return) for s in snaps] == [
        (Decimal(1_000_000), 0, 0.0),
        (Decimal(0), 0, 0.0),
        (Decimal(500_000), 0, 0.0),
    ]
    # When the MTD attribution is asked for, and the EOD step of Wednesday runs
    response = viewer_client.get("/api/attribution/", {"portfolio": "EMPTY1", "period": "MTD"})
    # Then both answer: three days, no P&L, a TWR of 0 and no segment
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["days"], Decimal(body["pnl"]), body["twr"], body["rows"]) == (3, 0, 0.0, [])
    results = services.attribution_record(portfolio=empty, business_date=wednesday)
    assert {r.period: r.twr for r in results}["MTD"] == 0.0


def test_a_pnl_too_large_to_add_exactly_is_refused_naming_the_parameter(marked):
    # Given one position's daily P&L on two days whose sum (10^11) is beyond int64 in 1e-8 units
    snap = PositionSnapshot.objects.filter(position__portfolio=marked).order_by("id").first()
    PositionSnapshot.objects.filter(position=snap.position, date__in=DATES[:2]).update(
        daily_pnl=Decimal(50_000_000_000)
    )
    # When the ITD attribution sums the position-days (nothing stored yet)
    # Then it is refused naming as_of, rather than rounded or a 500
    with pytest.raises(PMSError) as exc, transaction.atomic():
        attribution_as_of(marked, "ITD")
    assert exc.value.field == "as_of"
    assert "too large" in exc.value.message
    # And the EOD step refuses it naming its date, storing nothing
    with pytest.raises(PMSError) as exc, transaction.atomic():
        services.attribution_record(portfolio=marked, business_date=LAST)
    assert exc.value.field == "date"
    assert not SegmentPnl.objects.filter(portfolio=marked).exists()
    assert not AttributionResult.objects.filter(portfolio=marked).exists()
