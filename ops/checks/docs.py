"""The operator's documents (SPEC §9): present, with a minimum of substance.

They are read from ``settings.PMS_DOCS_ROOT`` (the project folder; a test points it elsewhere).
The thresholds are SPEC §9's: ≥ 50 checklist items, ≥ 5 disaster scenarios, a runbook from
06:00 to 17:30 plus the weekly tasks.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from .base import check

GROUP = "docs"
MIN_CHECKLIST_ITEMS = 50
MIN_DR_SCENARIOS = 5
# A README or architecture note with fewer sections than this is a stub.
MIN_SECTIONS = 3

_CHECKBOX = re.compile(r"^\s*[-*] \[[ xX]\] \S", re.MULTILINE)
_SECTION = re.compile(r"^## \S", re.MULTILINE)


def _read(relative: str) -> tuple[str | None, str]:
    path = Path(settings.PMS_DOCS_ROOT) / relative
    if not path.is_file():
        return None, f"{relative} missing"
    return path.read_text(encoding="utf-8", errors="replace"), relative


def _sections(relative: str) -> tuple[bool, str]:
    text, where = _read(relative)
    if text is None:
        return False, where
    n = len(_SECTION.findall(text))
    return n >= MIN_SECTIONS, f"{where}: {n} sections (≥ {MIN_SECTIONS})"


@check("doc_readme", GROUP)
def doc_readme() -> tuple[bool, str]:
    return _sections("README.md")


@check("doc_architecture", GROUP)
def doc_architecture() -> tuple[bool, str]:
    return _sections("docs/ARCHITECTURE.md")


@check("doc_golive_checklist", GROUP)
def doc_golive_checklist() -> tuple[bool, str]:
    text, where = _read("docs/GOLIVE_CHECKLIST.md")
    if text is None:
        return False, where
    n = len(_CHECKBOX.findall(text))
    return n >= MIN_CHECKLIST_ITEMS, f"{where}: {n} checklist items (≥ {MIN_CHECKLIST_ITEMS})"


@check("doc_runbook", GROUP)
def doc_runbook() -> tuple[bool, str]:
    text, where = _read("docs/OPERATIONAL_RUNBOOK.md")
    if text is None:
        return False, where
    missing = [word for word in ("06:00", "17:30", "weekly") if word not in text.lower()]
    if missing:
        return False, f"{where}: no mention of {', '.join(missing)}"
    return True, f"{where}: 06:00 to 17:30 and weekly"


@check("doc_dr_playbook", GROUP)
def doc_dr_playbook() -> tuple[bool, str]:
    text, where = _read("docs/DR_PLAYBOOK.md")
    if text is None:
        return False, where
    n = len(_SECTION.findall(text))
    named = "restore" in text
    detail = (
        f"{where}: {n} scenarios (≥ {MIN_DR_SCENARIOS}), `restore` {'' if named else 'not '}named"
    )
    return n >= MIN_DR_SCENARIOS and named, detail
