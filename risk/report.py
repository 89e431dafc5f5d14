"""The risk of a book (SPEC §4), read-only: VaR and ES, exposures, drawdown, limits, stress.

Exposures come from the portfolio app, summed by ``portfolio.calculations.exposure_totals``:
live risk reads the book (each instrument at its latest mark, as the book shows it), the EOD
snapshot of D reads D's position snapshots. Nothing here writes; ``services`` records the
alerts and snapshots.

Figures in base currency are decimal amounts (8 places, like every stored amount); fractions of
NAV are floats, None when NAV is not positive.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from portfolio import calculations as pcalc
from portfolio import selectors as portfolio_selectors
from portfolio.book import book_get
from portfolio.models import Portfolio

from . import calculations as calc
from . import selectors
from .choices import GROSS_METRIC_OF_CLASS, Metric
from .models import RiskLimit

# Closes read for the VaR: the calendar days of N_SCENARIOS + 20 weekdays (room for a year of
# exchange holidays and a few gaps); when they hold fewer common dates, the whole history is read.
LOOKBACK_DAYS = math.ceil((calc.N_SCENARIOS + 20) * 7 / 5) + 3
VAR_FIGURES = ("var_95", "var_99", "es_975", "parametric_var_95", "parametric_var_99")


@dataclass(frozen=True)
class Holdings:
    """What risk is measured on: NAV and the exposures (base currency) of the open positions."""

    nav: Decimal
    totals: pcalc.ExposureTotals
    instruments: dict[str, selectors.InstrumentInfo]

    @property
    def exposures(self) -> pd.Series:
        """Net exposure per held instrument (nonzero only), as floats for the numerical code."""
        held = {s: float(e) for s, e in self.totals.by_instrument.items() if e != 0}
        return pd.Series(held, dtype=float).sort_index()


# The largest amount the report's NUMERIC(40, 8) columns and fields hold.
AMOUNT_LIMIT = 1e31


def amount(value: float | None) -> Decimal | None:
    """A computed float as a stored-scale decimal amount; None when it cannot be one (absurd
    closes can make a VaR beyond any column: the fraction of NAV still says how large)."""
    if value is None or not math.isfinite(value) or abs(value) >= AMOUNT_LIMIT:
        return None
    return pcalc.money(Decimal(repr(value)))


def fraction(value, nav: Decimal) -> float | None:
    if value is None or nav <= 0:
        return None
    if isinstance(value, Decimal):
        with pcalc.precise():
            return float(value / nav)
    return float(value) / float(nav)


# --- VaR --------------------------------------------------------------------------------------


def var_of(
    holdings: Holdings, *, base: str, end: dt.date, returns: pd.DataFrame | None = None
) -> tuple[calc.VarResult, list[str]]:
    """VaR of the holdings on the scenarios up to ``end``, and the held symbols with no return at
    all (left out, named). ``returns`` already read for these symbols (and maybe more) saves the
    read; each call keeps the common dates of its own symbols."""
    exposures = holdings.exposures
    symbols = list(exposures.index)
    if returns is None or not set(symbols) <= set(returns.columns):
        returns = _returns(holdings.instruments, symbols, base=base, end=end)
    usable, no_history = split_history(returns, symbols)
    window = calc.scenario_window(returns.loc[:, usable])
    return calc.value_at_risk(window, exposures[usable]), no_history


def split_history(returns: pd.DataFrame, symbols: list[str]) -> tuple[list[str], list[str]]:
    """``symbols`` split into those with at least one return and those with none at all."""
    missing = returns.reindex(columns=symbols).isna().all(axis=0).to_numpy()
    usable = [s for s, m in zip(symbols, missing, strict=True) if not m]
    return usable, [s for s, m in zip(symbols, missing, strict=True) if m]


def _returns(instruments, symbols, *, base: str, end: dt.date) -> pd.DataFrame:
    wanted = {s: instruments[s] for s in symbols}
    start = end - dt.timedelta(days=LOOKBACK_DAYS)
    returns = selectors.returns_frame(base=base, instruments=wanted, start=start, end=end)
    if len(calc.common_returns(returns.dropna(axis=1, how="all"))) < calc.N_SCENARIOS:
        # Gaps or a short window: the scenarios may lie further back.
        returns = selectors.returns_frame(base=base, instruments=wanted, end=end)
    return returns


# --- The report -------------------------------------------------------------------------------


def metric_values(
    holdings: Holdings, var: calc.VarResult, drawdown: float | None
) -> dict[str, float | None]:
    """Every limit metric of SPEC §4 as a fraction of NAV (None when NAV is not positive)."""
    nav, totals = holdings.nav, holdings.totals
    values: dict[str, float | None] = {
        Metric.VAR_95: fraction(var.var_95, nav),
        Metric.VAR_99: fraction(var.var_99, nav),
        Metric.ES_975: fraction(var.es_975, nav),
        Metric.GROSS_LEVERAGE: fraction(totals.gross, nav),
        Metric.NET_EXPOSURE: fraction(abs(totals.net), nav),
        Metric.LARGEST_INSTRUMENT: fraction(
            max((abs(e) for e in totals.by_instrument.values()), default=pcalc.ZERO), nav
        ),
        Metric.DRAWDOWN: drawdown,
    }
    for asset_class, metric in GROSS_METRIC_OF_CLASS.items():
        values[metric] = fraction(totals.gross_by_asset_class.get(asset_class, pcalc.ZERO), nav)
    return {str(k): v for k, v in values.items()}


def limit_rows(limits: list[RiskLimit], values: dict[str, float | None]) -> list[dict]:
    rows = []
    for limit in limits:
        value = values.get(limit.metric)
        utilization, status = calc.limit_status(
            value, soft=float(limit.soft), hard=float(limit.hard)
        )
        rows.append(
            {
                "id": limit.id,
                "metric": limit.metric,
                "value": value,
                "soft": limit.soft,
                "hard": limit.hard,
                "utilization": utilization,
                "status": status,
            }
        )
    return rows


def exposures_section(holdings: Holdings) -> dict:
    nav, totals = holdings.nav, holdings.totals
    largest = max(totals.by_instrument.items(), key=lambda kv: abs(kv[1]), default=None)
    return {
        "gross": totals.gross,
        "net": totals.net,
        "leverage": fraction(totals.gross, nav),
        "net_fraction": fraction(totals.net, nav),
        "by_asset_class": {
            cls: {
                "net": net,
                "gross": totals.gross_by_asset_class[cls],
                "gross_fraction": fraction(totals.gross_by_asset_class[cls], nav),
            }
            for cls, net in totals.by_asset_class.items()
        },
        "largest": None
        if largest is None or largest[1] == 0
        else {
            "symbol": largest[0],
            "exposure": largest[1],
            "nav_fraction": fraction(abs(largest[1]), nav),
        },
    }


def var_section(var: calc.VarResult, nav: Decimal) -> dict:
    return {
        name: {"amount": amount(value), "nav_fraction": fraction(value, nav)}
        for name, value in var.amounts().items()
    }


def drawdowns(navs: list[Decimal], daily_returns: list[float], initial: Decimal) -> dict:
    """Drawdown from the peak of the flow-adjusted NAV index (the limit metric: a redemption is
    not a loss) and of NAV itself; both 0 at a new high."""
    return {
        "drawdown": calc.drawdown(calc.growth_index(daily_returns)),
        "nav_drawdown": calc.drawdown([float(initial), *(float(n) for n in navs)]),
    }


def assemble(
    *,
    portfolio: Portfolio,
    as_of: dt.date,
    holdings: Holdings,
    var: calc.VarResult,
    no_history: list[str],
    drawdown: dict,
    limits: list[RiskLimit],
) -> dict:
    values = metric_values(holdings, var, drawdown["drawdown"])
    return {
        "portfolio": portfolio.code,
        "base_currency": portfolio.base_currency,
        "as_of": as_of,
        "nav": holdings.nav,
        "scenarios": var.scenarios,
        "scenario_dates": {"first": var.first, "last": var.last},
        "insufficient_history": var.insufficient_history or bool(no_history),
        "no_history": no_history,
        "var": var_section(var, holdings.nav),
        "exposures": exposures_section(holdings),
        "drawdown": drawdown,
        "limits": limit_rows(limits, values),
    }


# --- Live -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveBook:
    book: dict
    holdings: Holdings


def live_book(portfolio: Portfolio) -> LiveBook:
    """The book now, as the exposures risk measures (its rows name their instruments)."""
    book = book_get(portfolio)
    instruments = {
        r["symbol"]: selectors.InstrumentInfo(
            r["instrument_id"], r["symbol"], r["asset_class"], r["currency"], r["calendar"]
        )
        for r in book["positions"]
    }
    return LiveBook(book, Holdings(book["nav"], book["exposure_totals"], instruments))


def live_drawdown(portfolio: Portfolio, as_of: dt.date, nav: Decimal) -> dict:
    """Drawdowns with the live NAV as the last point, after the snapshots before ``as_of``."""
    history = selectors.nav_history(portfolio, before=as_of)
    # The live return is measured from the last snapshot before as_of, as the book's 1D is.
    previous_date, previous_nav, _ = (
        history[-1] if history else (None, portfolio.initial_capital, 0)
    )
    flows = portfolio_selectors.flows_between(
        portfolio, previous_date, max(as_of, portfolio_selectors.today())
    )
    live_return = pcalc.daily_return(nav=nav, previous_nav=previous_nav, flow=flows)
    return drawdowns(
        [*(n for _, n, _ in history), nav],
        [*(r for _, _, r in history), live_return],
        portfolio.initial_capital,
    )


def risk_live(portfolio: Portfolio) -> dict:
    """Risk now: the book's exposures at the latest marks, scenarios up to today."""
    live = live_book(portfolio)
    as_of = live.book["as_of"]
    var, no_history = var_of(
        live.holdings, base=portfolio.base_currency, end=portfolio_selectors.today()
    )
    report = assemble(
        portfolio=portfolio,
        as_of=as_of,
        holdings=live.holdings,
        var=var,
        no_history=no_history,
        drawdown=live_drawdown(portfolio, as_of, live.holdings.nav),
        limits=selectors.limits_of(portfolio),
    )
    report["complete"] = live.book["complete"]
    report["unvalued"] = live.book["unvalued"]
    return report


# --- End of day -------------------------------------------------------------------------------


def risk_of_day(portfolio: Portfolio, day: dt.date) -> dict:
    """Risk at the close of ``day``: its position snapshots, scenarios up to ``day``."""
    marked = selectors.marked_day(portfolio, day)
    holdings = Holdings(marked.nav, marked.totals, marked.instruments)
    var, no_history = var_of(holdings, base=portfolio.base_currency, end=day)
    history = selectors.nav_history(portfolio, upto=day)
    return assemble(
        portfolio=portfolio,
        as_of=day,
        holdings=holdings,
        var=var,
        no_history=no_history,
        drawdown=drawdowns(
            [n for _, n, _ in history], [r for _, _, r in history], portfolio.initial_capital
        ),
        limits=selectors.limits_of(portfolio),
    )


# --- Stress -----------------------------------------------------------------------------------


def stress_report(portfolio: Portfolio) -> dict:
    """Named shocks and the worst 1/5/20-day windows of the whole history on today's exposures."""
    live = live_book(portfolio)
    holdings = live.holdings
    nav = holdings.nav
    exposures = holdings.exposures
    symbols = list(exposures.index)
    returns = selectors.returns_frame(
        base=portfolio.base_currency,
        instruments={s: holdings.instruments[s] for s in symbols},
        end=portfolio_selectors.today(),
    )
    usable, no_history = split_history(returns, symbols)
    history = calc.common_returns(returns.loc[:, usable])
    windows = calc.worst_windows(history, exposures[usable]) if usable else []

    scenarios, shocks = selectors.stress_scenarios()
    names = [s.name for s in scenarios]
    by_class = pd.DataFrame(
        [(s.scenario.name, s.asset_class, float(s.shock)) for s in shocks if s.asset_class],
        columns=["scenario", "key", "shock"],
    )
    by_instrument = pd.DataFrame(
        [(s.scenario.name, s.instrument.symbol, float(s.shock)) for s in shocks if s.instrument],
        columns=["scenario", "key", "shock"],
    )
    classes = pd.Series({s: holdings.instruments[s].asset_class for s in symbols}, dtype=object)
    matrix = calc.shock_matrix(
        classes,
        _wide(by_class, names),
        _wide(by_instrument, names),
    )
    pnl = calc.stress_pnl(matrix, exposures) if symbols else pd.Series(0.0, index=names)
    return {
        "portfolio": portfolio.code,
        "base_currency": portfolio.base_currency,
        "as_of": live.book["as_of"],
        "nav": nav,
        "history": {
            "first": history.index[0] if len(history) else None,
            "last": history.index[-1] if len(history) else None,
        },
        "history_days": len(history),
        "no_history": no_history,
        "scenarios": [
            {
                "name": s.name,
                "description": s.description,
                "shocks": {
                    (x.asset_class or x.instrument.symbol): float(x.shock)
                    for x in shocks
                    if x.scenario_id == s.id
                },
                "pnl": amount(float(pnl.get(s.name, 0.0))),
                "nav_fraction": fraction(float(pnl.get(s.name, 0.0)), nav),
            }
            for s in scenarios
        ],
        "historical": [
            {
                "days": w.days,
                "start": w.start,
                "end": w.end,
                "pnl": amount(w.pnl),
                "nav_fraction": fraction(w.pnl, nav),
            }
            for w in windows
        ],
    }


def _wide(long: pd.DataFrame, scenarios: list[str]) -> pd.DataFrame:
    """scenario × key shocks from (scenario, key, shock) rows; NaN where a scenario names none."""
    if long.empty:
        return pd.DataFrame(index=pd.Index(scenarios), dtype=float)
    return long.pivot(index="scenario", columns="key", values="shock").reindex(scenarios)
