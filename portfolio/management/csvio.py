"""The import commands' view of ``portfolio.csvio``: the same reader, its errors as
``CommandError`` (exit 1) with the same message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import CommandError

from pms_project.errors import PMSError
from portfolio import csvio


def read_csv(
    path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        yield from csvio.read_csv(path, required, optional)
    except PMSError as exc:
        raise CommandError(exc.message) from exc
