"""The ledger of a mark-to-market: each sleeve's state as of D, continued from its previous
snapshot instead of replayed from inception (a read, beside ``selectors``; only
``services.mtm`` calls it).

The cost follows what happened since the previous snapshots, not the length of the ledger: a
desk with years of executions reads, on an ordinary evening, one index probe per position and
the day's executions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from . import calculations as calc
from .models import Portfolio
from .selectors import FxTable, Sleeve, fx_table


class InstrumentTerms(NamedTuple):
    """What marking a sleeve reads of its instrument."""

    id: int
    symbol: str
    currency: str
    multiplier: Decimal
    calendar: str  # its market's (``portfolio.calendars``): a closed day carries the close


class Previous(NamedTuple):
    """A sleeve's position and its last snapshot before D (date None: it has none)."""

    position_id: int
    date: dt.date | None
    quantity: Decimal | None
    total_pnl: Decimal | None


@dataclass(frozen=True)
class LedgerAtDay:
    """The ledger of D as ``_mark_locked`` reads it. Plain dicts, a ``LedgerState`` per sleeve
    and tuples of atoms otherwise: a run keeps one entry per sleeve alive until it writes, and
    tuples of atoms are objects the garbage collector stops tracking (tens of thousands of
    tracked objects would set off a full collection of the process during the run)."""

    states: dict[Sleeve, calc.LedgerState]  # every sleeve with an execution up to D
    previous: dict[Sleeve, Previous]  # every position
    # The last execution up to D of the sleeves that traded since their previous snapshot (or
    # were replayed from inception).
    last_trades: dict[Sleeve, calc.Trade]
    instruments: dict[int, InstrumentTerms]
    fx: FxTable  # the rates of D and of every execution the states were advanced by
    watermark: int  # the largest execution id when read: stored with D's snapshots


# The last snapshot before D of each position: one probe per position of the snapshots'
# (position, date) index, whatever the depth of the history. ``after``: the snapshot's date when
# it holds a ledger state (rows written before migration 0008 do not), else NULL.
_PREVIOUS = """
SELECT s.date, s.quantity, s.total_pnl, s.avg_cost, s.realized_pnl, s.opened_date,
       s.closed_date, s.ledger_watermark,
       CASE WHEN s.ledger_watermark IS NOT NULL AND s.avg_cost IS NOT NULL THEN s.date END
FROM portfolio_positionsnapshot s
WHERE s.position_id = p.id AND s.date < %(day)s
ORDER BY s.date DESC LIMIT 1
"""

# Each position with its instrument's terms and its previous snapshot (one row per position).
_SLEEVES = f"""
SELECT p.id, p.instrument_id, p.strategy_id, i.symbol, i.currency, i.multiplier, i.calendar,
       s.date, s.quantity, s.total_pnl, s.after IS NOT NULL, s.ledger_watermark, s.avg_cost,
       s.realized_pnl, s.opened_date, s.closed_date
FROM portfolio_position p
JOIN portfolio_instrument i ON i.id = p.instrument_id
LEFT JOIN LATERAL ({_PREVIOUS}) s(date, quantity, total_pnl, avg_cost, realized_pnl,
                                   opened_date, closed_date, ledger_watermark, after) ON true
WHERE p.portfolio_id = %(portfolio)s
ORDER BY p.id
"""

# The executions of the sleeves whose previous snapshot is the last run's (date ``after``,
# watermark ``seen``; on a desk marked every evening, nearly all): those dated after it up to D,
# and those booked after it (an id above its watermark: back-dated when dated on or before it).
# Two short index ranges for the whole portfolio: the portfolio's dates after ``after``, the
# primary key above ``seen``.
_SINCE = """
SELECT instrument_id, strategy_id, id, trade_date, quantity, price FROM portfolio_execution
WHERE portfolio_id = %(portfolio)s AND trade_date <= %(day)s
  AND (trade_date > %(after)s OR id > %(seen)s)
"""

# The same for the other positions, each against its own previous snapshot (an older one, none,
# or one without a stored state: ``after`` NULL, the whole sleeve up to D). One short range per
# position of each sleeve index of migration 0008: its dates after ``after``, its ids above the
# watermark.
_PROBES = f"""
SELECT p.id, e.id, e.trade_date, e.quantity, e.price
FROM portfolio_position p
LEFT JOIN LATERAL ({_PREVIOUS}) s(date, quantity, total_pnl, avg_cost, realized_pnl,
                                   opened_date, closed_date, ledger_watermark, after) ON true
CROSS JOIN LATERAL (
    SELECT id, trade_date, quantity, price FROM portfolio_execution
    WHERE portfolio_id = p.portfolio_id AND instrument_id = p.instrument_id
      AND strategy_id = p.strategy_id
      AND trade_date > COALESCE(s.after, '-infinity') AND trade_date <= %(day)s
      AND (s.after IS NULL OR id <= s.ledger_watermark)
    UNION ALL
    SELECT id, trade_date, quantity, price FROM portfolio_execution
    WHERE portfolio_id = p.portfolio_id AND instrument_id = p.instrument_id
      AND strategy_id = p.strategy_id
      AND id > s.ledger_watermark AND s.after IS NOT NULL AND trade_date <= %(day)s
) e
WHERE p.id = ANY(%(positions)s::bigint[])
"""

# The whole ledger up to D of the positions with a back-dated execution.
_REPLAYS = """
SELECT p.id, e.id, e.trade_date, e.quantity, e.price
FROM portfolio_position p
JOIN portfolio_execution e ON e.portfolio_id = p.portfolio_id
     AND e.instrument_id = p.instrument_id AND e.strategy_id = p.strategy_id
WHERE p.id = ANY(%(positions)s::bigint[]) AND e.trade_date <= %(day)s
"""


def ledger_at_day(portfolio: Portfolio, day: dt.date) -> LedgerAtDay:
    """Every sleeve's ledger state as of ``day``, continued from its previous snapshot.

    A snapshot holds its sleeve's state as of its date, so the state of D is that state advanced
    by the executions dated after it up to D: the numbers of a replay from inception, at the
    cost of what happened since. A sleeve is replayed from inception when its previous snapshot
    has no stored state (written before migration 0008) or when an execution dated on or before
    that snapshot carries an id above the snapshot's watermark: it was booked afterwards. Ids
    order bookings because ``execution_record`` inserts under the portfolio lock, which a
    mark-to-market holds (its caller takes it) while it reads the watermark and the ledger.
    Three to five queries plus the FX table's, whatever the number of sleeves or executions.
    """
    with connection.cursor() as cursor:
        # The plans are thousands of index probes, each microseconds: JIT-compiling them (their
        # cost estimates are over jit_above_cost) would take longer than running them.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM portfolio_execution")
        watermark = cursor.fetchone()[0]
        cursor.execute(_SLEEVES, {"day": day, "portfolio": portfolio.pk})
        sleeves = cursor.fetchall()

    instruments: dict[int, InstrumentTerms] = {}
    positions: dict[int, Sleeve] = {}
    previous: dict[Sleeve, Previous] = {}
    stored: dict[int, calc.LedgerState] = {}  # by position id, when the snapshot holds one
    stored_at: dict[int, tuple[dt.date, int]] = {}  # its date and watermark
    for row in sleeves:
        pid, iid, sid, symbol, ccy, mult, cal, date, qty, total, usable, seen = row[:12]
        instruments[iid] = InstrumentTerms(iid, symbol, ccy, mult, cal)
        sleeve = (iid, sid)
        positions[pid] = sleeve
        previous[sleeve] = Previous(pid, date, qty, total)
        if usable:
            stored[pid] = calc.LedgerState(qty, *row[12:])
            stored_at[pid] = (date, seen)
    # The last run's snapshots: the latest date with a state and, should two runs' rows share it
    # (they cannot: a run replaces its date's rows), the smaller watermark. Nearly every position
    # is there; the others are probed one by one.
    last = max(((d, -w) for d, w in stored_at.values()), default=None)
    common = {pid for pid, (d, w) in stored_at.items() if (d, -w) == last}
    others = sorted(positions.keys() - common)

    rows: list[tuple] = []
    with connection.cursor() as cursor:
        if common:
            cursor.execute(
                _SINCE,
                {"portfolio": portfolio.pk, "day": day, "after": last[0], "seen": -last[1]},
            )
            for iid, sid, *execution in cursor.fetchall():
                pid = previous[(iid, sid)].position_id if (iid, sid) in previous else None
                if pid in common:
                    rows.append((pid, *execution))
        if others:
            cursor.execute(_PROBES, {"day": day, "positions": _int_array(others)})
            rows.extend(cursor.fetchall())

    trades: dict[int, list[tuple]] = defaultdict(list)
    backdated: set[int] = set()
    for pid, eid, trade_date, qty, price in rows:
        if pid in stored:
            after, seen = stored_at[pid]
            if trade_date <= after:
                if eid > seen:
                    backdated.add(pid)
                continue  # already in the stored state
        trades[pid].append((trade_date, eid, qty, price))
    if backdated:
        with connection.cursor() as cursor:
            cursor.execute(_REPLAYS, {"day": day, "positions": _int_array(backdated)})
            for pid in backdated:
                del stored[pid]
                trades[pid] = []
            for pid, eid, trade_date, qty, price in cursor.fetchall():
                trades[pid].append((trade_date, eid, qty, price))

    first = min((min(t)[0] for t in trades.values()), default=day)
    fx = fx_table(
        base=portfolio.base_currency,
        currencies={instruments[positions[pid][0]].currency for pid in stored.keys() | trades},
        start=min(first, day),
        end=day,
    )
    states: dict[Sleeve, calc.LedgerState] = {}
    last_trades: dict[Sleeve, calc.Trade] = {}
    for pid, sleeve in positions.items():
        start = stored.get(pid)
        sleeve_trades = trades.get(pid)
        if not sleeve_trades:
            if start is not None:  # nothing since its previous snapshot: the state it stored
                states[sleeve] = start
            continue  # else: no execution up to D
        inst = instruments[sleeve[0]]
        applied = [calc.Trade(d, q, p) for d, _, q, p in sorted(sleeve_trades)]
        states[sleeve] = calc.replay(
            applied,
            multiplier=inst.multiplier,
            fx=lambda d, ccy=inst.currency: fx.rate(ccy, d),
            start=start,
        )
        last_trades[sleeve] = applied[-1]
    return LedgerAtDay(states, previous, last_trades, instruments, fx, watermark)


def _int_array(ids) -> str:
    """A PostgreSQL array literal: psycopg adapts a list of 10,000 ints element by element."""
    return "{" + ",".join(map(str, ids)) + "}"
