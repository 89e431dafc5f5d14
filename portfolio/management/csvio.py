"""CSV reading shared by the import commands."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import CommandError


def read_csv(
    path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row with stripped values) after checking the header.

    Shared by the import commands. Unknown columns are refused rather than ignored: a misspelt
    ``multiplyer`` column silently defaulting every contract size to 1 would misstate exposure.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
        header = [(name or "").strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [c for c in required if c not in header]
        if missing:
            raise CommandError(f"line 1: missing column(s) {', '.join(missing)}")
        unknown = [c for c in header if c not in required and c not in optional]
        if unknown:
            expected = ", ".join(required + optional)
            raise CommandError(f"line 1: unknown column(s) {', '.join(unknown)} ({expected})")
        for row in reader:
            if None in row:
                raise CommandError(f"line {reader.line_num}: more values than columns")
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
