"""Risk arithmetic (SPEC §4): frames and arrays in, floats out. No Django, no ORM, no I/O.

Conventions, which independent tools check number for number:

- Returns are daily simple returns of price × fx (the instrument's value in the base currency),
  each instrument over its own dates: the return of D is v(D) / v(previous date with a value) − 1,
  and a date with no value (no close, or no FX rate) has no return, never a zero. So an
  instrument's returns do not depend on which other instruments are read with it.
- Scenarios are the last ``N_SCENARIOS`` (250) dates on which *every* held instrument has a return,
  each instrument's return running from the previous such date (a move on another's holiday
  compounds into the next scenario: ``common_returns``). Scenario P&L_s = Σ_i exposure_i × r_i,s.
- Historical VaR_α = −percentile(P&L, 100 × (1 − α)), numpy's default (linear) interpolation.
  ES_0.975 = −mean(P&L_s ≤ −VaR_0.975).
- Parametric VaR_α = z_α × √(eᵀ Σ e), Σ = ``np.cov(returns, ddof=1)`` of the same scenarios (the
  ordinary demeaned sample covariance); no mean term in the VaR. eᵀ Σ e is computed as the sample
  variance (ddof = 1) of the scenario P&L, which is the same number (eᵀ Σ e = ‖(R − R̄) e‖² / (n − 1)
  = var(R e)) in O(S × N) instead of the O(S × N²) of forming Σ.
- Stress: named shocks (a return per asset class, optionally per instrument) on today's exposures,
  and the worst overlapping 1-, 5- and 20-day windows of the whole history, each window's P&L
  Σ_i exposure_i × (Π(1 + r_i,t) − 1).

Everything is vectorized over instruments and scenarios: no Python loop per scenario or window.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

N_SCENARIOS = 250
MIN_SCENARIOS = 60  # fewer scenarios than this: the VaR is flagged insufficient_history
VAR_LEVELS = (0.95, 0.99)
ES_LEVEL = 0.975
STRESS_WINDOWS = (1, 5, 20)


# --- Returns ----------------------------------------------------------------------------------


def fx_to_base(direct: pd.DataFrame, inverse: pd.DataFrame) -> pd.DataFrame:
    """Each currency's rate to the base by date: the close of ``CB``, else 1 / the close of ``BC``.

    ``direct`` and ``inverse`` are dates × currency frames of the two pairs' closes (either may
    lack a currency or a date); the direct pair wins on a date where both have a close.
    """
    return direct.combine_first(1.0 / inverse)


def fx_factors(
    closes: pd.DataFrame, currencies: pd.Series, fx: pd.DataFrame, base: str
) -> pd.DataFrame:
    """Each instrument's rate to the base currency on each date of ``closes``, by date.

    ``closes`` is dates × instrument, ``currencies`` maps each instrument to its currency and
    ``fx`` is dates × currency (see ``fx_to_base``). A date with no rate for an instrument's
    currency gives NaN, never a silent 1.0. An instrument in the base currency uses 1.
    """
    dates = closes.index
    rates = fx.reindex(index=dates)
    factors = np.ones(closes.shape, dtype=float)
    ccys = currencies.reindex(closes.columns).to_numpy()
    foreign = ccys != base
    if foreign.any():
        missing = sorted({str(c) for c in ccys[foreign]} - set(rates.columns))
        if missing:
            rates = rates.reindex(columns=[*rates.columns, *missing])
        factors[:, foreign] = rates.loc[:, [str(c) for c in ccys[foreign]]].to_numpy(dtype=float)
    return pd.DataFrame(factors, index=dates, columns=closes.columns)


def base_values(
    closes: pd.DataFrame, currencies: pd.Series, fx: pd.DataFrame, base: str
) -> pd.DataFrame:
    """Price × fx: each instrument's close converted to the base currency, by date."""
    factors = fx_factors(closes, currencies, fx, base)
    return pd.DataFrame(
        closes.to_numpy(dtype=float) * factors.to_numpy(),
        index=closes.index,
        columns=closes.columns,
    )


def daily_returns(values: pd.DataFrame) -> pd.DataFrame:
    """Simple returns of each column over its own dates: v(t) / v(its previous value) − 1.

    NaN on a date the column has no value and on its first value; the first row of the frame
    (which can have no return) is dropped.
    """
    values = values.sort_index()
    returns = values.ffill().pct_change(fill_method=None)
    return returns.mask(values.isna()).iloc[1:]


def common_returns(returns: pd.DataFrame) -> pd.DataFrame:
    """The dates on which every column has a return, oldest first, each column's return running
    from the previous such date; none without a column (no instrument, no scenario — not every
    date of whatever else was read).

    A date on which some column has no return (its market's holiday) is not a scenario, but
    the others' moves that day are not lost: they compound into the next common date, whose
    row is then the move of every column over the same days (the holiday's column already
    spans them, see ``daily_returns``). Dates before the first common one are dropped, not
    compounded: a column not yet listed has no move to pair them with.
    """
    if returns.shape[1] == 0:
        return returns.iloc[:0]
    r = returns.to_numpy(dtype=float)
    rows = np.flatnonzero(~np.isnan(r).any(axis=1))
    if len(rows) == 0 or rows[-1] - rows[0] + 1 == len(rows):
        return returns.iloc[rows]  # no gap between common dates: nothing to compound
    growth = np.where(np.isnan(r[: rows[-1] + 1]), 1.0, 1.0 + r[: rows[-1] + 1])
    # Segments: the first common date alone, then (previous common date, common date].
    starts = np.concatenate(([rows[0]], rows[:-1] + 1))
    compounded = np.multiply.reduceat(growth, starts, axis=0) - 1.0
    return pd.DataFrame(compounded, index=returns.index[rows], columns=returns.columns)


def scenario_window(returns: pd.DataFrame, n: int = N_SCENARIOS) -> pd.DataFrame:
    """The last ``n`` dates on which every held instrument has a return."""
    return common_returns(returns).tail(n)


# --- VaR and ES -------------------------------------------------------------------------------


def scenario_pnl(returns: np.ndarray, exposures: np.ndarray) -> np.ndarray:
    """P&L_s = Σ_i exposure_i × r_i,s for every scenario s (rows of ``returns``)."""
    return np.asarray(returns, dtype=float) @ np.asarray(exposures, dtype=float)


def historical_var(pnl: np.ndarray, level: float) -> float:
    """−percentile(P&L, 100 × (1 − level)), linear interpolation (numpy's default)."""
    return float(-np.percentile(pnl, percentile_rank(level)))


def percentile_rank(level: float) -> float:
    """The percentile of the P&L at a confidence level: 100 × (1 − level). round(): for 0.95 that
    is 5.000000000000004 in binary; the percentile asked is 5."""
    return round(100.0 * (1.0 - level), 10)


def expected_shortfall(pnl: np.ndarray, level: float = ES_LEVEL) -> float:
    """−mean of the scenario P&L at or below −VaR_level (never empty: the lower order statistic
    of the interpolated percentile is in the tail)."""
    var = historical_var(pnl, level)
    return float(-pnl[pnl <= -var].mean())


def z_score(level: float) -> float:
    return NormalDist().inv_cdf(level)


def parametric_var(pnl: np.ndarray, level: float) -> float:
    """z_level × √(eᵀ Σ e), with eᵀ Σ e the ddof = 1 variance of the scenario P&L (see above)."""
    return float(z_score(level) * math.sqrt(float(np.var(pnl, ddof=1))))


def parametric_var_cov(returns: np.ndarray, exposures: np.ndarray, level: float) -> float:
    """The textbook form, z × √(eᵀ Σ e) with Σ = np.cov(returns, ddof=1): O(N²); for checks."""
    sigma = np.atleast_2d(np.cov(np.asarray(returns, dtype=float), rowvar=False, ddof=1))
    e = np.asarray(exposures, dtype=float)
    return float(z_score(level) * math.sqrt(float(e @ sigma @ e)))


@dataclass(frozen=True)
class VarResult:
    """Historical and parametric VaR of one set of exposures; None where undefined."""

    scenarios: int
    first: dt.date | None  # the first and last scenario dates
    last: dt.date | None
    var_95: float | None
    var_99: float | None
    es_975: float | None
    parametric_var_95: float | None
    parametric_var_99: float | None

    @property
    def insufficient_history(self) -> bool:
        return self.scenarios < MIN_SCENARIOS

    def amounts(self) -> dict[str, float | None]:
        return {
            "var_95": self.var_95,
            "var_99": self.var_99,
            "es_975": self.es_975,
            "parametric_var_95": self.parametric_var_95,
            "parametric_var_99": self.parametric_var_99,
        }


def value_at_risk(window: pd.DataFrame, exposures: pd.Series) -> VarResult:
    """VaR 95/99, ES 97.5 and parametric VaR 95/99 of ``exposures`` on the scenario ``window``.

    ``window`` is dates × instrument (see ``scenario_window``), ``exposures`` is indexed by the
    same instruments (base currency). With no scenario every figure is None; with one, the
    parametric VaR is None (a sample variance needs two).
    """
    e = exposures.reindex(window.columns).to_numpy(dtype=float)
    return value_at_risk_many(window, e[:, None])[0]


def value_at_risk_many(window: pd.DataFrame, exposures: np.ndarray) -> list[VarResult]:
    """``value_at_risk`` of K sets of exposures on one window at once: ``exposures`` is
    instruments (the window's columns) × K. One matrix product and one percentile call for all
    K (a pre-trade check of many proposals), the same formulas column by column."""
    n, k = len(window), exposures.shape[1]
    if n == 0:
        return [VarResult(0, None, None, None, None, None, None, None)] * k
    pnl = np.asarray(window.to_numpy(dtype=float) @ np.asarray(exposures, dtype=float))  # S × K
    q = [percentile_rank(level) for level in (0.95, 0.99, ES_LEVEL)]
    p95, p99, p975 = np.percentile(pnl, q, axis=0)
    tail = pnl <= p975  # −VaR_0.975 = the 2.5th percentile; never empty (see expected_shortfall)
    es = -(np.where(tail, pnl, 0.0).sum(axis=0) / tail.sum(axis=0))
    if n >= 2:
        sd = np.sqrt(np.var(pnl, axis=0, ddof=1))
        pvar95, pvar99 = z_score(0.95) * sd, z_score(0.99) * sd
    first, last = _as_date(window.index[0]), _as_date(window.index[-1])
    return [
        VarResult(
            scenarios=n,
            first=first,
            last=last,
            var_95=float(-p95[j]),
            var_99=float(-p99[j]),
            es_975=float(es[j]),
            parametric_var_95=float(pvar95[j]) if n >= 2 else None,
            parametric_var_99=float(pvar99[j]) if n >= 2 else None,
        )
        for j in range(k)
    ]


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, pd.Timestamp) else value


# --- Stress -----------------------------------------------------------------------------------


def shock_matrix(
    asset_classes: pd.Series,
    class_shocks: pd.DataFrame,
    instrument_shocks: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scenario × instrument returns: the instrument's own shock, else its asset class's, else 0.

    ``asset_classes`` maps each instrument to its class; ``class_shocks`` is scenario × asset class
    and ``instrument_shocks`` scenario × instrument (NaN where a scenario names none).
    """
    instruments = asset_classes.index
    by_class = class_shocks.reindex(columns=asset_classes.to_numpy())
    by_class.columns = instruments
    if instrument_shocks is not None and not instrument_shocks.empty:
        own = instrument_shocks.reindex(index=by_class.index, columns=instruments)
        by_class = own.combine_first(by_class)[instruments]
    return by_class.fillna(0.0).astype(float)


def stress_pnl(shocks: pd.DataFrame, exposures: pd.Series) -> pd.Series:
    """P&L of each scenario (rows of ``shocks``): Σ_i exposure_i × shock_i."""
    e = exposures.reindex(shocks.columns).fillna(0.0).to_numpy(dtype=float)
    return pd.Series(shocks.to_numpy(dtype=float) @ e, index=shocks.index, dtype=float)


@dataclass(frozen=True)
class Window:
    """The worst window of ``days`` consecutive scenario dates: its first and last return date."""

    days: int
    start: dt.date
    end: dt.date
    pnl: float


def worst_windows(
    returns: pd.DataFrame, exposures: pd.Series, windows: tuple[int, ...] = STRESS_WINDOWS
) -> list[Window]:
    """The lowest-P&L overlapping window of each length over the whole common history.

    ``returns`` is dates × instrument with every instrument's return on every row (see
    ``common_returns``). Window P&L = Σ_i exposure_i × (Π_t (1 + r_i,t) − 1); on a tie the earliest
    window wins. A length longer than the history gives no window.
    """
    if returns.empty:
        return []
    growth = 1.0 + returns.to_numpy(dtype=float)
    e = exposures.reindex(returns.columns).to_numpy(dtype=float)
    dates = returns.index
    found = []
    for days in windows:  # three lengths, each vectorized over every window and instrument
        if days > len(growth):
            continue
        compounded = sliding_window_view(growth, days, axis=0).prod(axis=-1) - 1.0
        pnl = compounded @ e
        worst = int(np.argmin(pnl))
        found.append(
            Window(
                days=days,
                start=_as_date(dates[worst]),
                end=_as_date(dates[worst + days - 1]),
                pnl=float(pnl[worst]),
            )
        )
    return found


# --- Limits and drawdown ----------------------------------------------------------------------

OK, WARNING, BREACH = "ok", "warning", "breach"


def limit_status(value: float | None, *, soft: float, hard: float) -> tuple[float | None, str]:
    """(utilization = value / hard, status): breach at or above hard, warning at or above soft.

    A value that cannot be computed (no NAV, no scenario) has no utilization and status
    "unavailable".
    """
    if value is None or not math.isfinite(value) or hard <= 0:
        return None, "unavailable"
    utilization = value / hard
    if value >= hard:
        return utilization, BREACH
    if value >= soft:
        return utilization, WARNING
    return utilization, OK


def drawdown(index: np.ndarray) -> float:
    """How far the last value of a series is below its running peak: 1 − last / peak (≥ 0)."""
    values = np.asarray(index, dtype=float)
    if values.size == 0:
        return 0.0
    peak = float(values.max())
    if peak <= 0:
        return 0.0
    return max(0.0, 1.0 - float(values[-1]) / peak)


def growth_index(daily_returns: np.ndarray) -> np.ndarray:
    """The flow-adjusted NAV index: 1 at inception, then Π(1 + r_t); flows move NAV, not it."""
    return np.concatenate(([1.0], np.cumprod(1.0 + np.asarray(daily_returns, dtype=float))))
