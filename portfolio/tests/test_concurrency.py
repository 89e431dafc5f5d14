"""Races on real PostgreSQL: row locks, not luck, keep the ledger consistent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from pms_project.errors import PMSError
from portfolio import selectors, services
from portfolio.models import Execution, ImmutableRowError, Position
from portfolio.tests.factories import InstrumentFactory, PortfolioFactory, StrategyFactory
from tests.concurrency import run_concurrently

MON, TUE = dt.date(2024, 3, 4), dt.date(2024, 3, 5)


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_full_closes_give_one_execution():
    # given an open position of 5
    portfolio = PortfolioFactory()
    instrument = InstrumentFactory(symbol="ES", multiplier=D(50))
    strategy = StrategyFactory(code="TREND")
    _, position = services.execution_record(
        portfolio=portfolio,
        instrument=instrument,
        strategy=strategy,
        trade_date=MON,
        quantity=D(5),
        price=D(5000),
        source="manual",
    )

    def close():
        return services.position_close(position_id=position.id, price=D(5010), trade_date=TUE)

    # when two traders close all of it at the same moment
    results = run_concurrently(close, close)
    # then exactly one close lands and the other is told the position is already closed
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], PMSError), results
    assert errors[0].field == "position"
    assert Execution.objects.filter(source="close").count() == 1
    position.refresh_from_db()
    assert position.quantity == 0
    assert position.realized_pnl == D(10 * 5 * 50)
    assert selectors.ledger_differences(portfolio) == []


@pytest.mark.django_db(transaction=True)
def test_simultaneous_adds_to_one_sleeve_all_count():
    portfolio = PortfolioFactory()
    instrument = InstrumentFactory(symbol="TY", multiplier=D(1000))
    strategy = StrategyFactory(code="CARRY")

    def buy(qty, price):
        return lambda: services.execution_record(
            portfolio=portfolio,
            instrument=instrument,
            strategy=strategy,
            trade_date=MON,
            quantity=D(qty),
            price=D(price),
            source="manual",
        )

    results = run_concurrently(buy(1, 110), buy(2, 111), buy(3, 112), buy(4, 113))
    assert not [r for r in results if isinstance(r, Exception)], results
    position = Position.objects.get()
    assert position.quantity == 10
    # The weighted average is 112; each step rounds avg_cost to 12 places, so the arrival order
    # of the adds may leave a last-digit difference. The ledger check below is exact.
    assert abs(position.avg_cost - D(1 * 110 + 2 * 111 + 3 * 112 + 4 * 113) / 10) < D("1e-11")
    assert selectors.ledger_differences(portfolio) == []


def test_executions_cannot_be_edited_or_deleted(db):
    portfolio = PortfolioFactory()
    execution, _ = services.execution_record(
        portfolio=portfolio,
        instrument=InstrumentFactory(symbol="GC"),
        strategy=StrategyFactory(code="TREND"),
        trade_date=MON,
        quantity=D(1),
        price=D(2000),
        source="manual",
    )
    execution.price = D(1)
    with pytest.raises(ImmutableRowError):
        execution.save()
    with pytest.raises(ImmutableRowError):
        execution.delete()
    assert Execution.objects.get().price == D(2000)
