"""Reads of the book: market data lookups, the ledger as of a date, the book itself.

Every function here issues a fixed number of queries whatever the number of positions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from pms_project.errors import ForbiddenError, MissingMarketDataError, PMSError
from pms_project.validators import CODE_HELP, is_code

from . import calculations as calc
from . import calendars
from .models import (
    CashFlow,
    Execution,
    Instrument,
    NavSnapshot,
    Portfolio,
    PortfolioGrant,
    Position,
    PositionSnapshot,
    Price,
)

Sleeve = tuple[int, int]  # (instrument_id, strategy_id)


def granted_portfolio_ids(user) -> frozenset[int] | None:
    """The ids of the portfolios ``user`` may see and change; None for every portfolio (no user:
    the system; a superuser; a user with no grant at all — the single-desk default). One query
    per user object: the answer is kept on it for the rest of the request."""
    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return None
    granted = getattr(user, "_pms_grants", False)
    if granted is False:
        ids = PortfolioGrant.objects.filter(user_id=user.pk).values_list("portfolio_id", flat=True)
        granted = frozenset(ids) or None
        user._pms_grants = granted
    return granted


def portfolios_visible_to(user) -> QuerySet[Portfolio]:
    """The portfolios ``user`` sees (every one when ``granted_portfolio_ids`` is None)."""
    granted = granted_portfolio_ids(user)
    portfolios = Portfolio.objects.all()
    return portfolios if granted is None else portfolios.filter(pk__in=granted)


def portfolio_get(code: str | None, user=None) -> Portfolio:
    """The portfolio named by ``?portfolio=CODE``; optional when ``user`` sees exactly one.

    ``user`` None is the system (commands, pipelines): every portfolio. A user restricted by
    grants who names another portfolio — one that exists or not, so that nothing tells which
    codes exist — is refused with a 403 naming ``portfolio``."""
    granted = granted_portfolio_ids(user)
    if code:
        if not is_code(code):
            raise PMSError(f"not a portfolio code: use only {CODE_HELP}", field="portfolio")
        portfolio = Portfolio.objects.filter(code=code).first()
        if granted is not None and (portfolio is None or portfolio.pk not in granted):
            raise ForbiddenError(f"you have no grant for portfolio {code!r}", field="portfolio")
        if portfolio is None:
            raise PMSError(f"unknown portfolio {code!r}", field="portfolio")
        return portfolio
    portfolios = list(portfolios_visible_to(user)[:2])
    if len(portfolios) == 1:
        return portfolios[0]
    if not portfolios:
        raise PMSError("no portfolio exists yet", field="portfolio")
    raise PMSError("several portfolios exist: name one with ?portfolio=CODE", field="portfolio")


def today() -> dt.date:
    return timezone.now().date()


def portfolio_is_open(portfolio: Portfolio, day: dt.date) -> bool:
    """Whether ``day`` is a business day of ``portfolio``'s calendar: the days its EOD and
    pre-open chains run and its mark-to-market accepts."""
    return calendars.is_open(portfolio.calendar, day)


def portfolio_previous_day(portfolio: Portfolio, day: dt.date) -> dt.date:
    """The business day of ``portfolio``'s calendar before ``day``."""
    return calendars.previous_session(portfolio.calendar, day)


# --- Market data ------------------------------------------------------------------------------


def eod_closes(*, instrument_ids: Iterable[int], day: dt.date) -> dict[int, Decimal]:
    """The EOD close of ``day``: the imported Price, else the last intraday mark made that day."""
    ids = set(instrument_ids)
    # One array literal, not IN (%s, %s, …): a mark-to-market asks for 10,000 instruments, and a
    # placeholder each (or psycopg's list adapter) costs more than the read itself.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT instrument_id, close FROM portfolio_price "
            "WHERE date = %s AND instrument_id = ANY(%s::bigint[])",
            [day, "{" + ",".join(map(str, ids)) + "}"],
        )
        closes = dict(cursor.fetchall())
    missing = ids - closes.keys()
    if missing:
        for iid, last_price, last_at in Instrument.objects.filter(
            id__in=missing, last_price__isnull=False
        ).values_list("id", "last_price", "last_price_at"):
            if last_at is not None and timezone.localdate(last_at, dt.UTC) == day:
                closes[iid] = last_price
    return closes


def eod_closes_carried(
    instruments: dict[int, Instrument], day: dt.date
) -> tuple[dict[int, Decimal], set[int]]:
    """The closes marking ``day``: (closes, the ids whose close is carried).

    An instrument whose market is open on ``day`` (its ``calendar``) has its EOD close of the day
    (``eod_closes``). One whose market is closed carries its last imported close before ``day``,
    provided that close is of its previous session or later: an older one means a session's close
    is missing, and the instrument is left out, as a missing close is. A close stored for a closed
    day is not a close (a vendor's repeat), here as in the returns. Two queries at most.
    """
    open_ids, closed_ids = set(), set()
    for iid, inst in instruments.items():
        (open_ids if calendars.is_open(inst.calendar, day) else closed_ids).add(iid)
    closes = eod_closes(instrument_ids=open_ids, day=day) if open_ids else {}
    carried = set()
    if closed_ids:
        before = last_closes(closed_ids, upto=day - dt.timedelta(days=1))
        for iid, (close_date, close) in before.items():
            if close_date >= calendars.previous_session(instruments[iid].calendar, day):
                closes[iid] = close
                carried.add(iid)
    return closes, carried


@dataclass(frozen=True)
class LatestMark:
    price: Decimal
    date: dt.date
    intraday: bool


def latest_close_columns(instrument: str) -> dict[str, Subquery]:
    """``close_date`` and ``close``: the last imported close of the instrument ``instrument``
    names in the outer query, as columns of that query (the input of ``latest_mark``)."""
    last_close = Price.objects.filter(instrument=OuterRef(instrument)).order_by("-date")
    return {
        "close_date": Subquery(last_close.values("date")[:1]),
        "close": Subquery(last_close.values("close")[:1]),
    }


def latest_mark(
    *,
    close_date: dt.date | None,
    close: Decimal | None,
    last_price: Decimal | None,
    last_price_at: dt.datetime | None,
) -> LatestMark | None:
    """The intraday mark when it is newer than the last close, else the last close, else None."""
    intraday_date = timezone.localdate(last_price_at, dt.UTC) if last_price_at else None
    if intraday_date is not None and (close_date is None or intraday_date > close_date):
        return LatestMark(last_price, intraday_date, True)
    if close_date is not None:
        return LatestMark(close, close_date, False)
    return None


def _marks(rows: Iterable[tuple]) -> dict[int, LatestMark]:
    """Rows of (instrument id, close_date, close, last_price, last_price_at) → their marks."""
    marks: dict[int, LatestMark] = {}
    for iid, close_date, close, last_price, last_price_at in rows:
        mark = latest_mark(
            close_date=close_date, close=close, last_price=last_price, last_price_at=last_price_at
        )
        if mark is not None:
            marks[iid] = mark
    return marks


def latest_marks(instrument_ids: Iterable[int]) -> dict[int, LatestMark]:
    """Each instrument's latest mark: the intraday mark when newer than the last close."""
    return _marks(
        Instrument.objects.filter(id__in=set(instrument_ids))
        .annotate(**latest_close_columns("pk"))
        .values_list("id", "close_date", "close", "last_price", "last_price_at")
    )


def closes_frame(
    instrument_ids: Iterable[int], *, start: dt.date | None = None, end: dt.date | None = None
) -> pd.DataFrame:
    """The imported closes of ``instrument_ids`` as a dates × instrument id frame of floats.

    For the numerical modules (returns, VaR, signals). One query whatever the number of rows:
    PostgreSQL packs each instrument's (date, close) pairs into one binary string of fixed-width
    big-endian fields that numpy reads in place — no Python object per close. The rows come from
    an index-only scan of the (instrument, date) unique index, which carries ``close_float``
    (migration 0005). Dates with no close are NaN. Intraday marks are not closes: history is
    close to close.
    """
    ids = sorted(set(instrument_ids))
    sql = [
        "SELECT instrument_id, string_agg(int4send(date - DATE '1970-01-01')",
        "|| float8send(close_float), ''::bytea) FROM portfolio_price",
        "WHERE instrument_id = ANY(%s)",
    ]
    params: list = [ids]
    if start is not None:
        sql.append("AND date >= %s")
        params.append(start)
    if end is not None:
        sql.append("AND date <= %s")
        params.append(end)
    sql.append("GROUP BY instrument_id")
    with connection.cursor() as cursor:
        cursor.execute(" ".join(sql), params)
        packed = cursor.fetchall()
    column = {iid: i for i, iid in enumerate(ids)}
    parts = [np.frombuffer(blob, dtype=_PACKED_CLOSE) for _, blob in packed]
    rows = np.concatenate(parts) if parts else np.empty(0, dtype=_PACKED_CLOSE)
    columns = np.repeat(
        np.array([column[iid] for iid, _ in packed], dtype=np.int64),
        np.array([len(p) for p in parts], dtype=np.int64),
    )
    # Rows of the frame: the distinct days, found by counting (days span a few thousand at
    # most) rather than by sorting every close.
    day = rows["day"].astype(np.int64)
    first = int(day.min()) if len(day) else 0
    offset = day - first
    present = np.flatnonzero(np.bincount(offset)) if len(day) else np.empty(0, dtype=np.int64)
    row_of = np.empty(int(offset.max()) + 1 if len(day) else 0, dtype=np.int64)
    row_of[present] = np.arange(len(present))
    matrix = np.full((len(present), len(ids)), np.nan)
    matrix[row_of[offset], columns] = rows["close"]
    days = np.datetime64("1970-01-01", "D") + (present + first)
    index = pd.Index(days.astype("datetime64[D]").tolist(), name="date", dtype=object)
    return pd.DataFrame(matrix, index=index, columns=pd.Index(ids))


# One close in closes_frame's packed strings: int4 days since 1970-01-01, then the float8 close.
_PACKED_CLOSE = np.dtype([("day", ">i4"), ("close", ">f8")])


class FxTable:
    """Rates converting each currency to the portfolio's base, by date (EOD closes of pairs)."""

    def __init__(self, base: str, rates: dict[tuple[str, dt.date], Decimal]):
        self.base = base
        self._rates = rates

    def rate(self, currency: str, day: dt.date) -> Decimal:
        if currency == self.base:
            return calc.ONE
        try:
            return self._rates[(currency, day)]
        except KeyError:
            raise MissingMarketDataError(
                f"no {currency}{self.base} (or {self.base}{currency}) rate on {day.isoformat()}",
                field="fx",
            ) from None


def _pair_symbols(base: str, currencies: Iterable[str]) -> dict[str, tuple[str, bool]]:
    """The symbols of the pairs converting ``currencies`` to ``base``: symbol → (currency, is
    direct)."""
    wanted: dict[str, tuple[str, bool]] = {}
    for ccy in set(currencies) - {base}:
        wanted[f"{ccy}{base}"] = (ccy, True)
        wanted[f"{base}{ccy}"] = (ccy, False)
    return wanted


def fx_pairs(*, base: str, currencies: Iterable[str]) -> dict[int, tuple[str, bool]]:
    """The pair instruments converting ``currencies`` to ``base``: id → (currency, is direct)."""
    wanted = _pair_symbols(base, currencies)
    if not wanted:
        return {}
    return {
        iid: wanted[symbol]
        for iid, symbol in Instrument.objects.filter(symbol__in=wanted).values_list("id", "symbol")
    }


def fx_latest_rates_for(*, base: str, currencies: Iterable[str]) -> dict[str, Decimal]:
    """``fx_latest_rates`` of the pairs converting ``currencies``: the pairs and their latest
    marks read in one query (no query when every currency is the base)."""
    wanted = _pair_symbols(base, currencies)
    if not wanted:
        return fx_latest_rates(base=base, pairs={}, marks={})
    rows = list(
        Instrument.objects.filter(symbol__in=wanted)
        .annotate(**latest_close_columns("pk"))
        .values_list("id", "symbol", "close_date", "close", "last_price", "last_price_at")
    )
    pairs = {iid: wanted[symbol] for iid, symbol, *_ in rows}
    marks = _marks((iid, *mark) for iid, _, *mark in rows)
    return fx_latest_rates(base=base, pairs=pairs, marks=marks)


def fx_table(
    *,
    base: str,
    currencies: Iterable[str],
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> FxTable:
    """Every EOD FX rate needed to convert ``currencies`` to ``base`` between two dates.

    The close of a pair on D is its imported Price of D, else its intraday mark made on D.
    """
    wanted = set(currencies) - {base}
    if not wanted:
        return FxTable(base, {})
    symbols = {f"{c}{base}": (c, True) for c in wanted} | {f"{base}{c}": (c, False) for c in wanted}
    instruments = Instrument.objects.filter(symbol__in=symbols).only(
        "id", "symbol", "last_price", "last_price_at"
    )
    pairs = {i.id: symbols[i.symbol] for i in instruments}
    prices = Price.objects.filter(instrument_id__in=pairs)
    if start is not None:
        prices = prices.filter(date__gte=start)
    if end is not None:
        prices = prices.filter(date__lte=end)
    closes: dict[tuple[str, dt.date], dict[bool, Decimal]] = defaultdict(dict)
    for iid, day, close in prices.values_list("instrument_id", "date", "close"):
        ccy, direct = pairs[iid]
        closes[(ccy, day)][direct] = close
    for inst in instruments:
        if inst.last_price is None or inst.last_price_at is None:
            continue
        day = timezone.localdate(inst.last_price_at, dt.UTC)
        if (start is None or day >= start) and (end is None or day <= end):
            ccy, direct = pairs[inst.id]
            closes[(ccy, day)].setdefault(direct, inst.last_price)
    rates = {
        key: calc.fx_rate_from_pair(direct_close=v.get(True), inverse_close=v.get(False))
        for key, v in closes.items()
    }
    return FxTable(base, rates)


def fx_latest_rates(
    *, base: str, pairs: dict[int, tuple[str, bool]], marks: dict[int, LatestMark]
) -> dict[str, Decimal]:
    """Each currency's rate to ``base`` at its pair's latest mark (the direct pair preferred)."""
    by_ccy: dict[str, dict[bool, Decimal]] = defaultdict(dict)
    for iid, (ccy, direct) in pairs.items():
        if iid in marks:
            by_ccy[ccy][direct] = marks[iid].price
    rates = {base: calc.ONE}
    for ccy, closes in by_ccy.items():
        rates[ccy] = calc.fx_rate_from_pair(
            direct_close=closes.get(True),
            inverse_close=None if True in closes else closes.get(False),
        )
    return rates


# --- The ledger -------------------------------------------------------------------------------


def executions_as_of(portfolio: Portfolio, day: dt.date | None = None) -> QuerySet[Execution]:
    qs = Execution.objects.filter(portfolio=portfolio)
    if day is not None:
        qs = qs.filter(trade_date__lte=day)
    return qs.order_by("trade_date", "id")


def ledger_trades(
    portfolio: Portfolio, day: dt.date | None = None
) -> dict[Sleeve, list[calc.Trade]]:
    trades: dict[Sleeve, list[calc.Trade]] = defaultdict(list)
    for iid, sid, trade_date, qty, price in executions_as_of(portfolio, day).values_list(
        "instrument_id", "strategy_id", "trade_date", "quantity", "price"
    ):
        trades[(iid, sid)].append(calc.Trade(trade_date, qty, price))
    return trades


def ledger_states(
    *,
    portfolio: Portfolio,
    trades: dict[Sleeve, list[calc.Trade]],
    instruments: dict[int, Instrument],
    fx: FxTable,
) -> dict[Sleeve, calc.LedgerState]:
    """Replay every sleeve's executions by the average-cost method."""
    return {
        sleeve: calc.replay(
            sleeve_trades,
            multiplier=instruments[sleeve[0]].multiplier,
            fx=lambda day, ccy=instruments[sleeve[0]].currency: fx.rate(ccy, day),
        )
        for sleeve, sleeve_trades in trades.items()
    }


def ledger_rebuild(
    portfolio: Portfolio, day: dt.date | None = None
) -> dict[Sleeve, calc.LedgerState]:
    """The positions the ledger gives, as of ``day`` (default: everything booked)."""
    trades = ledger_trades(portfolio, day)
    instruments = Instrument.objects.in_bulk({iid for iid, _ in trades})
    first = min((t[0].trade_date for t in trades.values()), default=None)
    fx = fx_table(
        base=portfolio.base_currency,
        currencies={i.currency for i in instruments.values()},
        start=first,
        end=day,
    )
    return ledger_states(portfolio=portfolio, trades=trades, instruments=instruments, fx=fx)


def ledger_differences(portfolio: Portfolio) -> list[str]:
    """Stored positions that differ from the ledger rebuild (empty when the book is consistent)."""
    rebuilt = ledger_rebuild(portfolio)
    problems = []
    stored = {
        (p.instrument_id, p.strategy_id): p
        for p in Position.objects.filter(portfolio=portfolio).select_related(
            "instrument", "strategy"
        )
    }
    for sleeve in stored.keys() | rebuilt.keys():
        pos, state = stored.get(sleeve), rebuilt.get(sleeve)
        if pos is None or state is None:
            problems.append(f"sleeve {sleeve}: stored={pos is not None} ledger={state is not None}")
            continue
        if (pos.quantity, pos.avg_cost, pos.realized_pnl) != (
            state.quantity,
            state.avg_cost,
            state.realized_pnl,
        ):
            problems.append(
                f"{pos.instrument.symbol}/{pos.strategy.code}: stored {_plain(pos.quantity)}"
                f"@{_plain(pos.avg_cost)} realized {_plain(pos.realized_pnl)}; ledger "
                f"{_plain(state.quantity)}@{_plain(state.avg_cost)} "
                f"realized {_plain(state.realized_pnl)}"
            )
    return problems


def _plain(value: Decimal) -> str:
    """A stored decimal without its storage scale's trailing zeros (41, not 41.00000000)."""
    return f"{value.normalize():f}"


# --- Flows and NAV ----------------------------------------------------------------------------


def nav_before(portfolio: Portfolio, day: dt.date) -> tuple[Decimal, dt.date | None]:
    """NAV at the last snapshot strictly before ``day`` and its date (initial capital, None,
    before the first)."""
    snap = (
        NavSnapshot.objects.filter(portfolio=portfolio, date__lt=day)
        .order_by("-date")
        .values_list("nav", "date")
        .first()
    )
    return snap if snap else (portfolio.initial_capital, None)


def flows_between(portfolio: Portfolio, after: dt.date | None, upto: dt.date) -> Decimal:
    """Σ cash flows with after < date ≤ upto (all flows up to ``upto`` when ``after`` is None)."""
    flt = Q(portfolio=portfolio, date__lte=upto)
    if after is not None:
        flt &= Q(date__gt=after)
    return CashFlow.objects.filter(flt).aggregate(s=Sum("amount"))["s"] or calc.ZERO


def position_snapshot_rows(portfolio: Portfolio, day: dt.date) -> list[dict]:
    """The position snapshots of ``day`` as its mark-to-market stored them (one row per position
    marked that day, a position closed during the day included, with quantity 0; ``carried``:
    marked at its previous close, its market closed that day)."""
    return list(
        PositionSnapshot.objects.filter(position__portfolio=portfolio, date=day)
        .order_by("position__instrument__symbol", "position__strategy__code")
        .values(
            "quantity",
            "price",
            "fx",
            "exposure",
            "daily_pnl",
            "total_pnl",
            "carried",
            instrument_id=F("position__instrument_id"),
            symbol=F("position__instrument__symbol"),
            strategy=F("position__strategy__code"),
            asset_class=F("position__instrument__asset_class"),
            currency=F("position__instrument__currency"),
        )
    )


def last_closes(
    instrument_ids: Iterable[int], *, upto: dt.date
) -> dict[int, tuple[dt.date, Decimal]]:
    """Each instrument's last imported close on or before ``upto``: (date, close). One query."""
    rows = (
        Price.objects.filter(instrument_id__in=set(instrument_ids), date__lte=upto)
        .order_by("instrument_id", "-date")
        .distinct("instrument_id")
        .values_list("instrument_id", "date", "close")
    )
    return {iid: (day, close) for iid, day, close in rows}
