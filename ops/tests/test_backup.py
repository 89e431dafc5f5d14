"""``backup`` and ``restore`` on the real PostgreSQL of the suite, with the real client tools.

One backup of the pipelines' desk (``desk.py``: a marked book, a pending proposal, users and
groups), committed and taken once for the module. The refusals run first, on the committed desk,
each checking that the database is exactly as before (every table's row count and the md5 of its
rows); the round trip runs last: drop the PMS tables, restore, and every table is back as it was.
That test is transactional (pg_dump and pg_restore are other sessions: they see only committed
rows), so the database is flushed after it; the database as it was before the module is
restored at its end.
"""

from __future__ import annotations

import json
import os
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ops import backups
from trades.tests.fixtures_trades import restore_desk_groups

from .desk import desk_build


def fingerprint() -> dict[str, tuple[int, str]]:
    """{table: (rows, md5 of its rows in order)} of every table of the database."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        result = {}
        for table in connection.introspection.table_names(cursor):
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                f"FROM {qn(table)} t"
            )
            result[table] = cursor.fetchone()
        return result


def restore(folder: Path, *args: str, stdin: str | None = None) -> str:
    out = StringIO()
    options = {"stdout": out}
    if stdin is not None:
        options["stdin"] = StringIO(stdin)
    call_command("restore", str(folder), *args, **options)
    return out.getvalue()


def copy_of(folder: Path, tmp_path: Path) -> Path:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    return copy


@pytest.fixture(scope="module")
def taken(django_db_setup, django_db_blocker, tmp_path_factory):
    """(the backup folder, the database's fingerprint when it was taken), the desk committed.

    The database as it was before (the migrations' groups, schedules and scenarios, which a
    flush would take from the tests after these) is backed up first and restored at the end.
    pytest-django runs the transactional test after the others, so this is set up twice."""
    baseline, parent = tmp_path_factory.mktemp("baseline"), tmp_path_factory.mktemp("backups")
    with django_db_blocker.unblock():
        call_command("backup", "--dir", str(baseline), stdout=StringIO())
        restore_desk_groups()  # an earlier transactional test's flush took the migrations' groups
        desk_build()
        out = StringIO()
        call_command("backup", "--dir", str(parent), stdout=out)
        before = fingerprint()
    (folder,) = parent.iterdir()
    assert f"backup written to {folder}" in out.getvalue()
    yield folder, before
    with django_db_blocker.unblock():
        (was,) = baseline.iterdir()
        call_command("restore", str(was), "--yes", stdout=StringIO())


@pytest.mark.django_db
def test_the_backup_holds_a_dump_the_csvs_and_a_manifest_of_the_database(taken):
    folder, before = taken
    manifest = json.loads((folder / backups.MANIFEST).read_text())
    assert manifest["database"] == connection.settings_dict["NAME"]
    assert manifest["app_version"] == "0.1.0" and manifest["created_at"].endswith("Z")
    assert manifest["tables"] == {table: rows for table, (rows, _) in before.items()}
    assert manifest["tables"]["portfolio_navsnapshot"] == 4  # Mon–Thu of the desk
    assert "0002_pipeline_schedules" in manifest["migrations"]["ops"]
    csvs = {path.name for path in (folder / backups.CSV_DIR).iterdir()}
    assert {"portfolio_position.csv", "trades_tradeproposal.csv", "auth_user.csv"} <= csvs
    assert "django_session.csv" not in csvs  # the dump holds it; it is no PMS table
    for name, digest in manifest["files"].items():
        assert backups.sha256(folder / name) == digest
    lines = (folder / backups.CSV_DIR / "portfolio_position.csv").read_text().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 1 + 2  # header + UP and FGBL
    assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["csv/portfolio_price.csv", "database.dump"])
def test_a_tampered_backup_is_refused_and_changes_nothing(taken, tmp_path, target):
    folder = copy_of(taken[0], tmp_path)
    data = bytearray((folder / target).read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    (folder / target).write_bytes(bytes(data))
    before = fingerprint()
    with pytest.raises(CommandError, match=f"{target} does not match its sha256"):
        restore(folder, "--yes")
    assert fingerprint() == before


@pytest.mark.django_db
def test_without_yes_end_of_input_or_another_answer_aborts(taken):
    before = fingerprint()
    for answer in ("", "y\n", "YES please\n"):
        with pytest.raises(CommandError, match="restore aborted: not confirmed"):
            restore(taken[0], stdin=answer)
    assert fingerprint() == before


@pytest.mark.django_db
def test_a_backup_of_newer_code_is_refused(taken, tmp_path):
    folder = copy_of(taken[0], tmp_path)
    manifest = json.loads((folder / backups.MANIFEST).read_text())
    manifest["migrations"]["ops"].append("0099_from_the_future")
    (folder / backups.MANIFEST).write_text(json.dumps(manifest))
    before = fingerprint()
    with pytest.raises(CommandError, match=r"migrations this code does not have.*ops.0099_from_"):
        restore(folder, "--yes")
    assert fingerprint() == before


@pytest.mark.django_db
def test_a_pg_dump_older_than_the_server_is_refused_leaving_no_folder(tmp_path, monkeypatch):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (tools / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(CommandError, match=r"PostgreSQL 9, older than the server \(PostgreSQL 1"):
        call_command("backup", "--dir", str(tmp_path / "out"), stdout=StringIO())
    assert not (tmp_path / "out").exists()


@pytest.mark.django_db(transaction=True)
def test_drop_the_pms_tables_then_restore_brings_every_row_back(taken, tmp_path):
    folder, before = taken
    assert fingerprint() == before  # the committed desk, untouched by the refusals
    cache.set("book:stale", "from before the restore")
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in backups.csv_tables():
            if table.split("_")[0] in backups.PMS_APPS:
                cursor.execute(f"DROP TABLE {qn(table)} CASCADE")

    # A backup of a broken database fails naming why, and leaves no folder behind.
    with pytest.raises(CommandError, match=r"tables missing.*portfolio_position"):
        call_command("backup", "--dir", str(tmp_path), stdout=StringIO())
    assert list(tmp_path.iterdir()) == []

    out = restore(folder, "--yes")
    assert fingerprint() == before
    assert cache.get("book:stale") is None
    assert f"row counts of all {len(before)} tables match the manifest" in out

    # A row count that differs from the manifest after the restore exits non-zero naming it.
    wrong = copy_of(folder, tmp_path)
    manifest = json.loads((wrong / backups.MANIFEST).read_text())
    manifest["tables"]["portfolio_position"] += 1
    (wrong / backups.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="portfolio_position 3 expected, 2 found"):
        restore(wrong, "--yes")
