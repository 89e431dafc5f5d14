"""API: mark-to-market runs and the NAV series."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from portfolio import services
from portfolio.models import NavSnapshot, PositionSnapshot

from .api_support import (
    API,
    SAT,
    SUN,
    THU,
    TUE,
    D,
    api_test_defaults,  # noqa: F401 (autouse fixture)
    assert_400_naming,
    counts,
    future_day,
    open_book,
)

pytestmark = pytest.mark.django_db

# Long 2 ES @ 5000 (×50) and short 3 FGBL @ 132.5 (×1000, EUR), a 100,000 subscription on Tuesday.
NAV_MON = Decimal(1_000_000)
NAV_TUE = Decimal(1_100_000) + 1000 - Decimal("1635")  # ES +1000; FGBL 0.5 × −3000 × 1.09
NAV_WED = Decimal(1_100_000) + 2050 - Decimal("815.625")  # ES +2050; FGBL 0.25 × −3000 × 1.0875


def exact_return(nav: Decimal, previous: Decimal, flow: Decimal = Decimal(0)) -> float:
    with localcontext() as ctx:
        ctx.prec = 50
        return float(nav / (previous + flow) - 1)


@pytest.fixture
def book(portfolio):
    positions = open_book(portfolio)
    services.cash_flow_record(portfolio=portfolio, date=TUE, amount=Decimal(100_000))
    return positions


def mtm(client, day: str):
    return client.post(f"{API}/mtm/", {"date": day}, format="json")


# --- Mark-to-market ---------------------------------------------------------------------------


def test_mtm_writes_the_nav_snapshot_of_the_day(trader_client, book):
    # When Monday and then Tuesday are marked
    monday = mtm(trader_client, "2024-03-04")
    tuesday = mtm(trader_client, "2024-03-05")
    # Then Monday's NAV is the capital, and Tuesday's adds the flow and the day's P&L
    assert monday.status_code == 200, monday.content
    assert tuesday.status_code == 200, tuesday.content
    assert D(monday.json()["nav"]) == NAV_MON
    assert monday.json()["daily_return"] == 0.0
    body = tuesday.json()
    assert body["date"] == "2024-03-05"
    assert D(body["nav"]) == NAV_TUE == Decimal(1_099_365)
    assert D(body["flow"]) == Decimal(100_000)
    assert D(body["daily_pnl"]) == Decimal(-635)
    assert body["daily_return"] == exact_return(NAV_TUE, NAV_MON, Decimal(100_000))
    # And the rows are in the database, one position snapshot per open position
    stored = NavSnapshot.objects.get(date=TUE)
    assert (stored.nav, stored.flow) == (NAV_TUE, Decimal(100_000))
    assert PositionSnapshot.objects.filter(date=TUE).count() == 2
    fgbl = PositionSnapshot.objects.get(date=TUE, position=book["FGBL"])
    assert (fgbl.fx, fgbl.unrealized, fgbl.exposure) == (
        Decimal("1.09"),
        Decimal("-1635"),
        Decimal(-3) * 1000 * 133 * Decimal("1.09"),
    )


def test_mtm_rerun_replaces_the_day(trader_client, book):
    first = mtm(trader_client, "2024-03-05")
    again = mtm(trader_client, "2024-03-05")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert NavSnapshot.objects.filter(date=TUE).count() == 1
    assert PositionSnapshot.objects.filter(date=TUE).count() == 2


def test_mtm_snapshots_a_position_closed_during_the_day(trader_client, book):
    # Given Monday marked, and ES (long 2 @ 5000) closed on Tuesday at 5012
    assert mtm(trader_client, "2024-03-04").status_code == 200
    closed = trader_client.post(
        f"{API}/positions/{book['ES'].id}/close/",
        {"price": "5012", "trade_date": "2024-03-05"},
        format="json",
    )
    assert closed.status_code == 200
    # When Tuesday is marked
    body = mtm(trader_client, "2024-03-05").json()
    # Then ES has a flat snapshot of Tuesday carrying its realized (5012 − 5000) × 2 × 50 = 1200
    es = PositionSnapshot.objects.get(date=TUE, position=book["ES"])
    assert (es.quantity, es.unrealized, es.total_pnl, es.daily_pnl) == (0, 0, 1200, 1200)
    # And Σ daily P&L of Tuesday's snapshots = NAV(Tue) − NAV(Mon) − flow(Tue)
    daily = sum(p.daily_pnl for p in PositionSnapshot.objects.filter(date=TUE))
    assert daily == D(body["nav"]) - NAV_MON - 100_000 == Decimal(1200) - 1635


def test_mtm_rerun_after_later_trades_gives_the_same_numbers(trader_client, book):
    first = mtm(trader_client, "2024-03-05").json()
    # When ES is added to on Wednesday and closed out on Wednesday, then Tuesday is re-run
    opened = trader_client.post(
        f"{API}/positions/open/",
        {"symbol": "ES", "quantity": "5", "price": "5020", "trade_date": "2024-03-06"},
        format="json",
    )
    assert opened.status_code == 201
    again = mtm(trader_client, "2024-03-05")
    # Then Tuesday's numbers are those of the ledger as of Tuesday
    assert again.status_code == 200
    assert again.json() == first
    es = PositionSnapshot.objects.get(date=TUE, position=book["ES"])
    assert es.quantity == 2


def test_mtm_with_a_missing_close_names_the_instruments_and_writes_nothing(trader_client, book):
    # Given Monday marked, and no close at all on Thursday
    assert mtm(trader_client, "2024-03-04").status_code == 200
    before = counts()
    # When Thursday is marked
    response = mtm(trader_client, THU.isoformat())
    # Then the run fails naming both instruments, and nothing is written
    assert_400_naming(response, "date", "ES", "FGBL", "2024-03-07")
    assert counts() == before
    assert not NavSnapshot.objects.filter(date=THU).exists()


def test_mtm_with_a_missing_fx_rate_names_the_pair_and_writes_nothing(trader_client, book):
    # Given Thursday closes for ES and FGBL, but none for EURUSD
    services.prices_load(
        [
            services.PriceRow("ES", THU, Decimal(5030)),
            services.PriceRow("FGBL", THU, Decimal(133)),
        ]
    )
    before = counts()
    response = mtm(trader_client, THU.isoformat())
    assert response.status_code == 400, response.content
    message = " ".join(str(m) for messages in response.json().values() for m in messages)
    assert "EURUSD" in message and "2024-03-07" in message
    assert counts() == before


@pytest.mark.parametrize(
    "day",
    [SAT.isoformat(), SUN.isoformat(), "2024-02-30", "5/3/2024", "", None, "2023-12-29"],
)
def test_mtm_of_a_bad_date_names_date_and_writes_nothing(trader_client, book, day):
    before = counts()
    assert_400_naming(mtm(trader_client, day), "date")
    assert counts() == before


def test_mtm_of_a_future_date_names_date(trader_client, book):
    before = counts()
    assert_400_naming(mtm(trader_client, future_day().isoformat()), "date", "future")
    assert counts() == before


def test_mtm_without_a_date_names_date(trader_client, book):
    response = trader_client.post(f"{API}/mtm/", {}, format="json")
    assert_400_naming(response, "date")


# --- NAV series -------------------------------------------------------------------------------


@pytest.fixture
def marked(trader_client, book):
    for day in ("2024-03-04", "2024-03-05", "2024-03-06"):
        assert mtm(trader_client, day).status_code == 200


def test_nav_series_with_full_precision_returns(viewer_client, marked):
    response = viewer_client.get(f"{API}/nav/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["date"] for r in rows] == ["2024-03-04", "2024-03-05", "2024-03-06"]
    assert [D(r["nav"]) for r in rows] == [NAV_MON, NAV_TUE, NAV_WED]
    assert [D(r["flow"]) for r in rows] == [0, 100_000, 0]
    assert [D(r["daily_pnl"]) for r in rows] == [0, -635, NAV_WED - NAV_TUE]
    returns = [r["daily_return"] for r in rows]
    assert all(isinstance(r, float) for r in returns)
    assert returns == [
        0.0,
        exact_return(NAV_TUE, NAV_MON, Decimal(100_000)),
        exact_return(NAV_WED, NAV_TUE),
    ]
    # Full precision: 1101234.375 / 1099365 − 1 keeps all of a float's digits, not a rounded few
    assert len(repr(returns[2]).lstrip("0.")) >= 15


@pytest.mark.parametrize(
    ("query", "dates"),
    [
        ("from=2024-03-05", ["2024-03-05", "2024-03-06"]),
        ("to=2024-03-05", ["2024-03-04", "2024-03-05"]),
        ("from=2024-03-05&to=2024-03-05", ["2024-03-05"]),
        ("from=2024-03-07", []),
    ],
)
def test_nav_series_date_filters(viewer_client, marked, query, dates):
    response = viewer_client.get(f"{API}/nav/?{query}")
    assert response.status_code == 200
    assert [r["date"] for r in response.json()["results"]] == dates


@pytest.mark.parametrize(("query", "field"), [("from=2024-13-01", "from"), ("to=today", "to")])
def test_nav_series_with_a_bad_date_names_it(viewer_client, marked, query, field):
    assert_400_naming(viewer_client.get(f"{API}/nav/?{query}"), field)


def test_nav_is_empty_before_any_mark(viewer_client, book):
    assert viewer_client.get(f"{API}/nav/").json()["results"] == []
    assert not NavSnapshot.objects.exists()
