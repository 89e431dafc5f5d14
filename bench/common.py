"""What the benchmarks share: their own PostgreSQL database (created when missing, migrated,
emptied) and set-based sleeves consistent with their execution ledger."""

from __future__ import annotations

import io
import os
import pstats
import re
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection


def ensure_database(script: str) -> None:
    """Create the database of DATABASE_URL when missing and migrate it; exit 2 when the
    database is not PostgreSQL."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql" or connection.vendor != "postgresql":
        print(
            f"{script}: this benchmark runs on PostgreSQL only; set DATABASE_URL="
            "postgres://postgres@127.0.0.1:5432/<a database of its own> (or run `make bench`)",
            file=sys.stderr,
        )
        sys.exit(2)
    import psycopg
    from psycopg import sql

    params = {
        "dbname": "postgres",
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            print(f"created database {db['NAME']}")
    call_command("migrate", verbosity=0, interactive=False)


def wipe(*apps: str) -> None:
    """Empty every table of ``apps`` (CASCADE empties whatever references them)."""
    patterns = [f"{app}\\_%" for app in apps]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename LIKE ANY(%s)",
            [patterns],
        )
        tables = [row[0] for row in cur.fetchall()]
        if tables:
            quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
            cur.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")


def sleeve_rows(*, portfolio, instrument, strategy, trades, fx):
    """The executions of ``trades`` and the position their replay leaves (average cost), as
    unsaved rows for ``bulk_create``; ``fx(day)`` converts realized P&L to the base."""
    from portfolio import calculations as calc
    from portfolio.choices import ExecutionSource, PositionStatus
    from portfolio.models import Execution, Position

    state = calc.replay(trades, multiplier=instrument.multiplier, fx=fx)
    executions = [
        Execution(
            portfolio=portfolio,
            instrument=instrument,
            strategy=strategy,
            trade_date=t.trade_date,
            quantity=t.quantity,
            price=t.price,
            source=ExecutionSource.MANUAL,
        )
        for t in trades
    ]
    position = Position(
        portfolio=portfolio,
        instrument=instrument,
        strategy=strategy,
        quantity=state.quantity,
        avg_cost=state.avg_cost,
        realized_pnl=state.realized_pnl,
        status=PositionStatus.OPEN,
        opened_date=state.opened_date,
    )
    return executions, position


def print_profile(profiler, what: str, *, project_top: int, own_top: int) -> None:
    """A cProfile of ``what``: the project's functions by cumulative time, then everything by own
    time (where the database wait and the row parsing show), paths relative to the project."""
    root = Path(__file__).resolve().parent.parent
    prefix = f"{root}{os.sep}"
    project = f"^{re.escape(prefix)}(?!\\.venv)"
    for key, title, restrict in (
        ("cumulative", "the project's functions by cumulative time", (project, project_top)),
        ("tottime", "all functions by own time", (own_top,)),
    ):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(*restrict)
        print(f"\n  cProfile of {what}, {title}:")
        lines = out.getvalue().splitlines()
        begin = next(i for i, line in enumerate(lines) if "ncalls" in line)
        for line in lines[begin:]:
            if line.strip():
                print(f"    {line.replace(prefix, '')}")


def fail(script: str, message: str, code: int) -> None:
    """Stop the benchmark: ``code`` 1 when a result is wrong, 2 when it cannot run here."""
    print(f"{script}: {message}", file=sys.stderr)
    sys.exit(code)
