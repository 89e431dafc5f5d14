"""``risk_snapshot``: one date or a range, one line per day, errors as CommandError naming the
field."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolio import selectors
from portfolio.tests.factories import PortfolioFactory
from risk.models import RiskSnapshot

from .fixtures_risk import DATES, LAST, OPEN, build_market, limit, mark, open_book, risk_counts

pytestmark = pytest.mark.django_db

D = DATES[78]  # Fri 2024-04-19
SAT, SUN = dt.date(2024, 4, 20), dt.date(2024, 4, 21)


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("risk_snapshot", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def marked(portfolio):
    """The book, marked from its opening day (DATES[75]) to LAST (DATES[80])."""
    market = build_market()
    open_book(portfolio, market)
    mark(portfolio, DATES[OPEN])
    return portfolio


def test_one_date_prints_one_line_and_stores_the_snapshot(marked):
    # Given a leverage limit the book breaches
    limit(marked, "gross_leverage", "0.5", "0.8")
    # When D's risk is stored
    lines = run("--date", D.isoformat())
    # Then one line tells the day's figures, and a summary follows
    snap = RiskSnapshot.objects.get()
    assert snap.date == D and snap.scenarios == 78
    assert lines == [
        f"MACRO1 {D.isoformat()}  VaR99 {snap.var_99:,.2f}  leverage {snap.leverage:.2f}x  "
        "scenarios 78  breaches 1",
        "MACRO1: risk of 1 business day(s) stored",
    ]
    # And re-running the date replaces the row
    run("--date", D.isoformat(), "--portfolio", "MACRO1")
    assert RiskSnapshot.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (DATES[OPEN], LAST, DATES[OPEN:]),  # Tue 16 .. Tue 23 April, across a weekend: six days
        (DATES[77], DATES[78], DATES[77:79]),
        (LAST, LAST, [LAST]),
    ],
)
def test_a_range_stores_every_business_day(marked, start, end, days):
    lines = run("--from", start.isoformat(), "--to", end.isoformat())
    assert [s.date for s in RiskSnapshot.objects.order_by("date")] == days
    assert [line.split()[1] for line in lines[:-1]] == [d.isoformat() for d in days]
    assert lines[-1] == f"MACRO1: risk of {len(days)} business day(s) stored"
    scenarios = [int(line.split("scenarios ")[1].split()[0]) for line in lines[:-1]]
    assert scenarios == [DATES.index(d) for d in days]


def test_a_range_without_to_ends_on_the_last_business_day_before_today(monkeypatch, marked):
    # Given today is Wed 2024-04-24 (the last business day before it: LAST, Tue 23 April)
    monkeypatch.setattr(selectors, "today", lambda: dt.date(2024, 4, 24))
    # When a range is given with --from only
    lines = run("--from", D.isoformat())
    # Then it runs from D to LAST: Fri 19, Mon 22, Tue 23 April
    assert [s.date for s in RiskSnapshot.objects.order_by("date")] == DATES[78:]
    assert lines[-1] == "MACRO1: risk of 3 business day(s) stored"


def test_a_short_history_is_flagged_in_the_line(portfolio):
    # Given a book opened on the fifth business day and marked there: 4 returns
    market = build_market()
    open_book(portfolio, market, day=DATES[4])
    mark(portfolio, DATES[4], DATES[4])
    [line, _] = run("--date", DATES[4].isoformat())
    assert line.endswith("scenarios 4  breaches 0  INSUFFICIENT HISTORY"), line


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--date", SAT.isoformat()], "date: 2024-04-20 is not a business day"),
        (["--date", SUN.isoformat()], "date: 2024-04-21 is not a business day"),
        (["--date", DATES[74].isoformat()], "date: 2024-04-15 is not marked to market"),
        (["--from", SAT.isoformat(), "--to", LAST.isoformat()], "from: 2024-04-20"),
        (["--from", DATES[76].isoformat(), "--to", SUN.isoformat()], "to: 2024-04-21"),
        (["--from", LAST.isoformat(), "--to", DATES[76].isoformat()], "from: the range starts"),
        (["--date", D.isoformat(), "--to", LAST.isoformat()], "--to needs --from"),
        (["--from", D.isoformat(), "--to", "2099-01-02"], "to: 2099-01-02 is in the future"),
        (["--to", LAST.isoformat()], "--from"),  # argparse: --date or --from is required
        (["--date", "2024-13-01"], "is not a date"),
        (["--date", D.isoformat(), "--portfolio", "NOPE"], "portfolio: unknown portfolio"),
    ],
)
def test_bad_dates_are_a_command_error_naming_the_field(marked, args, words):
    before = risk_counts()
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert words in str(raised.value), str(raised.value)
    assert risk_counts() == before


def test_several_portfolios_need_one_named(marked):
    PortfolioFactory(code="MACRO2")
    with pytest.raises(CommandError, match="portfolio: several portfolios"):
        run("--date", D.isoformat())
    [line, _] = run("--date", D.isoformat(), "--portfolio", "MACRO1")
    assert line.startswith(f"MACRO1 {D.isoformat()}  VaR99 ")
    assert RiskSnapshot.objects.get().portfolio.code == "MACRO1"
