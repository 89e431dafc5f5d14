"""CSV reading shared by the imports (the commands and the price drop folder's ingest).

Errors are ``PMSError``s whose message names the line, so that the command, which prints it,
and the ingest, which writes it beside the rejected file, say the same thing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from pms_project.errors import PMSError

# What a file-level error (header, encoding, row shape) names as its field.
FILE_FIELD = "file"


def read_csv(
    path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row with stripped values) after checking the header.

    Unknown columns are refused rather than ignored: a misspelt ``multiplyer`` column silently
    defaulting every contract size to 1 would misstate exposure. A file that is not UTF-8 (a
    spreadsheet's "CSV (Windows)" export) is refused as a whole: guessing its encoding could turn
    a symbol into another one.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise PMSError(f"cannot read {path}: {exc.strerror}", field=FILE_FIELD) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [(name or "").strip() for name in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in required if c not in header]
            if missing:
                raise PMSError(f"line 1: missing column(s) {', '.join(missing)}", field=FILE_FIELD)
            unknown = [c for c in header if c not in required and c not in optional]
            if unknown:
                expected = ", ".join(required + optional)
                raise PMSError(
                    f"line 1: unknown column(s) {', '.join(unknown)} ({expected})",
                    field=FILE_FIELD,
                )
            for row in reader:
                if None in row:
                    raise PMSError(
                        f"line {reader.line_num}: more values than columns", field=FILE_FIELD
                    )
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}
        except UnicodeDecodeError as exc:
            # The decoder works on blocks, so its position is not a line: name the byte only.
            byte = exc.object[exc.start : exc.start + 1].hex()
            raise PMSError(
                f"the file is not UTF-8 text (byte 0x{byte} after line {reader.line_num})",
                field=FILE_FIELD,
            ) from None
        except csv.Error as exc:
            raise PMSError(f"line {reader.line_num}: {exc}", field=FILE_FIELD) from None
