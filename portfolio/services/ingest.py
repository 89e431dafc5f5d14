"""The daily price ingest: every complete CSV file of closes dropped in a folder is loaded through
``prices_load_csv`` (the ``import_prices`` command's function) and moved aside.

The folder (``settings.PMS_PRICE_DROP_DIR``) holds three subfolders, created on demand:

- ``processing/``: a file being imported. It is claimed by an atomic ``os.rename`` before it is
  read, so a writer that reuses the name starts a new file, and a run that dies leaves it here,
  where the next run resumes it (loading closes is an upsert: loading a file twice changes
  nothing).
- ``processed/``: imported files, named ``<UTC timestamp>-<name>`` so that the same name dropped
  on two days never collides.
- ``rejected/``: files refused as a whole (nothing of them imported), each beside
  ``<timestamped name>.reason.txt`` naming the field and the problem.

A half-written file is never imported: ``*.part`` and ``*.tmp`` files and dotfiles (the
write-then-rename conventions of writers, rsync and scp) are ignored, and a file whose content or
metadata changed less than ``PMS_PRICE_DROP_SETTLE_SECONDS`` ago is left for the next run.

Two ingests never run at once: a PostgreSQL advisory lock serializes them (the later one waits,
then finds the files the first has moved gone), and it is also what makes a file left in
``processing/`` safely resumable — whoever holds the lock knows nobody else is reading it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection

from pms_project.errors import ConflictError, PMSError

from ..csvio import FILE_FIELD
from .price_csv import PricesLoaded, prices_load_csv

logger = logging.getLogger(__name__)

PROCESSING, PROCESSED, REJECTED = "processing", "processed", "rejected"
REASON_SUFFIX = ".reason.txt"
# Writers' conventions for a file not yet complete (``name.csv.part`` renamed when done).
_PARTIAL_SUFFIXES = (".part", ".tmp")
# pg_advisory_lock key of the ingest (any constant no other code uses: "PMSINGST" in ASCII).
_LOCK_KEY = 0x504D53494E475354
# A run takes seconds; one still holding the lock after this long is stuck, not busy.
LOCK_WAIT_SECONDS = 300.0
_LOCK_POLL_SECONDS = 0.2
# The database's fault, not the file's (a lost connection, a restart): the file stays in
# processing/ and the next run (the task's retry) resumes it.
_TRANSIENT = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class ImportedFile:
    name: str
    stored_as: str
    closes: int
    symbols: int
    first: dt.date
    last: dt.date


@dataclass(frozen=True)
class RejectedFile:
    name: str
    stored_as: str
    field: str
    message: str


@dataclass(frozen=True)
class SkippedFile:
    name: str
    reason: str


@dataclass
class IngestReport:
    folder: str
    imported: list[ImportedFile] = field(default_factory=list)
    rejected: list[RejectedFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-ready (ISO dates): what the Celery task returns."""
        data = asdict(self)
        for row in data["imported"]:
            row["first"], row["last"] = row["first"].isoformat(), row["last"].isoformat()
        return data


def ingest_drop_folder(folder: Path | None = None, *, user=None) -> IngestReport:
    """Import every complete ``*.csv`` file of ``folder`` (default the setting), oldest first,
    each in its own transaction, and move it to ``processed/`` or ``rejected/``.

    1. Take the ingest lock (wait for a concurrent run to finish).
    2. Resume the files a dead run left in ``processing/``.
    3. List the folder: ignore partial files, leave files changed within the settle time.
    4. For each file: claim it (rename into ``processing/``), load it, move it aside.

    A rejected file is reported, not raised: one bad file must not hold back the others. A
    transient database error is raised (the task retries) with the file still claimed.
    """
    folder = Path(folder) if folder is not None else Path(settings.PMS_PRICE_DROP_DIR)
    for sub in ("", PROCESSING, PROCESSED, REJECTED):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    report = IngestReport(folder=str(folder))
    with _ingest_lock():
        for claimed in _claimed_files(folder / PROCESSING):
            logger.warning("price ingest: resuming %s, left by a run that stopped", claimed.name)
            _ingest_claimed(claimed, _original_name(claimed.name), folder, report, user)
        for path in _complete_files(folder, report):
            stamped = f"{_utc_stamp()}-{path.name}"
            claimed = _free_path(folder / PROCESSING / stamped)
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                # Gone since the listing: renamed away by its writer, or deleted.
                logger.info("price ingest: %s disappeared before it was claimed", path.name)
                continue
            _ingest_claimed(claimed, path.name, folder, report, user)
    if not (report.imported or report.rejected or report.skipped):
        logger.info("price ingest: nothing in %s", folder)
    return report


# --- Steps ------------------------------------------------------------------------------------


def _complete_files(folder: Path, report: IngestReport) -> list[Path]:
    """The folder's ``*.csv`` files that are complete, oldest first; the others are reported as
    skipped with the reason."""
    settle = float(settings.PMS_PRICE_DROP_SETTLE_SECONDS)
    now = time.time()
    ready: list[tuple[float, str, Path]] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            continue  # processing/, processed/, rejected/ or someone's own folder
        reason = _ignored_because(name)
        if reason is None and not entry.is_file(follow_symlinks=False):
            reason = "not a regular file (a link or a device): ignored"
        if reason is None:
            try:
                stat = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # renamed away by its writer since the listing
            # ctime moves with every write, rename and metadata change, and unlike mtime no
            # writer can set it back (``cp -p`` and ``rsync -t`` restore an old mtime).
            age = now - max(stat.st_mtime, stat.st_ctime)
            if settle > 0 and age < settle:
                reason = (
                    f"changed {max(age, 0):.1f} s ago (settle time {settle:g} s): "
                    "left for the next run"
                )
        if reason is not None:
            report.skipped.append(SkippedFile(name=name, reason=reason))
            logger.info("price ingest: skipped %s: %s", name, reason)
            continue
        ready.append((stat.st_mtime, name, Path(entry.path)))
    return [path for _, _, path in sorted(ready)]


def _ignored_because(name: str) -> str | None:
    if name.startswith("."):
        return "hidden file (a writer's temporary name): ignored"
    lower = name.lower()
    for suffix in _PARTIAL_SUFFIXES:
        if lower.endswith(suffix):
            return f"partial file ({suffix}: still being written): ignored"
    if not lower.endswith(".csv"):
        return "not a .csv file: ignored"
    return None


def _ingest_claimed(claimed: Path, name: str, folder: Path, report: IngestReport, user) -> None:
    """Load one claimed file, then move it to processed/ or, refused, to rejected/."""
    try:
        loaded = prices_load_csv(claimed, user=user)
    except _TRANSIENT:
        logger.exception("price ingest: %s left in %s/ (database unavailable)", name, PROCESSING)
        raise
    except PMSError as exc:
        _reject(claimed, name, folder, report, exc.field, exc.message)
        return
    except Exception as exc:
        # No rule of ours, yet retrying would fail the same way (a value PostgreSQL refuses, a
        # read error, a bug) and hold back every later file: refuse it, loudly.
        logger.exception("price ingest: %s refused by an unexpected error", name)
        _reject(claimed, name, folder, report, FILE_FIELD, f"{type(exc).__name__}: {exc}")
        return
    stored = _move(claimed, folder / PROCESSED)
    report.imported.append(_imported(name, stored, folder, loaded))
    logger.info(
        "price ingest: %s imported, %d closes of %d symbols from %s to %s, stored as %s",
        name,
        loaded.closes,
        loaded.symbols,
        loaded.first,
        loaded.last,
        stored.relative_to(folder),
    )


def _reject(
    claimed: Path, name: str, folder: Path, report: IngestReport, field_: str, message: str
) -> None:
    target = _free_path(folder / REJECTED / claimed.name)
    # The reason first: a file in rejected/ always has its reason beside it.
    target.with_name(target.name + REASON_SUFFIX).write_text(
        f"file: {name}\nrejected at: {_utc_now().isoformat()}\nfield: {field_}\n"
        f"reason: {message}\nNothing of this file was imported.\n",
        encoding="utf-8",
    )
    os.rename(claimed, target)
    stored = str(target.relative_to(folder))
    report.rejected.append(RejectedFile(name=name, stored_as=stored, field=field_, message=message))
    logger.warning(
        "price ingest: %s rejected (%s: %s), stored as %s", name, field_, message, stored
    )


def _imported(name: str, stored: Path, folder: Path, loaded: PricesLoaded) -> ImportedFile:
    return ImportedFile(
        name=name,
        stored_as=str(stored.relative_to(folder)),
        closes=loaded.closes,
        symbols=loaded.symbols,
        first=loaded.first,
        last=loaded.last,
    )


# --- Helpers ----------------------------------------------------------------------------------


@contextmanager
def _ingest_lock() -> Iterator[None]:
    """A session-level advisory lock: it is held across the per-file transactions, and the
    server releases it if the process dies."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
            if cursor.fetchone()[0]:
                break
            if time.monotonic() >= deadline:
                raise ConflictError(
                    f"another price ingest has been running for over {LOCK_WAIT_SECONDS:g} s",
                    field="folder",
                )
            time.sleep(_LOCK_POLL_SECONDS)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        except DatabaseError:
            # The connection is gone, and with it the lock; do not hide the original error.
            logger.warning("price ingest: could not release the lock (connection lost)")


def _claimed_files(folder: Path) -> list[Path]:
    """The files of processing/ in the order they were claimed (the stamp leads the name)."""
    return sorted(Path(e.path) for e in os.scandir(folder) if e.is_file(follow_symlinks=False))


def _move(path: Path, folder: Path) -> Path:
    target = _free_path(folder / path.name)
    os.rename(path, target)
    return target


def _free_path(path: Path) -> Path:
    """``path``, or ``name-2.csv``, ``name-3.csv``…: ``os.rename`` would replace an existing
    file. Only the lock holder renames into the subfolders, so the check does not race."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc_stamp() -> str:
    # No "-" inside: the original name is whatever follows the first one.
    return _utc_now().strftime("%Y%m%dT%H%M%S.%fZ")


def _original_name(stamped: str) -> str:
    return stamped.split("-", 1)[1] if "-" in stamped else stamped
