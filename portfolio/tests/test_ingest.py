"""The daily price ingest from the drop folder: complete files imported through the same function
as ``import_prices`` and moved to processed/, bad ones moved to rejected/ with their reason and
nothing of them imported, half-written ones left for the next run, never one file twice."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from decimal import Decimal as D
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import InterfaceError, OperationalError, connection

from portfolio import services
from portfolio.models import Price
from portfolio.services import ingest
from portfolio.tasks import ingest_prices
from tests.concurrency import run_concurrently
from trades.choices import AuditAction
from trades.models import AuditEvent

from .factories import InstrumentFactory

pytestmark = pytest.mark.django_db

MON, TUE = dt.date(2024, 3, 4), dt.date(2024, 3, 5)
# <UTC timestamp>-<original name>
STAMPED = re.compile(r"^\d{8}T\d{6}\.\d{6}Z-(?P<name>.+)$")
GOOD = "date,symbol,close\n2024-03-04,ES,5000.25\n2024-03-04,TY,110.5\n2024-03-05,ES,5010\n"


@pytest.fixture
def drop(tmp_path, settings):
    """The drop folder of the settings, with no settle time (files are complete when written)."""
    folder = tmp_path / "incoming"
    settings.PMS_PRICE_DROP_DIR = folder
    settings.PMS_PRICE_DROP_SETTLE_SECONDS = 0
    return folder


@pytest.fixture
def instruments(db):
    return InstrumentFactory(symbol="ES"), InstrumentFactory(symbol="TY")


def put(folder, name: str, content: str | bytes):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def closes() -> list[tuple[str, dt.date, D]]:
    return sorted(Price.objects.values_list("instrument__symbol", "date", "close"))


# --- A good file ---------------------------------------------------------------------------


def test_a_good_file_is_imported_and_moved_to_processed(drop, instruments):
    # given a complete file of three closes in the drop folder
    put(drop, "closes.csv", GOOD)
    # when the ingest runs
    report = services.ingest_drop_folder()
    # then every close is stored and the file is in processed/, timestamped, unchanged
    assert closes() == [("ES", MON, D("5000.25")), ("ES", TUE, D("5010")), ("TY", MON, D("110.5"))]
    [stored] = listing(drop / "processed")
    assert STAMPED.match(stored)["name"] == "closes.csv"
    assert (drop / "processed" / stored).read_text(encoding="utf-8") == GOOD
    assert [p for p in listing(drop) if p.endswith(".csv")] == []
    assert listing(drop / "processing") == listing(drop / "rejected") == []
    [imported] = report.imported
    assert (imported.name, imported.stored_as, imported.closes, imported.symbols) == (
        "closes.csv",
        f"processed/{stored}",
        3,
        2,
    )
    assert (imported.first, imported.last) == (MON, TUE)
    assert report.rejected == report.skipped == []
    # through prices_load: one audited load, by the system
    event = AuditEvent.objects.get(action=AuditAction.PRICES_LOAD)
    assert event.actor is None


def test_files_are_imported_oldest_first_so_the_newest_close_wins(drop, instruments):
    # given two files correcting the same close, the older written first
    old = put(drop, "b-first.csv", "date,symbol,close\n2024-03-04,ES,100\n")
    new = put(drop, "a-second.csv", "date,symbol,close\n2024-03-04,ES,101\n")
    os.utime(old, (time.time() - 120, time.time() - 120))
    os.utime(new, (time.time() - 60, time.time() - 60))
    # when the ingest runs
    report = services.ingest_drop_folder()
    # then they are loaded by age, not by name: the later file's close stands
    assert [f.name for f in report.imported] == ["b-first.csv", "a-second.csv"]
    assert closes() == [("ES", MON, D(101))]


def test_the_same_name_on_two_days_does_not_collide(drop, instruments):
    # given the desk's usual file name dropped on Monday, then again on Tuesday
    put(drop, "eod.csv", "date,symbol,close\n2024-03-04,ES,100\n")
    first = services.ingest_drop_folder()
    put(drop, "eod.csv", "date,symbol,close\n2024-03-05,ES,101\n")
    second = services.ingest_drop_folder()
    # then both are kept in processed/ under distinct names, each with its own content
    stored = listing(drop / "processed")
    assert len(stored) == 2 and {STAMPED.match(s)["name"] for s in stored} == {"eod.csv"}
    assert [f.stored_as for f in first.imported + second.imported] == [
        f"processed/{s}" for s in stored
    ]
    contents = [(drop / "processed" / s).read_text(encoding="utf-8") for s in stored]
    assert [c.splitlines()[1] for c in contents] == ["2024-03-04,ES,100", "2024-03-05,ES,101"]
    assert closes() == [("ES", MON, D(100)), ("ES", TUE, D(101))]


def test_an_empty_folder_is_created_and_reports_nothing(drop, db):
    report = services.ingest_drop_folder()
    assert (report.imported, report.rejected, report.skipped) == ([], [], [])
    assert listing(drop) == ["processed", "processing", "rejected"]


# --- Bad files -----------------------------------------------------------------------------


def test_an_unknown_symbol_rejects_the_file_with_its_reason_and_imports_nothing(drop, instruments):
    # given a file whose last row names a symbol nobody knows
    put(drop, "closes.csv", GOOD + "2024-03-05,ZZZ,1\n")
    # when the ingest runs
    report = services.ingest_drop_folder()
    # then nothing of it is stored, and it sits in rejected/ beside its reason
    assert Price.objects.count() == 0
    assert not AuditEvent.objects.filter(action=AuditAction.PRICES_LOAD).exists()
    stored, reason = listing(drop / "rejected")
    assert STAMPED.match(stored)["name"] == "closes.csv"
    assert reason == stored + ".reason.txt"
    text = (drop / "rejected" / reason).read_text(encoding="utf-8")
    assert "file: closes.csv\n" in text
    assert "field: symbol\n" in text
    assert "reason: symbol: unknown symbols: ZZZ\n" in text
    [rejected] = report.rejected
    assert (rejected.name, rejected.stored_as, rejected.field, rejected.message) == (
        "closes.csv",
        f"rejected/{stored}",
        "symbol",
        "symbol: unknown symbols: ZZZ",
    )
    assert report.imported == [] and listing(drop / "processed") == []


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        (GOOD + "2024-03-05,TY,abc\n", "close", "line 5: close 'abc' is not a number"),
        (GOOD + "2024-03-05,TY,-1\n", "close", "line 5: close '-1' must be greater than zero"),
        (GOOD + "05/03/2024,TY,1\n", "date", "line 5: date '05/03/2024' is not a date"),
        (GOOD + "2024-03-09,TY,1\n", "date", "line 5: date 2024-03-09 is not a business day"),
        (GOOD + "2024-03-05,ES,1\n", "file", "line 5: ES 2024-03-05 already appears on line 4"),
        (GOOD + "2024-03-05,T\x00Y,1\n", "symbol", "line 5: symbol must not contain control"),
        (GOOD + "2024-03-05,TY,1,2\n", "file", "line 5: more values than columns"),
        ("day,symbol,close\n2024-03-04,ES,1\n", "file", "line 1: missing column(s) date"),
        ("date,symbol,close,note\n", "file", "line 1: unknown column(s) note"),
        ("", "file", "line 1: missing column(s) date, symbol, close"),
        ("date,symbol,close\n", "file", "no price rows under the header"),
        (b"date,symbol,close\n2024-03-04,\xc9S,1\n", "file", "the file is not UTF-8 text"),
    ],
    ids=[
        "bad-number",
        "negative",
        "bad-date",
        "weekend",
        "duplicate-row",
        "nul-in-symbol",
        "extra-value",
        "wrong-header",
        "unknown-column",
        "empty",
        "header-only",
        "not-utf8",
    ],
)
def test_a_bad_file_is_rejected_naming_the_problem(drop, instruments, content, field, message):
    put(drop, "closes.csv", content)

    report = services.ingest_drop_folder()

    assert Price.objects.count() == 0
    [rejected] = report.rejected
    assert rejected.field == field
    assert rejected.message.startswith(message), rejected.message
    reason = (drop / f"{rejected.stored_as}.reason.txt").read_text(encoding="utf-8")
    assert f"field: {field}\n" in reason and message in reason
    assert listing(drop / "processed") == []


def test_one_bad_file_does_not_hold_back_the_good_ones(drop, instruments):
    put(drop, "bad.csv", "date,symbol,close\n2024-03-04,ES,oops\n")
    put(drop, "good.csv", GOOD)

    report = services.ingest_drop_folder()

    assert [f.name for f in report.imported] == ["good.csv"]
    assert [f.name for f in report.rejected] == ["bad.csv"]
    assert len(closes()) == 3


def test_the_reason_is_the_import_prices_commands_error(drop, instruments, tmp_path):
    """One parser for both: the file the command refuses, the ingest refuses in the same words."""
    text = GOOD + "2024-03-05,TY,1e400x\n"
    with pytest.raises(CommandError) as refused:
        call_command("import_prices", str(put(tmp_path, "same.csv", text)), stdout=StringIO())
    put(drop, "same.csv", text)

    [rejected] = services.ingest_drop_folder().rejected

    assert rejected.message == str(refused.value) == "line 5: close '1e400x' is not a number"


# --- Half-written files ----------------------------------------------------------------------


def test_partial_and_hidden_files_are_left_in_place(drop, instruments):
    # given a file still being written under the writer's temporary names
    for name in ("closes.csv.part", "closes.csv.tmp", ".closes.csv.swp", ".closes.csv"):
        put(drop, name, GOOD[:30])
    # when the ingest runs
    report = services.ingest_drop_folder()
    # then none is touched or imported, and each is reported as skipped
    assert Price.objects.count() == 0
    assert sorted(f.name for f in report.skipped) == sorted(
        [".closes.csv", ".closes.csv.swp", "closes.csv.part", "closes.csv.tmp"]
    )
    assert [p for p in listing(drop) if "closes" in p] == sorted(
        [".closes.csv", ".closes.csv.swp", "closes.csv.part", "closes.csv.tmp"]
    )
    # and once the writer renames it to its final name, the next run takes it
    (drop / "closes.csv.part").write_text(GOOD, encoding="utf-8")
    os.rename(drop / "closes.csv.part", drop / "closes.csv")
    assert [f.closes for f in services.ingest_drop_folder().imported] == [3]


def test_a_file_changed_within_the_settle_time_is_left_for_the_next_run(
    drop, instruments, settings
):
    # given a settle time of a minute and a file written just now
    settings.PMS_PRICE_DROP_SETTLE_SECONDS = 60
    put(drop, "closes.csv", GOOD[:40])
    # when the ingest runs
    report = services.ingest_drop_folder()
    # then it is left where it is, unread
    assert Price.objects.count() == 0
    assert "closes.csv" in listing(drop)
    [skipped] = report.skipped
    assert skipped.name == "closes.csv"
    assert "settle time 60 s" in skipped.reason
    # when its writer finishes and the settle time has passed (here: set to 0), it is imported
    put(drop, "closes.csv", GOOD)
    settings.PMS_PRICE_DROP_SETTLE_SECONDS = 0
    assert [f.closes for f in services.ingest_drop_folder().imported] == [3]


def test_an_old_modification_time_does_not_hide_a_fresh_write(drop, instruments, settings):
    """``cp -p`` and ``rsync -t`` set an old mtime while copying: the inode's change time,
    which no writer can set back, still shows the write."""
    settings.PMS_PRICE_DROP_SETTLE_SECONDS = 60
    path = put(drop, "closes.csv", GOOD)
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))

    report = services.ingest_drop_folder()

    assert [f.name for f in report.skipped] == ["closes.csv"]
    assert Price.objects.count() == 0


# --- Concurrency and recovery ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_ingests_at_once_import_each_file_once(drop):
    # given four files in the drop folder
    InstrumentFactory(symbol="ES")
    for i in range(4):
        put(drop, f"f{i}.csv", f"date,symbol,close\n2024-03-0{4 + i},ES,{100 + i}\n")
    # when two ingests start at the same instant
    results = run_concurrently(services.ingest_drop_folder, services.ingest_drop_folder)
    # then each file is imported exactly once, by one of them
    assert not [r for r in results if isinstance(r, Exception)], results
    imported = sorted(f.name for r in results for f in r.imported)
    assert imported == ["f0.csv", "f1.csv", "f2.csv", "f3.csv"]
    assert AuditEvent.objects.filter(action=AuditAction.PRICES_LOAD).count() == 4
    assert len(listing(drop / "processed")) == 4
    assert Price.objects.count() == 4


def test_a_file_left_in_processing_by_a_dead_run_is_resumed(drop, instruments):
    # given a file claimed by a run that died before moving it
    put(drop / "processing", "20240304T090000.000000Z-closes.csv", GOOD)
    # when the next run starts
    report = services.ingest_drop_folder()
    # then it imports it and files it under its original name
    assert [(f.name, f.closes) for f in report.imported] == [("closes.csv", 3)]
    assert listing(drop / "processed") == ["20240304T090000.000000Z-closes.csv"]
    assert listing(drop / "processing") == []


# --- The command and the task -----------------------------------------------------------------


def test_the_command_prints_the_report(drop, instruments):
    put(drop, "closes.csv", GOOD)
    put(drop, "closes.csv.part", GOOD)
    # --folder: another folder than the setting's
    other = drop.parent / "other"
    put(other, "more.csv", "date,symbol,close\n2024-03-06,ES,5020\n")
    out = StringIO()

    call_command("ingest_prices", "--folder", str(other), stdout=out)
    call_command("ingest_prices", stdout=out)

    assert f"drop folder: {other}\n" in out.getvalue()
    assert "imported  more.csv: 1 closes of 1 symbols, 2024-03-06 to 2024-03-06" in out.getvalue()
    assert f"drop folder: {drop}\n" in out.getvalue()
    assert "imported  closes.csv: 3 closes of 2 symbols, 2024-03-04 to 2024-03-05" in out.getvalue()
    assert "skipped   closes.csv.part: partial file (.part" in out.getvalue()
    assert Price.objects.count() == 4


def _manage(*args: str, drop) -> subprocess.CompletedProcess:
    """``manage.py`` in a process of its own (its real exit status) on the test database."""
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        CELERY_BROKER_URL="",
        PMS_PRICE_DROP_DIR=str(drop),
        PMS_PRICE_DROP_SETTLE_SECONDS="0",
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_0_when_all_is_imported_and_1_when_a_file_was_rejected(drop):
    InstrumentFactory(symbol="ES")
    put(drop, "good.csv", "date,symbol,close\n2024-03-04,ES,100\n")

    done = _manage("ingest_prices", drop=drop)

    assert done.returncode == 0, done.stderr
    assert "imported  good.csv: 1 closes" in done.stdout

    put(drop, "bad.csv", "date,symbol,close\n2024-03-05,NOPE,1\n")
    put(drop, "late.csv", "date,symbol,close\n2024-03-05,ES,101\n")

    done = _manage("ingest_prices", drop=drop)

    assert done.returncode == 1
    assert "rejected  bad.csv: symbol: unknown symbols: NOPE" in done.stdout
    assert "1 file(s) rejected: bad.csv" in done.stderr
    # the good file of the same run is not held back
    assert sorted(Price.objects.values_list("date", "close")) == [(MON, D(100)), (TUE, D(101))]


def test_the_task_ingests_and_returns_the_report(drop, instruments):
    put(drop, "closes.csv", GOOD)
    put(drop, "bad.csv", "date,symbol,close\n2024-03-04,ES,x\n")

    result = ingest_prices.apply().get()

    assert result["folder"] == str(drop)
    [imported] = result["imported"]
    assert {k: imported[k] for k in ("name", "closes", "symbols", "first", "last")} == {
        "name": "closes.csv",
        "closes": 3,
        "symbols": 2,
        "first": "2024-03-04",
        "last": "2024-03-05",
    }
    [rejected] = result["rejected"]
    assert (rejected["name"], rejected["field"]) == ("bad.csv", "close")
    assert result["skipped"] == []
    assert len(closes()) == 3
    # a second run (the broker delivering it again) finds nothing left to do
    assert ingest_prices.delay().get() == {
        "folder": str(drop),
        "imported": [],
        "rejected": [],
        "skipped": [],
    }


def test_the_task_is_acknowledged_late_and_retries_database_outages():
    assert ingest_prices.name == "portfolio.tasks.ingest_prices"
    assert ingest_prices.acks_late is True
    assert set(ingest_prices.autoretry_for) == {OperationalError, InterfaceError}
    assert ingest_prices.retry_backoff and ingest_prices.max_retries > 0
    # the ingest re-raises exactly these, leaving the file claimed for the retry
    assert set(ingest._TRANSIENT) == set(ingest_prices.autoretry_for)
