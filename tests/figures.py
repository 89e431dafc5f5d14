"""The reliability tests' figures: ``logs/reliability/<name>.json`` (git-ignored), read into
docs/RELIABILITY.md, and printed (``pytest -s`` or ``-rP`` shows them)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

FIGURES_DIR = Path(__file__).resolve().parent.parent / "logs" / "reliability"


def write_figures(name: str, data: dict, hidden: tuple[str, ...] = ()) -> Path:
    """Writes ``data`` with the test's name and time; prints it without the ``hidden`` keys
    (long per-day lists, say)."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / f"{name}.json"
    data = {"test": name, "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **data}
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    shown = {key: value for key, value in data.items() if key not in hidden}
    print(f"\n{name} figures ({path}):\n{json.dumps(shown, indent=2, default=str)}")
    return path
