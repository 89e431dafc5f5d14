"""``attribution_run``: one date or a range, one line per day with each period's TWR, the rows it
stores, and errors as a CommandError naming the field."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from attribution.models import AttributionDay, AttributionResult, SegmentPnl
from portfolio.tests.factories import PortfolioFactory

from .fixtures_attribution import AFTER, BEFORE, DATES, LAST, SAT, attribution_counts
from .reference import DIMENSIONS, expected, history

pytestmark = pytest.mark.django_db

PERIODS = ["1D", "WTD", "MTD", "QTD", "YTD", "ITD"]


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("attribution_run", *args, stdout=out)
    return out.getvalue().splitlines()


def anchors(day: dt.date) -> dict[str, dt.date]:
    """The standard anchors of a day of the book (25 March .. 9 April 2024), by hand."""
    friday_before = {0: dt.date(2024, 3, 22), 1: dt.date(2024, 3, 29), 2: dt.date(2024, 4, 5)}
    week = 0 if day <= dt.date(2024, 3, 29) else 1 if day <= dt.date(2024, 4, 5) else 2
    march = day.month == 3
    return {
        "1D": dt.date(2024, 3, 22) if day == DATES[0] else DATES[DATES.index(day) - 1],
        "WTD": friday_before[week],
        "MTD": dt.date(2024, 2, 29) if march else dt.date(2024, 3, 29),
        "QTD": dt.date(2023, 12, 29) if march else dt.date(2024, 3, 29),
        "YTD": dt.date(2023, 12, 29),
        "ITD": dt.date(2024, 1, 2),
    }


def expected_line(portfolio, day) -> str:
    days = history(portfolio)
    parts = [f"{p} {expected(days, anchors(day)[p], day).twr:+.4%}" for p in PERIODS]
    return f"MACRO1 {day.isoformat()}  " + "  ".join(parts)


def test_one_date_prints_its_line_and_stores_the_day(marked):
    lines = run("--date", LAST.isoformat())
    # one line with the six periods' TWRs, then the summary
    assert lines == [
        expected_line(marked, LAST),
        "MACRO1: attribution of 1 business day(s) stored",
    ]
    # the six periods as of the date, with the recomputation's P&L and TWR
    days = history(marked)
    results = {r.period: r for r in AttributionResult.objects.filter(portfolio=marked)}
    assert sorted(results) == sorted(PERIODS)
    for period, row in results.items():
        exp = expected(days, anchors(LAST)[period], LAST)
        assert (row.as_of, row.anchor, row.days) == (LAST, anchors(LAST)[period], len(exp.dates))
        assert row.pnl == exp.pnl
        assert row.twr == pytest.approx(exp.twr, abs=1e-14)
    # the daily totals of every day up to it, one row per (day, dimension, segment)
    stored = {(s.date, s.dimension, s.key): s.pnl for s in SegmentPnl.objects.all()}
    assert stored == {
        (d.date, dim, key): pnl
        for d in days
        for dim in DIMENSIONS
        for key, pnl in d.segments[dim].items()
    }
    assert list(AttributionDay.objects.order_by("date").values_list("date", flat=True)) == DATES
    # and --portfolio names it; a re-run replaces
    counts = attribution_counts()
    assert run("--date", LAST.isoformat(), "--portfolio", "MACRO1")[0] == lines[0]
    assert attribution_counts() == counts


def test_a_range_stores_every_business_day(marked):
    start, end = DATES[3], DATES[6]  # Thu 28 March .. Tue 2 April, across a weekend
    lines = run("--from", start.isoformat(), "--to", end.isoformat())
    days = DATES[3:7]
    assert lines == [expected_line(marked, d) for d in days] + [
        "MACRO1: attribution of 4 business day(s) stored"
    ]
    stored = AttributionResult.objects.values_list("as_of", "period")
    assert sorted(stored) == sorted((d, p) for d in days for p in PERIODS)
    assert list(AttributionDay.objects.order_by("date").values_list("date", flat=True)) == DATES[:7]


def test_a_range_stops_at_an_unmarked_day_keeping_the_days_before(marked):
    with pytest.raises(CommandError) as raised:
        run("--from", DATES[-2].isoformat(), "--to", AFTER.isoformat())
    message = str(raised.value)
    assert f"date: {AFTER.isoformat()} is not marked to market" in message
    assert "before the failing one are stored" in message
    assert set(AttributionResult.objects.values_list("as_of", flat=True)) == {DATES[-2], LAST}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--date", BEFORE.isoformat()], f"date: {BEFORE.isoformat()} is not marked to market"),
        (["--date", AFTER.isoformat()], f"date: {AFTER.isoformat()} is not marked to market"),
        (["--date", SAT.isoformat()], f"date: {SAT.isoformat()} is not a business day"),
        (["--date", "2099-01-02"], "date: 2099-01-02 is in the future"),
        (["--from", LAST.isoformat(), "--to", DATES[2].isoformat()], "from: the range starts"),
        (["--from", SAT.isoformat(), "--to", LAST.isoformat()], "from: 2024-03-30"),
        (["--date", LAST.isoformat(), "--portfolio", "NOPE"], "portfolio: unknown portfolio"),
        (["--date", "2024-3-4"], "is not a date"),
        (["--date", "04/03/2024"], "is not a date"),
        (["--date", "x"], "is not a date"),
        (["--date", "2024-02-30"], "is not a date"),
        (["--from", "2024-3-25"], "is not a date"),
        (["--to", LAST.isoformat()], "--from"),
    ],
)
def test_bad_dates_are_a_command_error_naming_the_field(marked, args, words):
    before = attribution_counts()
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert words in str(raised.value), str(raised.value)
    assert attribution_counts() == before


def test_several_portfolios_need_one_named(marked):
    PortfolioFactory(code="MACRO2", name="Second")
    with pytest.raises(CommandError, match="portfolio: several portfolios"):
        run("--date", LAST.isoformat())
    assert run("--date", LAST.isoformat(), "--portfolio", "MACRO1")[-1] == (
        "MACRO1: attribution of 1 business day(s) stored"
    )


@pytest.mark.parametrize("text", ["2024-3-4", "04/03/2024"])
def test_a_malformed_date_exits_non_zero_from_the_command_line(capsys, text):
    # As ``manage.py attribution_run --date …`` runs it: argparse refuses the value, before
    # anything touches the database, with exit status 2
    with pytest.raises(SystemExit) as raised:
        ManagementUtility(["manage.py", "attribution_run", "--date", text]).execute()
    assert raised.value.code not in (0, None)
    captured = capsys.readouterr()
    assert "is not a date" in captured.err, captured.err
    assert captured.out == ""
