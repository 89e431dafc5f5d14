"""Each domain service's arithmetic on a tiny in-memory case (no database).

Every case is small enough to work by hand: the expectation is computed here from its own
formula (written out, or with the standard library instead of numpy), never copied from a
previous output, so a regression in the module under test shows as a difference.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from decimal import Decimal

import numpy as np
import pandas as pd

from .base import check

GROUP = "services"
# Float results agree to this relative tolerance (numpy and the stdlib differ in the last bits).
REL = 1e-9


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=REL)


@check("service_ledger_mtm", GROUP)
def service_ledger_mtm() -> tuple[bool, str]:
    """Average-cost replay and a mark: buy 10 @ 100, buy 10 @ 110, sell 5 @ 120, marked at 115
    with multiplier 2 and FX 1."""
    from portfolio import calculations as calc

    multiplier, fx = Decimal(2), Decimal(1)
    trades = [
        calc.Trade(dt.date(2024, 3, 4), Decimal(10), Decimal(100)),
        calc.Trade(dt.date(2024, 3, 5), Decimal(10), Decimal(110)),
        calc.Trade(dt.date(2024, 3, 6), Decimal(-5), Decimal(120)),
    ]
    state = calc.replay(trades, multiplier=multiplier, fx=lambda day: fx)
    # Average cost of the two buys, unchanged by the sale; the sale realizes its 5 at the gain
    # over that cost.
    avg = (10 * Decimal(100) + 10 * Decimal(110)) / 20
    quantity = Decimal(10 + 10 - 5)
    realized = (Decimal(120) - avg) * 5 * multiplier * fx
    price, previous_total = Decimal(115), Decimal(400)
    unrealized = (price - avg) * quantity * multiplier * fx
    m = calc.mark(state, price=price, fx=fx, multiplier=multiplier, previous_total=previous_total)
    got = (state.quantity, state.avg_cost, state.realized_pnl, m.unrealized, m.total_pnl)
    want = (quantity, avg, realized, unrealized, realized + unrealized)
    ok = got == want and m.daily_pnl == realized + unrealized - previous_total
    ok = ok and m.exposure == quantity * multiplier * price * fx
    return (
        ok,
        f"15 @ {state.avg_cost.normalize():f}, realized {state.realized_pnl.normalize():f}, "
        + (f"total {m.total_pnl.normalize():f}" if ok else f"got {got}, want {want}"),
    )


@check("service_var_es", GROUP)
def service_var_es() -> tuple[bool, str]:
    """Historical VaR and ES on 100 scenarios whose P&L is −50, −49, …, 49 (one instrument with
    an exposure of 1,000 and returns of −5.0 % … +4.9 %)."""
    from risk import calculations as risk

    n, exposure = 100, 1000.0
    returns = ((np.arange(n) - n // 2) / exposure).reshape(n, 1)
    pnl = risk.scenario_pnl(returns, np.array([exposure]))
    ordered = sorted(float(p) for p in pnl)

    def var(level: float) -> float:
        # numpy's linear percentile: position (n − 1)(1 − level) between two order statistics.
        pos = (n - 1) * (1 - level)
        lo = math.floor(pos)
        return -(ordered[lo] + (pos - lo) * (ordered[lo + 1] - ordered[lo]))

    var95, var99 = var(0.95), var(0.99)
    es = -statistics.fmean(p for p in ordered if p <= -var(0.975))
    got = (risk.historical_var(pnl, 0.95), risk.historical_var(pnl, 0.99))
    got_es = risk.expected_shortfall(pnl, 0.975)
    ok = _close(got[0], var95) and _close(got[1], var99) and _close(got_es, es)
    return ok, f"VaR95 {got[0]:.4f} (want {var95:.4f}), VaR99 {got[1]:.4f}, ES97.5 {got_es:.4f}"


@check("service_attribution_carino", GROUP)
def service_attribution_carino() -> tuple[bool, str]:
    """Carino linking over two days (+10 %, −5 %) of two segments: the linked contributions
    follow k_t / K and add up to the period's compounded return."""
    from attribution import calculations as attr

    daily = [0.10, -0.05]
    contributions = np.array([[0.06, 0.04], [-0.02, -0.03]])  # rows sum to the daily returns
    total = math.prod(1 + r for r in daily) - 1
    k = [math.log(1 + r) / r for r in daily]
    big_k = math.log(1 + total) / total
    want = [sum(k[t] / big_k * contributions[t, s] for t in range(2)) for s in range(2)]
    got = attr.linked_contributions(contributions, np.array(daily))
    twr = attr.twr(np.array(daily))
    ok = all(_close(float(g), w) for g, w in zip(got, want, strict=True))
    ok = ok and _close(twr, total) and _close(float(got.sum()), total)
    return ok, f"TWR {twr:.6f} (want {total:.6f}), linked {', '.join(f'{g:.6f}' for g in got)}"


@check("service_signals", GROUP)
def service_signals() -> tuple[bool, str]:
    """Momentum on a steady rise and a steady fall (253 closes: +1 and −1), mean reversion on 20
    closes against the stdlib's mean and sample deviation."""
    from trades import generators

    days = generators.YEAR + 1
    rise = [100 * 1.001**i for i in range(days)]
    closes = pd.DataFrame({"RISE": rise, "FALL": [1e4 / c for c in rise]})
    # Rising: P₂₁ > P₂₅₂ so the 12-1 return is positive (long); the reciprocal series falls.
    momentum = generators.get("momentum")(closes)["value"]
    window = [100.0 + (i % 5) for i in range(generators.MEAN_REVERSION_WINDOW - 1)] + [103.0]
    z = (window[-1] - statistics.fmean(window)) / statistics.stdev(window)
    want_mr = max(-1.0, min(1.0, -z))
    got_mr = float(generators.get("mean_reversion")(pd.DataFrame({"X": window}))["value"]["X"])
    ok = momentum["RISE"] == 1.0 and momentum["FALL"] == -1.0 and _close(got_mr, want_mr)
    detail = f"momentum {momentum['RISE']:+.0f}/{momentum['FALL']:+.0f}"
    return ok, f"{detail}, mean reversion {got_mr:+.6f} (want {want_mr:+.6f})"


@check("service_sizing", GROUP)
def service_sizing() -> tuple[bool, str]:
    """Vol-targeted sizing: target = signal × budget × NAV / (vol × price × multiplier × fx)."""
    from trades import calculations as sizing

    nav, budget, vol, price, mult, fx = 1e6, 0.1, 0.2, 100.0, 10.0, 1.0
    target = budget * nav / (vol * price * mult * fx)
    # Row 1 from flat; row 2 already holds all but 0.4 of it (rounds to no trade); row 3 has no
    # volatility.
    current = [0.0, target - 0.4, 0.0]
    result = sizing.size_proposals(
        signal=np.array([1.0, 1.0, 1.0]),
        risk_budget=np.full(3, budget),
        nav=nav,
        vol=np.array([vol, vol, np.nan]),
        price=np.full(3, price),
        multiplier=np.full(3, mult),
        fx=np.full(3, fx),
        current=np.array(current),
        min_fraction=0.001,
    )
    want_trade = [round(target), 0.0, 0.0]
    ok = _close(float(result.target[0]), target) and list(result.trade) == want_trade
    ok = ok and list(result.keep) == [True, False, False]
    ok = ok and result.reason[1] == "already at target" and "volatility" in result.reason[2]
    return ok, f"target {result.target[0]:.2f} (want {target:.2f}); skipped: {result.reason[1:]}"


@check("service_market_moves", GROUP)
def service_market_moves() -> tuple[bool, str]:
    """1D, 1W and 1M moves of a close that rises by 1 each weekday of February–March 2024."""
    from briefing import calculations as brief

    days = [d.date() for d in pd.bdate_range("2024-02-01", "2024-03-15")]
    closes = {day: 100.0 + i for i, day in enumerate(days)}
    as_of = dt.date(2024, 3, 15)  # a Friday: its week-ago base is Friday 8 March

    def on_or_before(day: dt.date) -> float:
        return closes[max(d for d in days if d <= day)]

    want = {
        "1D": closes[as_of] / closes[days[-2]] - 1,
        "1W": closes[as_of] / on_or_before(as_of - dt.timedelta(days=7)) - 1,
        "1M": closes[as_of] / on_or_before(dt.date(2024, 2, 15)) - 1,
    }
    move = brief.market_moves(pd.DataFrame({"X": closes}), as_of)["X"]
    ok = move.close_date == as_of and all(_close(move.moves[h], w) for h, w in want.items())
    return ok, ", ".join(f"{h} {move.moves[h]:+.4%}" for h in brief.HORIZONS)


@check("service_calendars", GROUP)
def service_calendars() -> tuple[bool, str]:
    """Weekdays, an exchange and a country: a week has 5 weekday sessions; the NYSE and US
    public holidays close on Independence Day (Thursday 4 July 2024), open the day after."""
    from portfolio import calendars

    monday, sunday = dt.date(2024, 3, 4), dt.date(2024, 3, 10)
    week = calendars.sessions(calendars.WEEKDAYS, monday, sunday)
    want_week = [monday + dt.timedelta(n) for n in range(5)]
    july4, july5 = dt.date(2024, 7, 4), dt.date(2024, 7, 5)
    closed = [code for code in ("XNYS", "holidays:US") if calendars.is_open(code, july4)]
    shut_after = [code for code in ("XNYS", "holidays:US") if not calendars.is_open(code, july5)]
    previous = calendars.previous_session(calendars.WEEKDAYS, dt.date(2024, 3, 11))
    ok = week == want_week and not closed and not shut_after and previous == dt.date(2024, 3, 8)
    if ok:
        return True, "weekdays, XNYS and holidays:US agree on March and July 2024"
    return False, f"week {week}; open on 4 July: {closed}; shut on 5 July: {shut_after}"
