"""The sections of a morning pack (SPEC §6), each from the owning app's services and selectors —
no number here is computed a second way. Read-only; ``services.morning_pack_generate`` stores
the result.

The pack for business date D is built from the close of ``as_of``, the last marked day before D
(normally the previous business day; an older one is named in the warnings)."""

from __future__ import annotations

import datetime as dt
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.urls import reverse

from attribution import report as attribution_report
from attribution import selectors as attribution_selectors
from pms_project.errors import PMSError
from portfolio import selectors as portfolio_selectors
from portfolio.models import Instrument, NavSnapshot, Portfolio
from risk import report as risk_report
from risk import selectors as risk_selectors
from trades import selectors as trades_selectors

from . import calculations as calc

HEADER_PERIODS = ("1D", "MTD", "YTD")
NAV_CURVE_DAYS = 366  # the NAV curve covers the last year (or the whole history, if shorter)
ALERT_DAYS = 7  # the alerts raised in the week up to the pack's date


def as_of_for(portfolio: Portfolio, day: dt.date) -> dt.date:
    """The close a pack for ``day`` is built from: the last NAV snapshot before ``day``."""
    as_of = (
        NavSnapshot.objects.filter(portfolio=portfolio, date__lt=day)
        .order_by("-date")
        .values_list("date", flat=True)
        .first()
    )
    if as_of is None:
        raise PMSError(
            f"{portfolio.code} has no marked close before {day.isoformat()}: "
            "run mark_to_market first",
            field="date",
        )
    return as_of


def build(portfolio: Portfolio, day: dt.date) -> dict:
    """Every section of the pack for business date ``day``, as JSON-ready values (decimal
    strings, ISO dates, floats)."""
    as_of = as_of_for(portfolio, day)
    warnings = []
    previous = portfolio_selectors.portfolio_previous_day(portfolio, day)
    if as_of < previous:
        warnings.append(
            f"the close of {previous.isoformat()} is not marked: this pack is as of the close "
            f"of {as_of.isoformat()}"
        )
    snapshots = portfolio_selectors.position_snapshot_rows(portfolio, as_of)
    held = [row for row in snapshots if row["quantity"] != 0]
    risk = risk_report.risk_of_day(portfolio, as_of)
    moves = market_moves(portfolio, as_of=as_of, day=day, held=held)
    # A held instrument whose market was closed on as_of was marked at its previous close
    # (carried): that reads as carried, not as a missing close.
    carried = {row["symbol"] for row in held if row["carried"]}
    stale = [
        m["symbol"]
        for m in moves
        if m["held"] and m["close_date"] != as_of and m["symbol"] not in carried
    ]
    if stale:
        warnings.append(f"no close of {', '.join(stale)} on {as_of.isoformat()}")
    if carried:
        warnings.append(
            f"carried at their previous close, their market closed on {as_of.isoformat()}: "
            f"{', '.join(sorted(carried))}"
        )
    for m in moves:
        m["carried"] = m["symbol"] in carried
    content = {
        "portfolio": portfolio.code,
        "name": portfolio.name,
        "base_currency": portfolio.base_currency,
        "date": day,
        "as_of": as_of,
        "warnings": warnings,
        "header": header(portfolio, as_of),
        "market_moves": moves,
        "positions": positions(held),
        "risk": {
            **{k: v for k, v in risk.items() if k not in ("portfolio", "base_currency")},
            "breaches": [row for row in risk["limits"] if row["status"] == "breach"],
        },
        "proposals": proposals(portfolio, day),
        "attribution": attribution_mtd(portfolio, as_of),
        "alerts": alerts(portfolio, as_of=as_of, day=day),
    }
    return jsonable(content)


def jsonable(content: dict) -> dict:
    """What the JSON column stores and reads back: Decimals as strings, dates as ISO strings."""
    return json.loads(json.dumps(content, cls=DjangoJSONEncoder))


# --- Sections ------------------------------------------------------------------------------


def header(portfolio: Portfolio, as_of: dt.date) -> dict:
    """NAV at the close, P&L and TWR of 1D, MTD and YTD (the attribution's), the NAV curve."""
    nav = NavSnapshot.objects.get(portfolio=portfolio, date=as_of).nav
    pnl, twr = {}, {}
    windows = {
        p: attribution_report.resolve_window(portfolio, period=p, as_of=as_of)
        for p in HEADER_PERIODS
    }
    # YTD covers 1D and MTD: its NAV days are read once and sliced.
    year = attribution_selectors.nav_days(portfolio, after=windows["YTD"].anchor, upto=as_of)
    for period, window in windows.items():
        result = attribution_report.attribution(
            portfolio, window, dimensions=(), nav=year.window(window.anchor, window.end)
        )
        pnl[period], twr[period] = result["pnl"], result["twr"]
    first, _ = attribution_selectors.history_bounds(portfolio)
    start = max(first, as_of - dt.timedelta(days=NAV_CURVE_DAYS))
    curve = attribution_report.series(
        portfolio, attribution_report.resolve_window(portfolio, start=start, end=as_of)
    )
    return {
        "nav": nav,
        "pnl": pnl,
        "twr": twr,
        "nav_curve": [{"date": p["date"], "nav": p["nav"]} for p in curve["points"]],
    }


def market_moves(portfolio: Portfolio, *, as_of: dt.date, day: dt.date, held: list[dict]) -> list:
    """1D, 1W and 1M moves of the close of every instrument held at ``as_of`` or signalled on a
    day from ``as_of`` to ``day`` (the evening's and the morning's signals)."""
    held_ids = {row["instrument_id"] for row in held}
    signalled = trades_selectors.signalled_instrument_ids(start=as_of, end=day)
    ids = held_ids | signalled
    if not ids:
        return []
    start = calc.one_month_before(as_of) - dt.timedelta(days=14)
    frame = portfolio_selectors.closes_frame(ids, start=start, end=as_of)
    moves = calc.market_moves(frame, as_of)
    closes = portfolio_selectors.last_closes(ids, upto=as_of)
    instruments = Instrument.objects.filter(id__in=ids).order_by("symbol")
    rows = []
    for inst in instruments:
        move = moves.get(inst.id, calc.Move(None, dict.fromkeys(calc.HORIZONS)))
        close_date, close = closes.get(inst.id, (None, None))
        rows.append(
            {
                "symbol": inst.symbol,
                "name": inst.name,
                "asset_class": inst.asset_class,
                "currency": inst.currency,
                "held": inst.id in held_ids,
                "signalled": inst.id in signalled,
                "close": close,
                "close_date": close_date,
                "moves": move.moves,
            }
        )
    return rows


POSITION_FIELDS = (
    "symbol",
    "strategy",
    "asset_class",
    "currency",
    "quantity",
    "price",
    "exposure",
    "daily_pnl",
    "total_pnl",
    "carried",
)


def positions(held: list[dict]) -> dict:
    """The positions open at the close: the top 10 by |exposure| and by |daily P&L|."""

    def row(r: dict) -> dict:
        return {k: r[k] for k in POSITION_FIELDS}

    return {
        "count": len(held),
        "top_exposure": [row(r) for r in calc.top_by_abs(held, "exposure")],
        "top_movers": [row(r) for r in calc.top_by_abs(held, "daily_pnl")],
    }


def proposals(portfolio: Portfolio, day: dt.date) -> list[dict]:
    """The proposals waiting for a decision, with their rationale and risk impact."""
    return [
        {
            "id": p.id,
            "date": p.date,
            "strategy": p.strategy.code,
            "symbol": p.instrument.symbol,
            "side": p.side,
            "quantity": p.quantity,
            "price": p.price,
            "source": p.source,
            "rationale": p.rationale,
            "created_by": p.created_by.get_username() if p.created_by else "system",
            "var_99_before": p.var_99_before,
            "var_99_after": p.var_99_after,
            "utilization_before": p.utilization_before,
            "utilization_after": p.utilization_after,
            "breaks_hard_limit": p.breaks_hard_limit,
            "admin_url": reverse("admin:trades_tradeproposal_change", args=[p.id]),
        }
        for p in trades_selectors.pending_proposals(portfolio, upto=day)
    ]


def attribution_mtd(portfolio: Portfolio, as_of: dt.date) -> dict:
    window = attribution_report.resolve_window(portfolio, period="MTD", as_of=as_of)
    result = attribution_report.attribution_by(portfolio, window, "strategy")
    keys = ("period", "anchor", "first_date", "last_date", "days", "pnl", "twr", "rows")
    return {k: result[k] for k in keys}


def alerts(portfolio: Portfolio, *, as_of: dt.date, day: dt.date) -> list[dict]:
    """The limit alerts raised in the week up to ``day``, newest first."""
    since = as_of - dt.timedelta(days=ALERT_DAYS)
    return _alert_rows(
        risk_selectors.alert_list(portfolio)
        .filter(date__gt=since, date__lte=day)
        .order_by("-date", "metric")
    )


def recent_alerts(portfolio: Portfolio, count: int = 10) -> list[dict]:
    """The ``count`` latest limit alerts, newest first (the dashboard's)."""
    return _alert_rows(risk_selectors.alert_list(portfolio).order_by("-date", "metric")[:count])


def _alert_rows(alerts) -> list[dict]:
    return [
        {
            "date": a.date,
            "metric": a.metric,
            "value": a.value,
            "utilization": a.utilization,
            "message": a.message,
        }
        for a in alerts
    ]
