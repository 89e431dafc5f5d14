"""Smoke of the embedded default: the README's `make run` on the embedded PostgreSQL.

With a temporary data folder (``PMS_EMBEDDED_PGDATA``) and no DATABASE_URL / REDIS_URL / broker in
the environment, ``make run`` initialises and starts the embedded PostgreSQL, migrates, seeds the
demo (which marks it to market), prints the API tokens and serves. The test reads the book over
HTTP, checks its NAV digit for digit against the database, then stops ``make run`` as Ctrl-C does
and checks that the embedded PostgreSQL stopped with it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from pms_project import embedded_pg

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

DECIMAL_8 = re.compile(r"-?\d+\.\d{1,8}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def _wait_until_served(base: str, make: subprocess.Popen, output: list[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert make.poll() is None, "make run exited:\n" + "".join(output)[-4000:]
        try:
            if _get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail("make run did not serve within 300 s:\n" + "".join(output)[-4000:])


def _postgres_on(pgdata: Path) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in ps.stdout.splitlines() if "postgres" in line and str(pgdata) in line]


def _database_navs(url: str) -> tuple[dict[str, str], Decimal]:
    """The stored NAVs by date, and the last date's NAV recomputed in Decimal from its parts:
    initial capital + flows + the realized P&L of every sleeve + the last snapshots' unrealized."""
    with psycopg.connect(url) as conn:
        pid, capital = conn.execute(
            "SELECT id, initial_capital FROM portfolio_portfolio WHERE code = 'MACRO1'"
        ).fetchone()
        rows = conn.execute(
            "SELECT date, nav FROM portfolio_navsnapshot WHERE portfolio_id = %s ORDER BY date",
            [pid],
        ).fetchall()
        last_date = rows[-1][0]
        (flows,) = conn.execute(
            "SELECT coalesce(sum(amount), 0) FROM portfolio_cashflow"
            " WHERE portfolio_id = %s AND date <= %s",
            [pid, last_date],
        ).fetchone()
        (realized,) = conn.execute(  # every sleeve, flat ones included
            "SELECT sum(realized_pnl) FROM portfolio_position WHERE portfolio_id = %s", [pid]
        ).fetchone()
        (unrealized,) = conn.execute(
            "SELECT sum(s.unrealized) FROM portfolio_positionsnapshot s"
            " JOIN portfolio_position p ON p.id = s.position_id"
            " WHERE p.portfolio_id = %s AND s.date = %s",
            [pid, last_date],
        ).fetchone()
    navs = {day.isoformat(): str(nav) for day, nav in rows}
    return navs, capital + flows + realized + unrealized


def test_make_run_serves_the_demo_on_the_embedded_postgresql(tmp_path):
    pgdata = tmp_path / "pgdata"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MAKEFLAGS", "MFLAGS"}
    }
    env["PMS_EMBEDDED_PGDATA"] = str(pgdata)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # given the README's `make run`, in its own session as in a terminal
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"RUN_ADDR=127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []

    def read() -> None:
        for line in make.stdout:
            output.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        _wait_until_served(base, make, output)
        log = "".join(output)
        assert "embedded PostgreSQL initialised and started" in log, log[-3000:]
        token = re.search(r"token: ([0-9a-f]{40})", log)  # the first printed: user demo's
        assert token, log[-3000:]

        # then anonymous requests are refused and the demo book answers with the token
        assert _get(f"{base}/api/portfolio/book/")[0] == 401
        status, book = _get(f"{base}/api/portfolio/book/", token.group(1))
        assert status == 200, book
        assert book["portfolio"] == "MACRO1"
        assert {p["asset_class"] for p in book["positions"]} >= {"FX", "RATES", "EQUITY"}

        # and its NAV is exact: digit for digit the database's, at most 8 decimals
        stored, recomputed = _database_navs(embedded_pg.running_url(pgdata))
        last_date = max(stored)
        assert DECIMAL_8.fullmatch(book["nav"]), book["nav"]
        assert book["as_of"] == last_date
        assert book["nav"] == stored[last_date]
        assert Decimal(book["nav"]) == recomputed

        # and so is every NAV read through /api/portfolio/nav/
        status, navs = _get(f"{base}/api/portfolio/nav/?limit=5000", token.group(1))
        assert status == 200, navs
        assert len(stored) >= 200  # about a year of marked business days
        assert all(DECIMAL_8.fullmatch(row["nav"]) for row in navs["results"])
        assert {row["date"]: row["nav"] for row in navs["results"]} == stored

        # when it is stopped as Ctrl-C stops it
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=60)
        reader.join(timeout=10)
        # then the embedded PostgreSQL stopped with it
        assert "embedded PostgreSQL in" in "".join(output), "".join(output)[-2000:]
        assert not (pgdata / "postmaster.pid").exists()
        assert _postgres_on(pgdata) == []
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            make.wait(timeout=30)
        embedded_pg.stop(pgdata)  # no-op unless a failure above left it running
