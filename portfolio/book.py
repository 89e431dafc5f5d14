"""The book: open positions at each instrument's latest mark, with NAV, exposures and P&L.

A read: a fixed number of queries whatever the number of positions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import OuterRef, Subquery

from pms_project.errors import MissingMarketDataError

from . import calculations as calc
from . import selectors
from .models import NavSnapshot, Portfolio, Position, PositionSnapshot


def _nav_before(portfolio: Portfolio, day: dt.date) -> tuple[Decimal, dt.date | None]:
    """NAV at the last snapshot strictly before ``day`` (initial capital before the first)."""
    snap = (
        NavSnapshot.objects.filter(portfolio=portfolio, date__lt=day)
        .order_by("-date")
        .values_list("nav", "date")
        .first()
    )
    return snap if snap else (portfolio.initial_capital, None)


def book_get(portfolio: Portfolio) -> dict:
    positions = list(
        Position.objects.filter(portfolio=portfolio)
        .select_related("instrument", "strategy")
        .order_by("instrument__symbol", "strategy__code")
    )
    open_positions = [p for p in positions if p.quantity != 0]
    base = portfolio.base_currency
    currencies = {p.instrument.currency for p in open_positions}
    pairs = selectors.fx_pairs(base=base, currencies=currencies)
    # One read of the latest marks serves the positions and the FX pairs that convert them.
    marks = selectors.latest_marks({p.instrument_id for p in open_positions} | pairs.keys())
    missing = sorted({p.instrument.symbol for p in open_positions if p.instrument_id not in marks})
    if missing:
        raise MissingMarketDataError(f"no price at all for {', '.join(missing)}", field="book")
    fx = selectors.fx_latest_rates(base=base, pairs=pairs, marks=marks)
    missing_fx = sorted(currencies - fx.keys())
    if missing_fx:
        raise MissingMarketDataError(
            f"no rate at all converting {', '.join(missing_fx)} to {base}", field="fx"
        )
    as_of = max((marks[p.instrument_id].date for p in open_positions), default=selectors.today())

    # Total P&L of each sleeve at its last snapshot before the as-of date: the base of daily P&L.
    prev = PositionSnapshot.objects.filter(position=OuterRef("pk"), date__lt=as_of).order_by(
        "-date"
    )
    previous_total = dict(
        Position.objects.filter(portfolio=portfolio)
        .annotate(prev_total=Subquery(prev.values("total_pnl")[:1]))
        .values_list("id", "prev_total")
    )

    rows = []
    gross = net = unrealized_sum = daily_sum = calc.ZERO
    realized_sum = sum((p.realized_pnl for p in positions), calc.ZERO)
    by_asset_class: dict[str, Decimal] = defaultdict(lambda: calc.ZERO)
    by_currency: dict[str, Decimal] = defaultdict(lambda: calc.ZERO)
    for p in positions:
        if p.quantity == 0:
            # Flat sleeves still carry realized P&L into NAV and the day's P&L.
            daily_sum += p.realized_pnl - (previous_total.get(p.id) or calc.ZERO)
            continue
        inst = p.instrument
        mark = marks[inst.id]
        rate = fx[inst.currency]
        state = calc.LedgerState(p.quantity, p.avg_cost, p.realized_pnl)
        m = calc.mark(
            state,
            price=mark.price,
            fx=rate,
            multiplier=inst.multiplier,
            previous_total=previous_total.get(p.id) or calc.ZERO,
        )
        gross += abs(m.exposure)
        net += m.exposure
        unrealized_sum += m.unrealized
        daily_sum += m.daily_pnl
        by_asset_class[inst.asset_class] += m.exposure
        by_currency[inst.currency] += m.exposure
        rows.append(
            {
                "id": p.id,
                "symbol": inst.symbol,
                "asset_class": inst.asset_class,
                "currency": inst.currency,
                "strategy": p.strategy.code,
                "quantity": p.quantity,
                "avg_cost": p.avg_cost,
                "price": mark.price,
                "price_date": mark.date,
                "price_source": "intraday" if mark.intraday else "close",
                "fx": rate,
                "exposure": m.exposure,
                "unrealized": m.unrealized,
                "realized_pnl": p.realized_pnl,
                "daily_pnl": m.daily_pnl,
                "opened_date": p.opened_date,
            }
        )

    # Flows happen at the start of their day: one booked for today is in today's NAV even before
    # any of today's marks.
    flows_upto = max(as_of, selectors.today())
    flows_total = selectors.flows_between(portfolio, None, flows_upto)
    nav = calc.money(portfolio.initial_capital + flows_total + realized_sum + unrealized_sum)

    def pnl_since(period_start: dt.date) -> Decimal:
        base_nav, base_date = _nav_before(portfolio, period_start)
        flows = selectors.flows_between(portfolio, base_date, flows_upto)
        return calc.money(nav - base_nav - flows)

    leverage = float(gross / nav) if nav else None
    return {
        "portfolio": portfolio.code,
        "base_currency": portfolio.base_currency,
        "as_of": as_of,
        "nav": nav,
        "gross_exposure": gross,
        "net_exposure": net,
        "leverage": leverage,
        "exposure_by_asset_class": dict(sorted(by_asset_class.items())),
        "exposure_by_currency": dict(sorted(by_currency.items())),
        "pnl": {
            "1D": calc.money(daily_sum),
            "MTD": pnl_since(as_of.replace(day=1)),
            "YTD": pnl_since(as_of.replace(month=1, day=1)),
        },
        "positions": rows,
    }
