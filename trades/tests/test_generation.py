"""Signals → proposals for a business date (SPEC §3): the numbers, regeneration, universes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pms_project.errors import PMSError
from portfolio import services as portfolio_services
from portfolio.models import Instrument, Strategy
from portfolio.tests.factories import InstrumentFactory
from trades import services
from trades.choices import AuditAction, ProposalSource, ProposalStatus
from trades.models import AuditEvent, Signal, TradeProposal

from .fixtures_trades import DATES, LAST, WEEKEND, build_trades_market, manual_proposal

NAV = 1_000_000.0  # MACRO1's initial capital: no snapshot, no flow


def closes_of(symbol: str) -> np.ndarray:
    from .fixtures_trades import planted_close

    return np.array([float(planted_close(symbol, t)) for t in range(len(DATES))])


def expected_trend_trade(symbol: str, multiplier: float, fx: np.ndarray | None = None):
    """TREND's proposal for ``symbol`` recomputed from the planted closes with numpy alone."""
    p = closes_of(symbol)
    signal = np.sign((p[-1] / p[-253] - 1) - (p[-1] / p[-22] - 1))
    values = p * (fx if fx is not None else 1.0)
    returns = values[1:] / values[:-1] - 1
    vol = np.std(returns[-60:], ddof=1) * math.sqrt(252)
    rate = fx[-1] if fx is not None else 1.0
    target = signal * 0.02 * NAV / (vol * p[-1] * multiplier * rate)
    trade = np.sign(target) * np.floor(abs(target) + 0.5)
    return signal, target, trade


def generated(portfolio, strategy: str, symbol: str) -> TradeProposal:
    return TradeProposal.objects.get(
        portfolio=portfolio,
        strategy__code=strategy,
        instrument__symbol=symbol,
        status=ProposalStatus.PENDING,
    )


def test_generated_proposals_follow_the_sizing_formula(tmarket):
    """Given the planted market and no position, when the proposals of Friday are generated,
    then TREND's UP (USD) and FGBL (EUR, through EURUSD) proposals equal the formula computed
    from the closes with numpy alone, and each carries its pre-trade check."""
    result = services.proposals_generate(portfolio=tmarket.portfolio, day=LAST)
    assert result.nav == Decimal(1_000_000)

    signal, target, trade = expected_trend_trade("UP", 10.0)
    up = generated(tmarket.portfolio, "TREND", "UP")
    assert up.signal_value == signal == 1.0
    assert up.side == "buy" and up.quantity == Decimal(abs(int(trade))) and trade > 0
    assert float(up.target_quantity) == pytest.approx(target, abs=1e-8)  # stored to 8 places
    assert up.price == Decimal("135.5671")  # the last close, digit for digit
    assert up.current_quantity == 0 and up.source == ProposalSource.GENERATED
    assert up.created_by is None and up.signal.generator == "momentum"

    fx = closes_of("EURUSD")
    signal, target, trade = expected_trend_trade("FGBL", 1000.0, fx)
    fgbl = generated(tmarket.portfolio, "TREND", "FGBL")
    assert fgbl.signed_quantity == Decimal(int(trade))
    assert float(fgbl.target_quantity) == pytest.approx(target, abs=1e-8)

    for p in (up, fgbl):
        assert p.var_99_before is None  # nothing held yet: no VaR before
        assert p.var_99_after > 0
        assert p.risk_impact["scenarios"] == [0, 250]
        assert f"{p.side} {p.quantity:,.0f}" in p.rationale
    assert len(result.created) == 4  # TREND on its four instruments; MR's FGBL is at target
    assert [s.symbol for s in result.skipped if s.strategy == "MR"] == ["FGBL"]


def test_signals_are_stored_per_strategy_instrument_and_date(tmarket):
    """Given TREND (no asset class: every active instrument) and MR (RATES), then TREND has a
    signal on all four instruments and MR on FGBL only; re-running replaces, never duplicates."""
    run = services.signals_generate(day=LAST)
    stored = set(Signal.objects.values_list("strategy__code", "instrument__symbol", "date"))
    assert stored == {
        ("TREND", "UP", LAST),
        ("TREND", "DOWN", LAST),
        ("TREND", "FGBL", LAST),
        ("TREND", "EURUSD", LAST),
        ("MR", "FGBL", LAST),
    }
    assert len(run.signals) == 5
    values = dict(
        Signal.objects.values_list("instrument__symbol", "value").filter(strategy__code="TREND")
    )
    assert values["UP"] == 1.0 and values["DOWN"] == -1.0
    ids = set(Signal.objects.values_list("id", flat=True))
    services.signals_generate(day=LAST)
    assert set(Signal.objects.values_list("id", flat=True)) == ids


def test_universe_rules(tmarket):
    """Named instruments win, but never an inactive one; a stale close gives no signal."""
    tmarket.trend.instruments.set([tmarket.instruments[s] for s in ("UP", "DOWN", "FGBL")])
    Instrument.objects.filter(symbol="DOWN").update(active=False)
    result = services.proposals_generate(portfolio=tmarket.portfolio, day=LAST)
    assert set(
        Signal.objects.filter(strategy__code="TREND").values_list("instrument__symbol", flat=True)
    ) == {"UP", "FGBL"}
    assert not TradeProposal.objects.filter(instrument__symbol="DOWN").exists()
    assert {p.instrument.symbol for p in result.created} == {"UP", "FGBL"}
    tmarket.trend.instruments.clear()
    run = services.signals_generate(day=LAST + dt.timedelta(days=10))  # closes 10 days old
    assert run.signals == []
    assert {s.reason for s in run.skipped} == {"no close in the last week"}
    services.signals_generate(day=LAST)
    assert set(
        Signal.objects.filter(strategy__code="TREND", date=LAST).values_list(
            "instrument__symbol", flat=True
        )
    ) == {"UP", "FGBL", "EURUSD"}


def test_regenerating_keeps_unchanged_replaces_changed_and_never_touches_decided(tmarket, users):
    """Given the day's proposals, when generated again: unchanged ones are kept (same ids); a
    sleeve traded since gets its proposal replaced; an approved sleeve is left alone; a manual
    pending proposal is never replaced; a proposal no longer wanted is removed."""
    portfolio = tmarket.portfolio
    first = services.proposals_generate(portfolio=portfolio, day=LAST)
    ids = {p.pk for p in first.created}

    again = services.proposals_generate(portfolio=portfolio, day=LAST)
    assert again.created == [] and {p.pk for p in again.kept} == ids and again.removed == 0

    up = generated(portfolio, "TREND", "UP")
    down = generated(portfolio, "TREND", "DOWN")
    # Approved for less than proposed: the sleeve is still off target, yet stays decided.
    assert down.quantity > 5
    services.proposal_modify_approve(
        proposal_id=down.pk, user=users["approver"], quantity=down.quantity - 5
    )
    # A trader trades FGBL in TREND's sleeve: its proposal is now wrong.
    portfolio_services.position_open(
        portfolio=portfolio,
        symbol="FGBL",
        quantity=Decimal(3),
        price=Decimal(130),
        trade_date=LAST,
        strategy_code="TREND",
    )
    old_fgbl = generated(portfolio, "TREND", "FGBL")
    # EURUSD is no longer TREND's: its pending proposal goes.
    tmarket.trend.instruments.set([tmarket.instruments[s] for s in ("UP", "DOWN", "FGBL")])

    third = services.proposals_generate(portfolio=portfolio, day=LAST)
    assert {p.pk for p in third.kept} == {up.pk}
    assert [p.instrument.symbol for p in third.created] == ["FGBL"]
    new_fgbl = third.created[0]
    assert new_fgbl.current_quantity == Decimal(3)
    assert new_fgbl.signed_quantity == old_fgbl.signed_quantity - 3
    assert not TradeProposal.objects.filter(pk=old_fgbl.pk).exists()
    assert third.removed == 2  # FGBL's replaced, EURUSD's dropped
    assert ("TREND", "DOWN", "a proposal of the day was already decided") in {
        (s.strategy, s.symbol, s.reason) for s in third.skipped
    }
    down.refresh_from_db()
    assert down.status == ProposalStatus.APPROVED and down.execution_id is not None


def test_a_manual_pending_proposal_blocks_generation_of_its_sleeve(tmarket, users):
    portfolio = tmarket.portfolio
    manual = manual_proposal(tmarket, users["trader"], symbol="UP", strategy="TREND")
    result = services.proposals_generate(portfolio=portfolio, day=LAST)
    assert (
        "TREND",
        "UP",
        f"manual proposal #{manual.pk} is pending",
    ) in {(s.strategy, s.symbol, s.reason) for s in result.skipped}
    manual.refresh_from_db()
    assert manual.status == ProposalStatus.PENDING and manual.source == ProposalSource.MANUAL


def test_generation_is_audited_and_sized_on_nav_plus_flows(tmarket, users):
    """A subscription on the day counts in the NAV the proposals are sized on; the run is one
    audit event naming the proposals created."""
    portfolio = tmarket.portfolio
    portfolio_services.cash_flow_record(portfolio=portfolio, date=LAST, amount=Decimal(1_000_000))
    result = services.proposals_generate(portfolio=portfolio, day=LAST, user=users["trader"])
    assert result.nav == Decimal(2_000_000)
    event = AuditEvent.objects.get(action=AuditAction.PROPOSALS_GENERATE)
    assert event.actor_name == "trader1"
    assert sorted(event.after["created"]) == sorted(p.pk for p in result.created)
    assert all(p.created_by == users["trader"] for p in result.created)


@pytest.mark.parametrize(
    ("day", "words"),
    [
        (WEEKEND, "not a business day"),
        (dt.date(2999, 1, 4), "in the future"),
        (dt.date(2023, 12, 29), "before the portfolio's inception"),
    ],
)
def test_a_bad_date_is_refused_and_nothing_is_written(tmarket, day, words):
    with pytest.raises(PMSError) as caught:
        services.proposals_generate(portfolio=tmarket.portfolio, day=day)
    assert caught.value.field == "date" and words in caught.value.message
    assert not TradeProposal.objects.exists() and not Signal.objects.exists()


def test_generation_reads_in_a_constant_number_of_queries(portfolio):
    """Given 4 instruments, then 12, the generation issues the same number of queries."""
    market = build_trades_market(portfolio)

    def queries() -> int:
        TradeProposal.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            services.proposals_generate(portfolio=portfolio, day=LAST)
        return len(ctx.captured_queries)

    few = queries()
    extra = [
        InstrumentFactory(symbol=f"X{i}", asset_class="EQUITY", multiplier=Decimal(10))
        for i in range(8)
    ]
    portfolio_services.prices_load(
        portfolio_services.PriceRow(i.symbol, day, Decimal(100) + Decimal(t % 7) + i.id % 3)
        for i in extra
        for t, day in enumerate(DATES)
    )
    assert Strategy.objects.get(code="TREND").instruments.count() == 0
    assert market.trend.generator == "momentum"
    assert queries() == few


def test_stale_or_missing_closes_give_no_signal_even_with_no_rows():
    """A last close more than a week before the signal date, or none at all (even an empty
    frame: no close in the whole window), leaves the instrument out."""
    import pandas as pd

    from trades.services.signals import fresh_closes

    index = pd.Index([dt.date(2024, 2, 29), dt.date(2024, 3, 7)])
    closes = pd.DataFrame(
        {"OLD": [1.0, np.nan], "NEW": [1.0, 2.0], "NONE": [np.nan, np.nan]}, index=index
    )
    fresh, stale = fresh_closes(closes, LAST)
    assert stale == {"OLD", "NONE"} and list(fresh.columns) == ["NEW"]
    empty = pd.DataFrame(np.empty((0, 2)), columns=["A", "B"])
    assert fresh_closes(empty, LAST)[1] == {"A", "B"}
