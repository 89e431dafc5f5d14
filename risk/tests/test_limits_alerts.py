"""Limit status through the services, and one alert per limit per business day (also under
concurrency)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portfolio.tests.factories import PortfolioFactory
from risk import services
from risk.models import Alert
from tests.concurrency import run_concurrently

from .fixtures_risk import (
    FRI,
    MON2,
    SAT,
    SUN,
    THU,
    leveraged_book,
    limit,
    set_today,
)

pytestmark = pytest.mark.django_db


# --- Limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "soft", "hard", "status", "utilization"),
    [
        # every metric below is exactly 1.5 (1,500,000 on a NAV of 1,000,000)
        ("gross_leverage", "1.5", "2", "warning", 0.75),  # soft equal: warning
        ("gross_leverage", "1", "1.5", "breach", 1.0),  # hard equal: breach
        ("gross_leverage", "1.5", "1.5", "breach", 1.0),
        ("gross_leverage", "1.500001", "2", "ok", 0.75),
        ("gross_leverage", "1.49", "1.500001", "warning", 1.5 / 1.500001),
        ("gross_leverage", "0.5", "1", "breach", 1.5),
        ("net_exposure", "1.5", "3", "warning", 0.5),
        ("net_exposure", "1.2", "1.5", "breach", 1.0),
        ("gross_equity", "1.5", "3", "warning", 0.5),
        ("gross_equity", "1.2", "1.5", "breach", 1.0),
        ("largest_instrument", "1.5", "3", "warning", 0.5),
        ("largest_instrument", "1.2", "1.5", "breach", 1.0),
        ("gross_commodity", "0.1", "0.2", "ok", 0.0),  # nothing held in the class
        ("var_95", "0.01", "0.02", "unavailable", None),  # one close: no scenario
        ("drawdown", "0.05", "0.1", "ok", 0.0),
    ],
)
def test_limit_status_at_the_boundaries(portfolio, metric, soft, hard, status, utilization):
    # Given a book whose exposures are exactly 1.5 × NAV, and one limit
    leveraged_book(portfolio)
    created = limit(portfolio, metric, soft, hard)
    # When live risk is computed
    result = services.risk_live(portfolio)
    # Then the limit's status and utilization (value / hard) follow from the exact value
    [row] = result["limits"]
    assert (row["id"], row["metric"], row["soft"], row["hard"]) == (
        created.id,
        metric,
        Decimal(soft),
        Decimal(hard),
    )
    assert row["status"] == status
    if utilization is None:
        assert (row["value"], row["utilization"]) == (None, None)
    else:
        assert row["utilization"] == pytest.approx(utilization, rel=1e-15)
        assert row["utilization"] == row["value"] / float(hard)
    expected_value = {"gross_commodity": 0.0, "drawdown": 0.0, "var_95": None}.get(metric, 1.5)
    assert row["value"] == expected_value
    # And only a breach raises an alert
    assert Alert.objects.count() == (1 if status == "breach" else 0)


def test_leverage_of_the_exact_book_is_exactly_one_and_a_half(portfolio):
    leveraged_book(portfolio)
    result = services.risk_live(portfolio)
    assert (result["nav"], result["exposures"]["gross"]) == (Decimal(1_000_000), 1_500_000)
    assert result["exposures"]["leverage"] == 1.5
    assert result["exposures"]["net_fraction"] == 1.5
    assert result["exposures"]["largest"] == {
        "symbol": "LEV",
        "exposure": Decimal(1_500_000),
        "nav_fraction": 1.5,
    }


# --- Alerts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("todays", "alert_dates"),
    [
        ([FRI, FRI, FRI], [FRI]),  # three computations on one day: one alert
        ([FRI, MON2], [FRI, MON2]),  # a second day: a second alert
        ([THU, FRI, FRI, MON2], [THU, FRI, MON2]),
        ([FRI, SAT, SUN], [FRI]),  # a weekend breach belongs to Friday
        ([SAT], [FRI]),
    ],
)
def test_one_alert_per_limit_per_business_day(monkeypatch, portfolio, todays, alert_dates):
    # Given a gross leverage of 1.5 against a hard limit of 1.2
    leveraged_book(portfolio)
    breached = limit(portfolio, "gross_leverage", "1", "1.2")
    limit(portfolio, "gross_equity", "1.5", "2")  # warning only: never an alert
    # When risk is computed on each of ``todays``
    for today in todays:
        set_today(monkeypatch, today)
        result = services.risk_live(portfolio)
        assert [r["status"] for r in result["limits"]] == ["warning", "breach"]
    # Then there is one alert per business day the breach was seen, dated by it
    alerts = list(Alert.objects.order_by("date"))
    assert [a.date for a in alerts] == alert_dates
    for alert in alerts:
        assert (alert.portfolio_id, alert.metric, alert.limit_id) == (
            portfolio.id,
            "gross_leverage",
            breached.id,
        )
        assert (alert.value, alert.soft, alert.hard) == (1.5, Decimal(1), Decimal("1.2"))
        assert alert.utilization == pytest.approx(1.25, rel=1e-15)
        assert "150.00%" in alert.message and "120.00%" in alert.message, alert.message


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_computations_raise_one_alert(monkeypatch):
    # Given a breached gross leverage limit
    portfolio = PortfolioFactory()
    leveraged_book(portfolio)
    limit(portfolio, "gross_leverage", "1", "1.2")
    set_today(monkeypatch, FRI)

    def compute():
        return services.risk_live(portfolio)

    # When two requests compute live risk at the same moment
    results = run_concurrently(compute, compute)
    # Then both answer, both see the breach, and exactly one alert is stored
    assert not [r for r in results if isinstance(r, Exception)], results
    assert [r["limits"][0]["status"] for r in results] == ["breach", "breach"]
    assert list(Alert.objects.values_list("metric", "date")) == [("gross_leverage", FRI)]
