"""The trades commands: ``generate_signals``, ``generate_proposals`` and ``expire_proposals`` on
the planted market (closes to Friday 2024-03-08). One line per signal or proposal, a summary
line, and errors as a CommandError naming the field, with nothing written."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolio.tests.factories import InstrumentFactory
from trades import services
from trades.choices import ProposalSource, ProposalStatus
from trades.models import AuditEvent, Signal, TradeProposal

from .fixtures_trades import LAST, WEEKEND, manual_proposal

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2024, 3, 11)
THURSDAY = dt.date(2024, 3, 7)
EXPECTED_SIGNALS = {
    ("MR", "FGBL"),
    ("TREND", "DOWN"),
    ("TREND", "EURUSD"),
    ("TREND", "FGBL"),
    ("TREND", "UP"),
}


def run(command: str, *args: str) -> list[str]:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().splitlines()


def counts() -> tuple[int, int, int]:
    return Signal.objects.count(), TradeProposal.objects.count(), AuditEvent.objects.count()


def signal_line(s: Signal) -> str:
    return f"{s.strategy.code:<10} {s.instrument.symbol:<10} {s.value:+.2f}  {s.rationale}"


# --- generate_signals -------------------------------------------------------------------------


def test_generate_signals_prints_one_line_per_signal_and_stores_them(tmarket):
    # When the signals of Friday 2024-03-08 are generated
    lines = run("generate_signals", "--date", LAST.isoformat())
    # Then TREND has one over each instrument and MR one over FGBL (its only RATES instrument)
    stored = list(
        Signal.objects.select_related("strategy", "instrument").order_by(
            "strategy__code", "instrument__symbol"
        )
    )
    assert {(s.strategy.code, s.instrument.symbol) for s in stored} == EXPECTED_SIGNALS
    assert {s.date for s in stored} == {LAST}
    assert {s.generator for s in stored} == {"momentum", "mean_reversion"}
    assert all(-1 <= s.value <= 1 for s in stored)
    # the planted trends: UP is long, DOWN short
    values = {(s.strategy.code, s.instrument.symbol): s.value for s in stored}
    assert values[("TREND", "UP")] > 0 > values[("TREND", "DOWN")]
    # and each is printed, sorted by strategy then symbol, then the summary
    assert lines == [
        *[signal_line(s) for s in stored],
        "2024-03-08: 5 signal(s) stored, 0 instrument(s) without one",
    ]
    assert lines[0].startswith("MR         FGBL       -0.59  close 130.71 vs 20-day mean")
    # And re-running the date replaces them in place (same rows, no duplicates)
    ids = {s.pk for s in stored}
    run("generate_signals", "--date", LAST.isoformat())
    assert set(Signal.objects.values_list("pk", flat=True)) == ids


def test_generate_signals_of_one_strategy_and_the_instruments_without_one(tmarket):
    # Given an active instrument with no close at all
    InstrumentFactory(symbol="NEW", asset_class="EQUITY")
    # When only TREND runs
    lines = run("generate_signals", "--date", LAST.isoformat(), "--strategy", "TREND")
    # Then only TREND's signals are stored, and NEW is listed without one, with the reason
    assert set(Signal.objects.values_list("strategy__code", "instrument__symbol")) == {
        pair for pair in EXPECTED_SIGNALS if pair[0] == "TREND"
    }
    assert lines[-2:] == [
        "TREND      NEW         —    no close in the last week",
        "2024-03-08: 4 signal(s) stored, 1 instrument(s) without one",
    ]
    assert [line.split()[:2] for line in lines[:4]] == [
        ["TREND", "DOWN"],
        ["TREND", "EURUSD"],
        ["TREND", "FGBL"],
        ["TREND", "UP"],
    ]
    # And a later MR run adds its own without touching TREND's
    run("generate_signals", "--date", LAST.isoformat(), "--strategy", "MR")
    assert Signal.objects.count() == 5


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--date", WEEKEND.isoformat()], "date: 2024-03-09 is not a business day"),
        (["--date", "2099-01-02"], "date: 2099-01-02 is in the future"),
        (["--date", "2024-3-8"], "is not a date (YYYY-MM-DD)"),
        (
            ["--date", LAST.isoformat(), "--strategy", "NOPE"],
            "strategy: not an active strategy with a signal generator: NOPE (nothing was written)",
        ),
        (  # MANUAL exists but generates no signal
            ["--date", LAST.isoformat(), "--strategy", "MANUAL"],
            "strategy: not an active strategy with a signal generator: MANUAL",
        ),
    ],
)
def test_generate_signals_errors_name_the_field_and_write_nothing(tmarket, args, words):
    before = counts()
    with pytest.raises(CommandError) as raised:
        run("generate_signals", *args)
    assert words in str(raised.value), str(raised.value)
    assert counts() == before and before[0] == 0


def test_generate_signals_refuses_an_unknown_code_next_to_a_known_one(tmarket):
    # a typo next to a known code (--strategy TREND --strategy NOPE) is refused, not ignored
    with pytest.raises(CommandError, match=r"strategy: not an active strategy .*: NOPE"):
        run(
            "generate_signals",
            "--date",
            LAST.isoformat(),
            "--strategy",
            "TREND",
            "--strategy",
            "NOPE",
        )
    assert not Signal.objects.exists()


# --- generate_proposals -----------------------------------------------------------------------


def test_generate_proposals_creates_pending_system_proposals_and_a_summary(tmarket):
    # When the proposals of Friday are generated
    lines = run("generate_proposals", "--date", LAST.isoformat())
    # Then each sleeve whose target differs enough gets a pending proposal of the system's
    proposals = list(TradeProposal.objects.select_related("strategy", "instrument").order_by("id"))
    assert len(proposals) == 4
    for p in proposals:
        assert (p.status, p.source, p.created_by_id) == (
            ProposalStatus.PENDING,
            ProposalSource.GENERATED,
            None,
        )
        assert p.date == LAST and p.quantity > 0 and p.quantity == p.quantity.to_integral()
        assert p.signal is not None and p.signal.date == LAST
        assert p.var_99_after is not None and p.decided_at is None
    sides = {p.instrument.symbol: p.side for p in proposals if p.strategy.code == "TREND"}
    assert sides == {"UP": "buy", "DOWN": "sell", "FGBL": "sell", "EURUSD": "sell"}
    # one line per proposal, then the counts
    assert [line.split()[:5] for line in lines[:-1]] == [
        [f"#{p.pk}", p.strategy.code, p.side, f"{p.quantity.normalize():,f}", p.instrument.symbol]
        for p in proposals
    ]
    assert lines[-1] == (
        "MACRO1 2024-03-08: NAV 1,000,000.00, 5 signal(s), 4 proposal(s) created, 0 kept, "
        "0 removed, 1 sleeve(s) skipped"
    )
    assert Signal.objects.filter(date=LAST).count() == 5
    [event] = AuditEvent.objects.filter(action="proposals.generate")
    assert event.actor_name == "system" and event.after["created"] == [p.pk for p in proposals]
    # And re-running the date keeps them as they are
    again = run("generate_proposals", "--date", LAST.isoformat(), "--portfolio", "MACRO1")
    assert again[-1] == (
        "MACRO1 2024-03-08: NAV 1,000,000.00, 5 signal(s), 0 proposal(s) created, 4 kept, "
        "0 removed, 1 sleeve(s) skipped"
    )
    assert list(TradeProposal.objects.order_by("id").values_list("pk", flat=True)) == [
        p.pk for p in proposals
    ]
    assert again[:-1] == lines[:-1]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (
            ["--date", LAST.isoformat(), "--portfolio", "NOPE"],
            "portfolio: unknown portfolio 'NOPE' (nothing was written)",
        ),
        (
            ["--date", WEEKEND.isoformat()],
            "date: 2024-03-09 is not a business day (Mon–Fri) (nothing was written)",
        ),
        (
            ["--date", "2023-12-29"],
            "date: 2023-12-29 is before the portfolio's inception (2024-01-02)",
        ),
    ],
)
def test_generate_proposals_errors_name_the_field_and_write_nothing(tmarket, args, words):
    before = counts()
    with pytest.raises(CommandError) as raised:
        run("generate_proposals", *args)
    assert words in str(raised.value), str(raised.value)
    assert counts() == before
    assert not Signal.objects.exists() and not TradeProposal.objects.exists()


# --- expire_proposals -------------------------------------------------------------------------


def test_expire_proposals_expires_the_pending_ones_dated_before_the_date(tmarket, users):
    # Given Friday's four generated proposals, a manual one of Thursday, an approved one of
    # Thursday and a manual one of Monday 2024-03-11
    run("generate_proposals", "--date", LAST.isoformat())
    generated = list(TradeProposal.objects.values_list("pk", flat=True))
    thursday = manual_proposal(tmarket, users["trader"], symbol="UP", day=THURSDAY)
    approved = manual_proposal(tmarket, users["trader"], symbol="DOWN", day=THURSDAY)
    services.proposal_approve(proposal_id=approved.pk, user=users["approver"])
    monday = manual_proposal(tmarket, users["trader"], symbol="UP", day=MONDAY)
    # When the pre-open of Monday expires the stale ones
    lines = run("expire_proposals", "--date", MONDAY.isoformat())
    # Then the five pending ones dated before Monday are expired, with the time and a note
    assert lines == ["5 pending proposal(s) dated before 2024-03-11 expired"]
    expired = TradeProposal.objects.filter(status=ProposalStatus.EXPIRED)
    assert set(expired.values_list("pk", flat=True)) == {*generated, thursday.pk}
    for p in expired:
        assert p.decided_at is not None and p.decided_by is None and p.execution_id is None
        assert p.note == "expired by the pre-open of 2024-03-11"
    # one audit event each, by the system
    events = AuditEvent.objects.filter(action="proposals.expire")
    assert sorted(int(e.object_id) for e in events) == sorted([*generated, thursday.pk])
    assert {e.actor_name for e in events} == {"system"}
    assert all((e.before, e.after["status"]) == ({"status": "pending"}, "expired") for e in events)
    # and Monday's stays pending, the approved one approved
    monday.refresh_from_db()
    approved.refresh_from_db()
    assert monday.status == ProposalStatus.PENDING and monday.decided_at is None
    assert approved.status == ProposalStatus.APPROVED and approved.execution_id is not None
    # And a second run finds nothing to expire
    assert run("expire_proposals", "--date", MONDAY.isoformat()) == [
        "0 pending proposal(s) dated before 2024-03-11 expired"
    ]
    assert events.count() == 5


def test_expire_proposals_leaves_the_proposals_of_the_date_itself(tmarket, users):
    proposal = manual_proposal(tmarket, users["trader"], day=LAST)
    assert run("expire_proposals", "--date", LAST.isoformat()) == [
        "0 pending proposal(s) dated before 2024-03-08 expired"
    ]
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING
    with pytest.raises(CommandError, match="is not a date"):
        run("expire_proposals", "--date", "08/03/2024")
