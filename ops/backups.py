"""Backups of the PMS database and their restore (SPEC §9): what ``backup`` and ``restore`` do.

A backup is a folder ``<UTC timestamp>/`` holding

- ``database.dump``: ``pg_dump -Fc`` of the whole database — what ``restore`` loads;
- ``csv/<table>.csv``: each PMS table (the apps portfolio, trades, risk, attribution, briefing and
  ops), plus the accounts their rows name (proposers, approvers, audit actors): users, groups,
  their memberships, permissions (and the content types these point at) and API tokens — a
  closed set readable without PostgreSQL;
- ``manifest.json``: the row count of every table of the database, the sha256 of every file, the
  applied migrations per app (as ``django_migrations`` has them), the app version, the UTC time
  and the database name.

The dump, the counts and the CSVs come from one snapshot: the counts and CSVs are read in a
repeatable-read transaction whose snapshot ``pg_dump --snapshot`` shares, so a write committed
meanwhile (a pipeline run) is in none of them, never in one and not the others.

The folder is written under a hidden ``.<timestamp>.partial-*`` name and renamed when complete:
a backup that failed half-way leaves nothing that looks like a backup.

The client tools run with the connection's parameters in ``PG*`` variables (the password never
on a command line). They must be at least the server's major version (``pg_dump`` refuses a newer
server; an older ``pg_restore`` may not read a newer dump): for the embedded PostgreSQL, its own
binaries; else those on ``PATH``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

import pms_project

DUMP = "database.dump"
MANIFEST = "manifest.json"
CSV_DIR = "csv"
FORMAT = 1  # the manifest's layout; a restore refuses one it does not know
PMS_APPS = ("portfolio", "trades", "risk", "attribution", "briefing", "ops")
# Who the PMS rows name (proposers, approvers, audit actors), what they may do, how they log in.
ACCOUNT_MODELS = (
    "auth.User",
    "auth.Group",
    "auth.Permission",
    "contenttypes.ContentType",
    "authtoken.Token",
)
# The OPTIONS of a Django PostgreSQL connection that libpq also takes from the environment.
_LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "passfile": "PGPASSFILE",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


class BackupError(Exception):
    """What makes a backup or a restore impossible; the command exits 1 with this message."""


@dataclass(frozen=True)
class Verified:
    """A backup folder whose files match its manifest."""

    folder: Path
    manifest: dict
    unapplied: list[str]  # migrations of the code the backup predates ("app.name")


# --- The connection and the client tools --------------------------------------------------------


def client_env() -> dict[str, str]:
    """The environment of pg_dump / pg_restore: the connection's parameters as libpq variables.

    Inherited ``PG*`` variables are dropped so that none points the tool at another database.
    """
    params = connection.settings_dict
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, variable in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
        ("NAME", "PGDATABASE"),
    ):
        if params.get(key):
            env[variable] = str(params[key])
    for option, variable in _LIBPQ_OPTIONS.items():
        value = (params.get("OPTIONS") or {}).get(option)
        if value not in (None, ""):
            env[variable] = str(value)
    return env


def server_major() -> int:
    connection.ensure_connection()
    return connection.pg_version // 10000  # 150020 → 15 (PostgreSQL ≥ 10)


def client_tool(name: str) -> Path:
    """``pg_dump`` or ``pg_restore`` for this server: the embedded installation's own when the
    database is the embedded one, else the one on PATH; refused when older than the server."""
    from pms_project import embedded_pg

    major = server_major()
    params = connection.settings_dict
    if embedded_pg.serves(params.get("HOST") or "", params.get("PORT")):
        tool = embedded_pg.bin_dir(major) / name
        where = f"the embedded PostgreSQL's {tool}"
    else:
        found = shutil.which(name)
        if found is None:
            raise BackupError(
                f"{name}: not found on PATH (install the PostgreSQL {major} client tools)"
            )
        tool, where = Path(found), found
    try:
        version = subprocess.run(
            [str(tool), "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BackupError(f"{name}: {where} does not run ({exc})") from exc
    found_version = re.search(r"\)\s+(\d+)", version)
    if found_version is None:
        raise BackupError(f"{name}: cannot read the version of {where} ({version.strip()!r})")
    if int(found_version.group(1)) < major:
        raise BackupError(
            f"{name}: {where} is PostgreSQL {found_version.group(1)}, older than the server "
            f"(PostgreSQL {major}); install the PostgreSQL {major} client tools"
        )
    return tool


def _run(tool: Path, args: list[str]) -> None:
    result = subprocess.run(
        [str(tool), *args], env=client_env(), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise BackupError(f"{tool.name} failed: {detail}")


# --- What a backup holds ------------------------------------------------------------------------


def csv_tables() -> dict[str, str]:
    """{table: primary key column} of the PMS tables and the account tables, in a stable order
    (many-to-many link tables included)."""
    models = [m for label in PMS_APPS for m in apps.get_app_config(label).get_models()]
    models += [apps.get_model(label) for label in ACCOUNT_MODELS]
    tables: dict[str, str] = {}
    for model in models:
        tables[model._meta.db_table] = model._meta.pk.column
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created:
                tables[through._meta.db_table] = through._meta.pk.column
    return tables


def row_counts() -> dict[str, int]:
    """Every table of the database (what the dump holds) and its number of rows."""
    with connection.cursor() as cursor:
        tables = sorted(connection.introspection.table_names(cursor))
        if not tables:
            return {}
        qn = connection.ops.quote_name
        cursor.execute(
            " UNION ALL ".join(f"SELECT %s, count(*) FROM {qn(table)}" for table in tables),
            tables,
        )
        return dict(cursor.fetchall())


def applied_migrations() -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, id")
        applied: dict[str, list[str]] = {}
        for app, name in cursor.fetchall():
            applied.setdefault(app, []).append(name)
        return applied


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_csv(folder: Path, table: str, pk: str) -> None:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor, (folder / f"{table}.csv").open("wb") as out:
        query = f"COPY (SELECT * FROM {qn(table)} ORDER BY {qn(pk)}) TO STDOUT (FORMAT csv, HEADER)"
        with cursor.cursor.copy(query) as copy:
            for block in copy:
                out.write(block)


# --- backup -------------------------------------------------------------------------------------


def backup_create(*, parent: Path, now: dt.datetime | None = None) -> tuple[Path, dict]:
    """Write a backup into ``parent/<UTC timestamp>/``; returns (its folder, its manifest)."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    pg_dump = client_tool("pg_dump")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"dir: cannot create {parent} ({exc.strerror})") from exc
    final = parent / stamp
    if final.exists():
        raise BackupError(f"dir: {final} already exists (one backup per second at most)")
    work = Path(tempfile.mkdtemp(prefix=f".{stamp}.partial-", dir=parent))
    try:
        manifest = _write_backup(work, pg_dump, now)
        os.rename(work, final)  # the last step: a complete folder appears at once, or none
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, manifest


def _write_backup(work: Path, pg_dump: Path, now: dt.datetime) -> dict:
    (work / CSV_DIR).mkdir()
    tables = csv_tables()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        # pg_dump reads the snapshot exported above, which lives as long as this transaction.
        _run(pg_dump, ["--format=custom", f"--snapshot={snapshot}", f"--file={work / DUMP}"])
        counts = row_counts()
        missing = sorted(set(tables) - set(counts))
        if missing:
            raise BackupError(f"database: tables missing (run migrate first): {', '.join(missing)}")
        for table, pk in tables.items():
            _write_csv(work / CSV_DIR, table, pk)
        migrations = applied_migrations()
    files = [DUMP] + [f"{CSV_DIR}/{table}.csv" for table in tables]
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat().replace("+00:00", "Z"),
        "database": connection.settings_dict["NAME"],
        "server_version": connection.pg_version,
        "app_version": pms_project.__version__,
        "migrations": migrations,
        "tables": counts,
        "csv_tables": list(tables),
        "files": {name: sha256(work / name) for name in files},
    }
    (work / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return manifest


# --- restore ------------------------------------------------------------------------------------


def backup_verify(folder: Path) -> Verified:
    """Check a backup before anything is touched: its manifest, every file's sha256, and that
    the code has every migration it was taken with (a newer schema cannot be restored under
    older code)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise BackupError(f"dir: {folder} has no {MANIFEST} (not a backup)") from exc
    except (OSError, ValueError) as exc:
        raise BackupError(f"{MANIFEST}: unreadable ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{MANIFEST}: not a backup manifest of format {FORMAT}")
    files = manifest.get("files") or {}
    if DUMP not in files:
        raise BackupError(f"{MANIFEST}: names no {DUMP}")
    problems = []
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif sha256(path) != expected:
            problems.append(f"{name} does not match its sha256 (changed since the backup)")
    if problems:
        raise BackupError("backup refused: " + "; ".join(problems))
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    applied = {
        (app, name) for app, names in (manifest.get("migrations") or {}).items() for name in names
    }
    newer = sorted(f"{app}.{name}" for app, name in applied - on_disk)
    if newer:
        raise BackupError(
            "backup refused: taken with migrations this code does not have (newer code): "
            + ", ".join(newer)
        )
    unapplied = sorted(f"{app}.{name}" for app, name in on_disk - applied)
    return Verified(folder=folder, manifest=manifest, unapplied=unapplied)


def backup_restore(verified: Verified) -> dict[str, tuple[int, int]]:
    """Load the dump into the database, all or nothing, then clear the cache; returns
    {table: (expected, found)} for every table whose row count differs from the manifest."""
    from django.core.cache import cache

    pg_restore = client_tool("pg_restore")
    # Our own session must hold nothing the restore's DROPs would wait for.
    connection.close()
    _run(
        pg_restore,
        [
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            f"--dbname={connection.settings_dict['NAME']}",
            str(verified.folder / DUMP),
        ],
    )
    cache.clear()  # nothing cached from the replaced rows may be served
    found = row_counts()
    return {
        table: (expected, found.get(table, -1))
        for table, expected in verified.manifest["tables"].items()
        if found.get(table, -1) != expected
    }
