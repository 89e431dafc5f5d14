"""The demo desk's risk limits, as pure data (fractions of NAV; leverage as gross / NAV).

Set against the demo book (``portfolio.demo``) so that ``make run`` shows every status: most
limits comfortable, the largest single instrument (EURUSD, ~44 % of NAV) and VaR 99 (~1.0 %) in
warning, none in breach.
"""

from __future__ import annotations

from decimal import Decimal

LIMITS: tuple[tuple[str, Decimal, Decimal], ...] = tuple(
    (metric, Decimal(soft), Decimal(hard))
    for metric, soft, hard in (
        ("var_95", "0.008", "0.012"),
        ("var_99", "0.0095", "0.015"),
        ("es_975", "0.0125", "0.02"),
        ("gross_leverage", "2.5", "3.5"),
        ("net_exposure", "1.5", "2.0"),
        ("gross_fx", "0.75", "1.0"),
        ("gross_rates", "0.75", "1.0"),
        ("gross_equity", "0.5", "0.75"),
        ("gross_commodity", "0.5", "0.75"),
        ("gross_credit", "0.4", "0.6"),
        ("largest_instrument", "0.4", "0.6"),
        ("drawdown", "0.05", "0.10"),
    )
)
