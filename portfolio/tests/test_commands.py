"""The portfolio management commands: imports are all or nothing, MTM writes the day's rows, and
seed_demo builds a deterministic, internally consistent demo desk."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal as D
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token

from portfolio import calculations as calc
from portfolio import demo, selectors, services
from portfolio.models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    Position,
    PositionSnapshot,
    Price,
    Strategy,
)
from risk import demo as risk_demo
from risk import report as risk_report
from risk.models import RiskSnapshot
from trades.models import TradeProposal

from .factories import InstrumentFactory, PriceFactory

pytestmark = pytest.mark.django_db

MON, TUE, WED, THU, FRI = (dt.date(2024, 3, d) for d in range(4, 9))
SAT = dt.date(2024, 3, 9)


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def csv_file(tmp_path, text: str):
    path = tmp_path / "input.csv"
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return str(path)


# --- import_instruments -----------------------------------------------------------------------

INSTRUMENTS_OK = """
symbol,name,asset_class,currency,multiplier,active
ES,S&P 500 e-mini,EQUITY,USD,50,true
FGBL,Euro-Bund future,RATES,EUR,1000,
EURUSD,Euro FX,FX,USD,,false
"""


def test_import_instruments_creates_new_symbols_and_updates_existing_ones(tmp_path):
    # Given ES already exists with an outdated name, currency and multiplier
    InstrumentFactory(symbol="ES", name="old", asset_class="FX", currency="EUR", multiplier=D(1))

    # When the file is imported
    out = run("import_instruments", csv_file(tmp_path, INSTRUMENTS_OK))

    # Then ES is updated in place and the two others are created with their defaults
    assert "2 created, 1 updated, 0 unchanged" in out
    assert Instrument.objects.count() == 3
    es = Instrument.objects.get(symbol="ES")
    assert (es.name, es.asset_class, es.currency, es.multiplier, es.active) == (
        "S&P 500 e-mini",
        "EQUITY",
        "USD",
        D(50),
        True,
    )
    fgbl = Instrument.objects.get(symbol="FGBL")
    assert (fgbl.currency, fgbl.multiplier, fgbl.active) == ("EUR", D(1000), True)
    eurusd = Instrument.objects.get(symbol="EURUSD")
    assert (eurusd.multiplier, eurusd.active) == (D(1), False)

    # And a second import of the same file changes nothing
    assert "0 created, 0 updated, 3 unchanged" in run(
        "import_instruments", csv_file(tmp_path, INSTRUMENTS_OK)
    )


@pytest.mark.parametrize(
    "bad_row, expected",
    [
        ("GC,Gold,FOO,USD,100", "line 4: asset_class 'FOO' is not one of FX, RATES"),
        ("GC,Gold,COMMODITY,usd,100", "line 4: currency 'usd'"),
        ("GC,Gold,COMMODITY,US,100", "line 4: currency 'US'"),
        ("GC,Gold,COMMODITY,AAA,100", "line 4: currency 'AAA' is not an ISO 4217"),
        ("G C,Gold,COMMODITY,USD,100", "line 4: symbol 'G C': use only upper-case"),
        ("GC,Go\x1bld,COMMODITY,USD,100", "line 4: name must not contain control"),
        ("GC,Gold,COMMODITY,USD,2000000000", "line 4: multiplier '2000000000' is above"),
        ("GC,Gold,COMMODITY,USD,0", "line 4: multiplier '0' must be greater than zero"),
        ("GC,Gold,COMMODITY,USD,-5", "line 4: multiplier '-5' must be greater than zero"),
        ("GC,Gold,COMMODITY,USD,NaN", "line 4: multiplier 'NaN' is not a finite number"),
        ("GC,Gold,COMMODITY,USD,ten", "line 4: multiplier 'ten' is not a number"),
        ("GC,,COMMODITY,USD,100", "line 4: name is missing"),
        ("ES,Again,EQUITY,USD,50", "line 4: symbol 'ES' already appears on line 2"),
        ("GC,Gold,COMMODITY,USD,100,1", "line 4: more values than columns"),
    ],
)
def test_import_instruments_rejects_the_whole_file_on_one_bad_row(tmp_path, bad_row, expected):
    # Given one existing instrument that the file would update, and a file whose line 4 is bad
    InstrumentFactory(symbol="ES", name="old", multiplier=D(1))
    text = "symbol,name,asset_class,currency,multiplier\n"
    text += "ES,S&P 500 e-mini,EQUITY,USD,50\nCL,Crude,COMMODITY,USD,1000\n" + bad_row

    # When it is imported, then the error names the line and the column
    with pytest.raises(CommandError, match=re.escape(expected)):
        run("import_instruments", csv_file(tmp_path, text))

    # And nothing was written: no new row, the existing one untouched
    assert list(Instrument.objects.values_list("symbol", "name", "multiplier")) == [
        ("ES", "old", D(1))
    ]


def test_import_instruments_refuses_missing_or_unknown_columns(tmp_path):
    with pytest.raises(CommandError, match=r"line 1: missing column.*currency"):
        run("import_instruments", csv_file(tmp_path, "symbol,name,asset_class\nES,e,EQUITY"))
    with pytest.raises(CommandError, match=r"line 1: unknown column.*multiplyer"):
        run(
            "import_instruments",
            csv_file(tmp_path, "symbol,name,asset_class,currency,multiplyer\nES,e,EQUITY,USD,50"),
        )
    assert Instrument.objects.count() == 0


# --- import_prices ----------------------------------------------------------------------------


@pytest.fixture
def two_instruments(db):
    return InstrumentFactory(symbol="ES"), InstrumentFactory(symbol="TY")


def test_import_prices_loads_every_row(tmp_path, two_instruments):
    text = "date,symbol,close\n2024-03-04,ES,5000.25\n2024-03-04,TY,110.5\n2024-03-05,ES,5010\n"
    out = run("import_prices", csv_file(tmp_path, text))

    assert "3 closes loaded for 2 symbols, 2024-03-04 to 2024-03-05" in out
    assert sorted(Price.objects.values_list("instrument__symbol", "date", "close")) == [
        ("ES", MON, D("5000.25")),
        ("ES", TUE, D("5010")),
        ("TY", MON, D("110.5")),
    ]


def test_import_prices_reimport_of_a_date_replaces_the_close(tmp_path, two_instruments):
    PriceFactory(instrument=two_instruments[0], date=MON, close=D(100))

    run("import_prices", csv_file(tmp_path, "date,symbol,close\n2024-03-04,ES,101.5"))

    assert list(Price.objects.values_list("date", "close")) == [(MON, D("101.5"))]


def test_import_prices_names_every_unknown_symbol_and_writes_nothing(tmp_path, two_instruments):
    text = "date,symbol,close\n2024-03-04,ES,5000\n2024-03-04,ZZB,1\n2024-03-04,ZZA,2\n"

    with pytest.raises(CommandError, match="unknown symbols: ZZA, ZZB"):
        run("import_prices", csv_file(tmp_path, text))

    assert Price.objects.count() == 0


@pytest.mark.parametrize(
    "bad_row, expected",
    [
        ("2024-03-05,ES,NaN", "line 3: close 'NaN' is not a finite number"),
        ("2024-03-05,ES,inf", "line 3: close 'inf' is not a finite number"),
        ("2024-03-05,ES,-1", "line 3: close '-1' must be greater than zero"),
        ("2024-03-05,ES,0", "line 3: close '0' must be greater than zero"),
        ("2024-03-05,ES,abc", "line 3: close 'abc' is not a number"),
        ("2024-03-05,ES,", "line 3: close is missing"),
        ("05/03/2024,ES,100", "line 3: date '05/03/2024' is not a date"),
        ("2024-02-30,ES,100", "line 3: date '2024-02-30' is not a date"),
        ("2024-03-09,ES,100", "line 3: date 2024-03-09 is not a business day"),
        ("2999-01-04,ES,100", "line 3: date 2999-01-04 is in the future"),
        ("2024-03-04,ES,100", "line 3: ES 2024-03-04 already appears on line 2"),
    ],
)
def test_import_prices_rejects_the_whole_file_on_one_bad_row(
    tmp_path, two_instruments, bad_row, expected
):
    text = f"date,symbol,close\n2024-03-04,ES,5000\n{bad_row}\n2024-03-06,TY,110\n"

    with pytest.raises(CommandError, match=re.escape(expected)):
        run("import_prices", csv_file(tmp_path, text))

    assert Price.objects.count() == 0


# --- mark_to_market ---------------------------------------------------------------------------


@pytest.fixture
def marked_book(portfolio):
    """Long 2 ES (×50) bought at 100 on Monday; TY long 10 (×1000); closes Mon–Fri."""
    es = InstrumentFactory(symbol="ES", multiplier=D(50))
    ty = InstrumentFactory(symbol="TY", asset_class="RATES", multiplier=D(1000))
    for i, day in enumerate((MON, TUE, WED, THU, FRI)):
        PriceFactory(instrument=es, date=day, close=D(100 + i))
        if day != THU:  # TY has no close on Thursday
            PriceFactory(instrument=ty, date=day, close=D(110))
    services.position_open(
        portfolio=portfolio, symbol="ES", quantity=D(2), price=D(100), trade_date=MON
    )
    services.position_open(
        portfolio=portfolio, symbol="TY", quantity=D(10), price=D(110), trade_date=MON
    )
    return portfolio


def test_mark_to_market_one_date_writes_the_nav_of_that_date(marked_book):
    out = run("mark_to_market", "--date", "2024-03-05")

    # ES: (101 − 100) × 2 × 50 = 100; TY flat at cost.
    snap = NavSnapshot.objects.get()
    assert (snap.date, snap.nav, snap.daily_pnl) == (TUE, D("1000100"), D("100"))
    assert PositionSnapshot.objects.filter(date=TUE).count() == 2
    assert "MACRO1 2024-03-05  NAV 1,000,100.00" in out


def test_mark_to_market_range_marks_each_business_day(marked_book):
    run("mark_to_market", "--portfolio", "MACRO1", "--from", "2024-03-04", "--to", "2024-03-06")

    assert list(NavSnapshot.objects.values_list("date", "nav")) == [
        (MON, D("1000000")),
        (TUE, D("1000100")),
        (WED, D("1000200")),
    ]


def test_mark_to_market_missing_close_names_the_instrument_and_writes_nothing_for_it(
    marked_book,
):
    # A single date: nothing at all is written.
    with pytest.raises(CommandError, match="no close on 2024-03-07 for TY"):
        run("mark_to_market", "--date", "2024-03-07")
    assert NavSnapshot.objects.count() == PositionSnapshot.objects.count() == 0

    # A range: the days before the failing one stay marked, the failing one has no row.
    with pytest.raises(CommandError, match="no close on 2024-03-07 for TY"):
        run("mark_to_market", "--from", "2024-03-04", "--to", "2024-03-08")
    assert list(NavSnapshot.objects.values_list("date", flat=True)) == [MON, TUE, WED]
    assert not PositionSnapshot.objects.filter(date=THU).exists()


def test_mark_to_market_refuses_bad_requests_without_writing(marked_book):
    with pytest.raises(CommandError, match="portfolio: unknown portfolio 'NOPE'"):
        run("mark_to_market", "--portfolio", "NOPE", "--date", "2024-03-05")
    with pytest.raises(CommandError, match="2024-03-09 is not a business day"):
        run("mark_to_market", "--date", SAT.isoformat())
    with pytest.raises(CommandError, match="to: 2999-01-01 is in the future"):
        run("mark_to_market", "--from", "2024-03-04", "--to", "2999-01-01")
    with pytest.raises(CommandError, match="is not a date"):
        run("mark_to_market", "--date", "2024-3-4")
    with pytest.raises(CommandError, match="one of the arguments --date --from is required"):
        run("mark_to_market")
    assert NavSnapshot.objects.count() == 0


# --- seed_demo --------------------------------------------------------------------------------


def _printed_password(out: str, username: str) -> str:
    return re.search(rf"^\s+{re.escape(username)}\s.*password: (\S+)", out, re.M).group(1)


def _row_counts() -> dict[str, int]:
    models = (Portfolio, Instrument, Price, Strategy, Execution, Position, CashFlow, NavSnapshot)
    return {m.__name__: m.objects.count() for m in models}


def test_demo_prices_are_deterministic_positive_business_day_closes():
    end = dt.date(2026, 11, 26)
    history = demo.price_history(end)

    assert history == demo.price_history(end)
    assert len(history) == len(demo.INSTRUMENTS) * demo.HISTORY_DAYS
    assert all(close > 0 and calc.is_business_day(day) for day, _, close in history)
    dates = demo.history_dates(end)
    assert dates[-1] == end and (dates[-1] - dates[0]).days >= 730
    # Values depend on the row index only: the next day's history is the same path, dates shifted.
    later = demo.history_dates(dt.date(2026, 11, 27))
    assert later[:-1] == dates[1:]
    assert demo.price_paths() == demo.price_paths()
    assert demo.history_end(dt.date(2026, 11, 30)) == dt.date(2026, 11, 27)  # Monday → Friday


def test_seed_demo_builds_the_desk_and_a_rerun_only_resets_passwords(settings):
    # When the demo is seeded without marks
    out = run("seed_demo", "--no-mtm")

    # Then one portfolio with 12+ instruments covering every asset class and both currencies
    portfolio = Portfolio.objects.get()
    assert (portfolio.code, portfolio.initial_capital) == ("MACRO1", D("100000000"))
    instruments = Instrument.objects.all()
    assert instruments.count() >= 12
    assert {i.asset_class for i in instruments} == {"FX", "RATES", "EQUITY", "COMMODITY", "CREDIT"}
    assert {i.currency for i in instruments} == {"USD", "EUR"}
    # two years of closes per instrument, ending on the last business day before today
    end = demo.history_end(selectors.today())
    for inst in instruments:
        days = list(Price.objects.filter(instrument=inst).values_list("date", flat=True))
        assert len(days) == demo.HISTORY_DAYS and max(days) == end
        assert (max(days) - min(days)).days >= 730
    assert portfolio.inception_date == min(days)
    # the stored closes are the pure module's closes
    stored = set(Price.objects.values_list("date", "instrument__symbol", "close"))
    assert stored == set(demo.price_history(end))
    # a year of trades: several strategies, longs and shorts, a closed sleeve, both currencies
    assert Execution.objects.count() >= 20
    assert set(Execution.objects.values_list("strategy__code", flat=True)) >= {
        "TREND",
        "MEANREV",
        "CARRY",
    }
    assert Position.objects.filter(quantity__gt=0).exists()
    assert Position.objects.filter(quantity__lt=0).exists()
    assert Position.objects.filter(status="closed").exists()
    assert Position.objects.filter(instrument__currency="EUR").exists()
    assert sorted(CashFlow.objects.values_list("amount", flat=True)) == [
        D("-5000000"),
        D("10000000"),
    ]
    assert selectors.ledger_differences(portfolio) == []
    assert NavSnapshot.objects.count() == 0
    # the printed password and token work
    demo_user = get_user_model().objects.get(username="demo")
    assert demo_user.is_superuser and demo_user.email == "demo@example.com"
    password = _printed_password(out, "demo")
    assert demo_user.check_password(password)
    assert Token.objects.get(user=demo_user).key in out
    trader = get_user_model().objects.get(username="demo-trader")
    assert trader.groups.filter(name="trader").exists()
    assert trader.check_password(_printed_password(out, "demo-trader"))
    risk_officer = get_user_model().objects.get(username="demo-risk")
    assert risk_officer.groups.filter(name="risk").exists()
    assert risk_officer.is_staff and not risk_officer.is_superuser
    assert risk_officer.has_perm("risk.change_risklimit")
    assert not risk_officer.has_perm("portfolio.change_position")
    approver = get_user_model().objects.get(username="demo-approver")
    assert approver.is_staff and approver.has_perm("trades.approve_tradeproposal")
    assert not approver.is_superuser
    analyst = get_user_model().objects.get(username="demo-analyst")
    assert list(analyst.portfolio_grants.values_list("portfolio__code", flat=True)) == ["MACRO1"]
    assert "(granted MACRO1 only)" in out
    assert "http://127.0.0.1:8000/api/portfolio/book/" in out

    # When it runs again, for a server on another address (make run passes RUN_ADDR)
    counts = _row_counts()
    settings.PMS_BASE_URL = "http://127.0.0.1:8731"
    out2 = run("seed_demo", "--no-mtm")
    assert "http://127.0.0.1:8731/api/portfolio/book/" in out2
    assert "127.0.0.1:8000" not in out2

    # Then no data is duplicated, and only the passwords changed
    assert "already exists" in out2
    assert _row_counts() == counts
    demo_user.refresh_from_db()
    assert not demo_user.check_password(password)
    assert demo_user.check_password(_printed_password(out2, "demo"))
    assert get_user_model().objects.filter(username__startswith="demo").count() == 6


def test_seed_demo_marks_every_business_day_from_the_first_trade():
    out = run("seed_demo")

    portfolio = Portfolio.objects.get()
    first_trade = Execution.objects.order_by("trade_date").first().trade_date
    end = demo.history_end(selectors.today())
    assert NavSnapshot.objects.count() == len(list(calc.business_days(first_trade, end)))
    assert selectors.ledger_differences(portfolio) == []
    # NAV continuity: the days' P&L and the flows add up to the last NAV
    last = NavSnapshot.objects.order_by("date").last()
    pnl = sum(NavSnapshot.objects.values_list("daily_pnl", flat=True), D(0))
    flows = sum(CashFlow.objects.values_list("amount", flat=True), D(0))
    assert last.date == end
    assert last.nav == portfolio.initial_capital + flows + pnl
    assert f"marked {NavSnapshot.objects.count()} business days" in out
    # and its risk: a snapshot per marked day, every demo limit, some warning and no breach
    assert RiskSnapshot.objects.count() == NavSnapshot.objects.count()
    assert f"stored the risk of {RiskSnapshot.objects.count()} business days" in out
    statuses = {row["metric"]: row["status"] for row in risk_report.risk_live(portfolio)["limits"]}
    assert set(statuses) == {metric for metric, _, _ in risk_demo.LIMITS}
    assert "warning" in statuses.values() and "breach" not in statuses.values()
    assert f"{list(statuses.values()).count('warning')} warning, 0 breach" in out
    # and its attribution as of the last day: the six periods, the daily totals of every day
    from attribution.models import AttributionDay, AttributionResult

    stored = AttributionResult.objects.filter(portfolio=portfolio, as_of=end)
    assert set(stored.values_list("period", flat=True)) == {"1D", "WTD", "MTD", "QTD", "YTD", "ITD"}
    assert AttributionDay.objects.count() == NavSnapshot.objects.count()
    itd = stored.get(period="ITD")
    assert itd.pnl == pnl  # every marked day is after the inception date
    assert f"attribution MTD as of {end.isoformat()}: TWR" in out
    # and the morning's proposals, waiting for an approver: the strategies' (the system's) and
    # one of demo-trader, each with its pre-trade check
    pending = TradeProposal.objects.filter(status="pending")
    generated = pending.filter(created_by__isnull=True)
    assert set(generated.values_list("strategy__code", flat=True)) == {"TREND", "MEANREV"}
    assert pending.exclude(created_by=None).get().created_by.username == "demo-trader"
    assert not pending.filter(var_99_after=None).exists()
    assert f"trades: {pending.count()} proposal(s) pending approval" in out
    # and the morning pack of the proposals' day, built from the last close, listing them
    from briefing.models import MorningPack

    pack = MorningPack.objects.get(portfolio=portfolio)
    day = pending.first().date
    assert (pack.date, pack.as_of) == (day, end if day > end else calc.previous_business_day(end))
    assert len(pack.content["proposals"]) == pending.count()
    assert f"generated the morning pack of {day.isoformat()}" in out
    assert "http://127.0.0.1:8000/briefing/latest/" in out
