"""The book: open positions at each instrument's latest mark, with NAV, exposures and P&L.

A read of plain rows, no model instances, in a fixed number of queries whatever the number of
positions: each instrument's last close rides on the positions query as a subquery, and the last
executions are read, in one more query, only when some open sleeve's instrument was never priced.
``portfolio.book_json`` renders the book as the API's JSON.

Marks. An open position is marked at its instrument's latest mark: the intraday mark when it is
newer than the last close (``price_source`` "intraday"), else the last close ("close"), else, for
an instrument never priced, the sleeve's last execution price ("execution", dated by that
execution's trade date). ``mark_age_days`` counts calendar days from the mark's date to today
(UTC); ``stale`` is true when that date is before the previous session of today on the
instrument's calendar (a holiday is not an outage). ``carried`` is true when the mark is a close
dated before ``as_of`` and the instrument's market had no session after it up to ``as_of``: its
previous close carries, as it does in the mark-to-market of such a day.

The book degrades, it never fails. A position that cannot be valued is listed under ``unvalued``
with the reason, not under ``positions``, and ``complete`` is false. A position cannot be valued
when no price of any kind exists for it, when no rate at all converts its currency to the base,
when one of its numbers does not fit the book's columns (e.g. an exposure of 10^20 or more), or
when its arithmetic fails. Everything else is computed from what could be valued:

- NAV = initial capital + cash flows dated up to max(as_of, today) + the realized P&L of every
  sleeve (valued, unvalued and flat alike: it is stored and needs no price) + the unrealized P&L
  of the valued positions. An unvalued position's unrealized P&L is left out, never guessed.
- Gross, net, leverage (gross / NAV, null when NAV is 0) and the exposures by asset class and by
  currency: the valued positions only.
- 1D: Σ daily P&L of the valued positions and of the flat sleeves; an unvalued position adds
  nothing (not even a change of its realized P&L).
- MTD and YTD: NAV − the stored NAV before the period − flows since. That stored NAV included
  the unrealized P&L of a position now unvalued, so its absence shows in MTD and YTD: read them
  with ``complete``.

``as_of`` is the latest close or intraday mark date among the open positions that have one and a
rate for their currency (today when none has): it anchors the 1D base (the last snapshot before
it) and the MTD/YTD periods. Execution prices never move it: a trade price is not a market mark,
and a trade dated after the last close would otherwise shift the day's P&L base.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db.models import F, OuterRef, Subquery

from . import calculations as calc
from . import calendars, selectors
from .models import Execution, Portfolio, Position, PositionSnapshot

logger = logging.getLogger(__name__)


class Unvalued(Exception):
    """A position the book cannot value; the message is the reason shown to the desk."""


def _sleeves(portfolio: Portfolio) -> list[dict]:
    """Every sleeve of the portfolio, flat ones included (their realized P&L counts), as plain
    rows in the book's order, each with its instrument's last close and intraday mark: no model
    instances, which would cost more than the book's arithmetic."""
    return list(
        Position.objects.filter(portfolio=portfolio)
        .order_by("instrument__symbol", "strategy__code")
        .values(
            "id",
            "instrument_id",
            "strategy_id",
            "quantity",
            "avg_cost",
            "realized_pnl",
            "opened_date",
            symbol=F("instrument__symbol"),
            asset_class=F("instrument__asset_class"),
            currency=F("instrument__currency"),
            multiplier=F("instrument__multiplier"),
            strategy_code=F("strategy__code"),
            calendar=F("instrument__calendar"),
            last_price=F("instrument__last_price"),
            last_price_at=F("instrument__last_price_at"),
            **selectors.latest_close_columns("instrument"),
        )
    )


def _mark(p: dict) -> selectors.LatestMark | None:
    """The latest close or intraday mark of a sleeve's instrument."""
    return selectors.latest_mark(
        close_date=p["close_date"],
        close=p["close"],
        last_price=p["last_price"],
        last_price_at=p["last_price_at"],
    )


def _last_executions(portfolio: Portfolio, sleeves: list[dict]) -> dict[selectors.Sleeve, tuple]:
    """The last execution (price, trade date) of each of ``sleeves``, whose instruments were never
    priced. One query, and none in the usual book where every instrument has a close: asking
    every sleeve would cost the positions query as much again."""
    if not sleeves:
        return {}
    rows = (
        Execution.objects.filter(
            portfolio=portfolio, instrument_id__in={p["instrument_id"] for p in sleeves}
        )
        .order_by("instrument_id", "strategy_id", "-trade_date", "-id")
        .distinct("instrument_id", "strategy_id")
        .values_list("instrument_id", "strategy_id", "price", "trade_date")
    )
    return {(iid, sid): (price, day) for iid, sid, price, day in rows}


def _quote(
    p: dict, mark: selectors.LatestMark | None, last_execution: tuple | None
) -> tuple[Decimal, dt.date, str]:
    """The price, date and source a position is marked at."""
    if mark is not None:
        return mark.price, mark.date, "intraday" if mark.intraday else "close"
    if last_execution is not None:
        price, trade_date = last_execution
        return price, trade_date, "execution"
    raise Unvalued(f"no close, intraday mark or execution price for {p['symbol']}")


def _value(
    p: dict,
    *,
    quote: tuple[Decimal, dt.date, str],
    rate: Decimal,
    previous_total: Decimal,
    today: dt.date,
    as_of: dt.date,
    sessions: tuple[dt.date, dt.date],
) -> dict:
    """One valued row of the book; raises ``Unvalued`` when its numbers do not fit."""
    price, price_date, source = quote
    # The previous session of today, and the last session up to the book's as-of date.
    stale_before, last_open = sessions
    state = calc.LedgerState(p["quantity"], p["avg_cost"], p["realized_pnl"])
    m = calc.mark(
        state, price=price, fx=rate, multiplier=p["multiplier"], previous_total=previous_total
    )
    # Quantity, average cost, price and realized P&L come from columns of their own shape; what
    # the mark computes may not fit.
    too_large = m.unstorable()
    if too_large:
        raise Unvalued(
            f"its {too_large} ({getattr(m, too_large):.4E}) is out of range for the book's columns"
        )
    return {
        "id": p["id"],
        "instrument_id": p["instrument_id"],
        "symbol": p["symbol"],
        "asset_class": p["asset_class"],
        "currency": p["currency"],
        "calendar": p["calendar"],
        "strategy": p["strategy_code"],
        "quantity": p["quantity"],
        "avg_cost": p["avg_cost"],
        "price": price,
        "price_date": price_date,
        "price_source": source,
        "mark_age_days": (today - price_date).days,
        "stale": price_date < stale_before,
        "carried": source == "close" and last_open <= price_date < as_of,
        "fx": rate,
        "exposure": m.exposure,
        "unrealized": m.unrealized,
        "realized_pnl": p["realized_pnl"],
        "daily_pnl": m.daily_pnl,
        "opened_date": p["opened_date"],
    }


def _sessions(today: dt.date, as_of: dt.date):
    """calendar code → (its previous session before today, its last session up to ``as_of``),
    each code asked once per book."""
    known: dict[str, tuple[dt.date, dt.date]] = {}

    def of(code: str) -> tuple[dt.date, dt.date]:
        if code not in known:
            known[code] = (
                calendars.previous_session(code, today),
                calendars.last_session_on_or_before(code, as_of),
            )
        return known[code]

    return of


def _unvalued(p: dict, reason: str) -> dict:
    return {
        "id": p["id"],
        "symbol": p["symbol"],
        "strategy": p["strategy_code"],
        "quantity": p["quantity"],
        "reason": reason,
    }


def book_get(portfolio: Portfolio) -> dict:
    # Sums of many stored amounts may need more than Python's default 28 digits.
    with calc.precise():
        return _book(portfolio)


def _book(portfolio: Portfolio) -> dict:
    today = selectors.today()
    positions = _sleeves(portfolio)
    open_positions = [p for p in positions if p["quantity"] != 0]
    base = portfolio.base_currency
    fx = selectors.fx_latest_rates_for(
        base=base, currencies={p["currency"] for p in open_positions}
    )
    marks = {p["id"]: _mark(p) for p in open_positions}
    last_executions = _last_executions(
        portfolio, [p for p in open_positions if marks[p["id"]] is None]
    )
    as_of = max(
        (
            mark.date
            for p in open_positions
            if (mark := marks[p["id"]]) is not None and p["currency"] in fx
        ),
        default=today,
    )

    # Total P&L of each sleeve at its last snapshot before the as-of date: the base of daily P&L.
    prev = PositionSnapshot.objects.filter(position=OuterRef("pk"), date__lt=as_of).order_by(
        "-date"
    )
    previous_total = dict(
        Position.objects.filter(portfolio=portfolio)
        .annotate(prev_total=Subquery(prev.values("total_pnl")[:1]))
        .order_by()  # a dict: the model's ordering would only sort
        .values_list("id", "prev_total")
    )

    sessions = _sessions(today, as_of)
    rows, unvalued = [], []
    unrealized_sum = daily_sum = calc.ZERO
    realized_sum = sum((p["realized_pnl"] for p in positions), calc.ZERO)
    for p in positions:
        if p["quantity"] == 0:
            # Flat sleeves still carry realized P&L into NAV and the day's P&L.
            daily_sum += p["realized_pnl"] - (previous_total.get(p["id"]) or calc.ZERO)
            continue
        currency = p["currency"]
        try:
            sleeve = (p["instrument_id"], p["strategy_id"])
            quote = _quote(p, marks[p["id"]], last_executions.get(sleeve))
            rate = fx.get(currency)
            if rate is None:
                raise Unvalued(
                    f"no {currency}{base} (or {base}{currency}) rate at all "
                    f"to convert {currency} to {base}"
                )
            row = _value(
                p,
                quote=quote,
                rate=rate,
                previous_total=previous_total.get(p["id"]) or calc.ZERO,
                today=today,
                as_of=as_of,
                sessions=sessions(p["calendar"]),
            )
        except Unvalued as exc:
            unvalued.append(_unvalued(p, str(exc)))
            continue
        except ArithmeticError as exc:
            unvalued.append(_unvalued(p, f"its valuation overflows ({type(exc).__name__})"))
            continue
        except Exception as exc:
            # Pure arithmetic on one row: whatever went wrong stays with that row.
            logger.exception("book %s: position %s cannot be valued", portfolio.code, p["id"])
            unvalued.append(_unvalued(p, f"its valuation failed ({type(exc).__name__})"))
            continue
        unrealized_sum += row["unrealized"]
        daily_sum += row["daily_pnl"]
        rows.append(row)
    totals = calc.exposure_totals(
        calc.ExposureRow(r["symbol"], r["asset_class"], r["currency"], r["exposure"]) for r in rows
    )

    # Flows happen at the start of their day: one booked for today is in today's NAV even before
    # any of today's marks.
    flows_upto = max(as_of, today)
    flows_total = selectors.flows_between(portfolio, None, flows_upto)
    nav = calc.money(portfolio.initial_capital + flows_total + realized_sum + unrealized_sum)

    def pnl_since(period_start: dt.date) -> Decimal:
        base_nav, base_date = selectors.nav_before(portfolio, period_start)
        flows = selectors.flows_between(portfolio, base_date, flows_upto)
        return calc.money(nav - base_nav - flows)

    leverage = float(totals.gross / nav) if nav else None
    return {
        "portfolio": portfolio.code,
        "base_currency": portfolio.base_currency,
        "as_of": as_of,
        "complete": not unvalued,
        "nav": nav,
        "gross_exposure": totals.gross,
        "net_exposure": totals.net,
        "leverage": leverage,
        "exposure_by_asset_class": totals.by_asset_class,
        "gross_exposure_by_asset_class": totals.gross_by_asset_class,
        "exposure_by_currency": totals.by_currency,
        "exposure_totals": totals,
        "pnl": {
            "1D": calc.money(daily_sum),
            "MTD": pnl_since(as_of.replace(day=1)),
            "YTD": pnl_since(as_of.replace(month=1, day=1)),
        },
        "positions": rows,
        "unvalued": unvalued,
    }
