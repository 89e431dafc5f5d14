"""The documentation names only what exists: commands, make targets, URLs and files.

An operator at 06:00 or during an outage copies the command from the runbook; a name that was
renamed or never merged costs minutes when they matter most. So every name written as code in
README.md and docs/*.md (inline `code` and fenced blocks: prose is not checked, so "make sure"
is not a target) is checked against the project itself:

- ``manage.py <command>`` (any prefix: ``python``, ``.venv/bin/python``) is in Django's
  ``get_commands()``;
- ``make <target>`` is a target of the Makefile;
- a path starting with ``/`` resolves in the URLconf, its ``{id}``/``{date}``-style placeholders
  substituted and its query string dropped; a path ending in ``/`` that is the prefix of an
  ``include()``d URLconf (``/api/portfolio/``) names that group of routes and is accepted too;
- a file path under one of the project's own folders (``scripts/``, ``docs/``, ``bench/``, …)
  exists;
- the go-live checklist has at least 50 items and the DR playbook at least 5 scenarios, each with
  its detection, RTO/RPO and steps.

No database or cache is touched: the checks read files, the command registry and the URLconf.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import get_commands
from django.urls import URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
MANAGE = re.compile(r"(?:^|[\s/])manage\.py[ \t]+([a-z][a-z0-9_]*)")
MAKE = re.compile(r"(?:^|[\s;&|(])make[ \t]+([a-z][\w-]*)")
COMMENT = re.compile(r"(?:^|[ \t])#[ \t].*$", re.M)
URL = re.compile(r"^/[\w\-./{}<>?=&%]*$")
# Folders of the repository whose files the docs name (runtime folders such as logs/, var/ and
# backups/ are created by the commands and are not checked).
FILE_DIRS = ("scripts", "docs", "bench", "tests", "ops", "pms_project")
FILE = re.compile(r"^(?:" + "|".join(FILE_DIRS) + r")/[\w\-./]*$")
PLACEHOLDER = re.compile(r"\{(\w+)\}|<(\w+)>")
PLACEHOLDER_VALUES = {"date": "2026-12-01", "ts": "20261201T060000Z"}


def code_snippets(text: str) -> list[str]:
    """Fenced blocks (without their shell comments, which are prose) and inline code spans: the
    text an operator copies."""
    blocks = [COMMENT.sub("", block) for block in FENCE.findall(text)]
    rest = FENCE.sub("", text)
    return blocks + INLINE.findall(rest)


def named(pattern: re.Pattern) -> list[tuple[str, str]]:
    """(doc file, name) for every match of ``pattern`` in the docs' code."""
    found = set()
    for doc in DOCS:
        for snippet in code_snippets(doc.read_text()):
            for match in pattern.finditer(snippet):
                found.add((doc.name, match.group(1)))
    return sorted(found)


def tokens(predicate) -> list[tuple[str, str]]:
    found = set()
    for doc in DOCS:
        for snippet in code_snippets(doc.read_text()):
            for word in snippet.split():
                word = word.strip("()[],;:'\"")
                if predicate(word):
                    found.add((doc.name, word))
    return sorted(found)


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.M))


def include_prefixes() -> set[str]:
    return {
        "/" + str(entry.pattern)
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and str(entry.pattern)
    }


def concrete(path: str) -> str:
    path = path.split("?", 1)[0]
    return PLACEHOLDER.sub(lambda m: PLACEHOLDER_VALUES.get(m.group(1) or m.group(2), "1"), path)


def test_docs_exist_and_are_read():
    names = {doc.name for doc in DOCS}
    for required in ("GOLIVE_CHECKLIST.md", "OPERATIONAL_RUNBOOK.md", "DR_PLAYBOOK.md"):
        assert required in names, f"docs/{required} is missing"
    # The scanners find what the docs name, so an empty result is a broken scanner, not a pass.
    assert len(named(MANAGE)) >= 15
    assert len(named(MAKE)) >= 5


@pytest.mark.parametrize(("doc", "command"), named(MANAGE))
def test_manage_commands_exist(doc, command):
    assert command in get_commands(), f"{doc} names `manage.py {command}`, which does not exist"


@pytest.mark.parametrize(("doc", "target"), named(MAKE))
def test_make_targets_exist(doc, target):
    assert target in make_targets(), f"{doc} names `make {target}`, not a target of the Makefile"


@pytest.mark.parametrize(("doc", "path"), tokens(URL.match))
def test_url_paths_resolve(doc, path):
    url = concrete(path)
    if url.endswith("/") and any(prefix.startswith(url) for prefix in include_prefixes()):
        return  # a group of routes, e.g. "every answer under /api/"
    try:
        resolve(url)
    except Resolver404:
        pytest.fail(f"{doc} names `{path}`, which resolves to no view (tried {url})")


@pytest.mark.parametrize(("doc", "path"), tokens(FILE.match))
def test_file_paths_exist(doc, path):
    assert (ROOT / path).exists(), f"{doc} names `{path}`, which does not exist"


def test_golive_checklist_has_50_items_under_its_headings():
    text = (ROOT / "docs" / "GOLIVE_CHECKLIST.md").read_text()
    items = re.findall(r"^- \[ \] \S", text, re.M)
    assert len(items) >= 50, f"{len(items)} checklist items, at least 50 expected"
    headings = [h.lower() for h in re.findall(r"^## (.+)$", text, re.M)]
    for section in ("infrastructure", "configuration", "data", "workflow", "backups", "monitoring"):
        assert any(section in heading for heading in headings), f"no '{section}' heading"
    # Every section carries items, not just its title.
    for body in re.split(r"^## .+$", text, flags=re.M)[1:]:
        assert re.search(r"^- \[ \] \S", body, re.M), "a checklist section without items"


def test_dr_playbook_has_5_scenarios_with_detection_rto_rpo_and_steps():
    text = (ROOT / "docs" / "DR_PLAYBOOK.md").read_text()
    sections = re.split(r"^## ", text, flags=re.M)[1:]
    scenarios = [s for s in sections if "Detection" in s]
    assert len(scenarios) >= 5, f"{len(scenarios)} scenarios, at least 5 expected"
    for body in scenarios:
        title = body.splitlines()[0]
        for part in ("Detection", "RTO", "RPO", "Steps"):
            assert part in body, f"scenario '{title}' has no {part}"
    assert "manage.py restore" in text and "manage.py run_pipeline" in text


def test_every_alert_names_a_section_of_the_runbook_that_exists():
    import yaml

    rules = yaml.safe_load((ROOT / "ops" / "prometheus" / "alerts.yml").read_text())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    runbook = (ROOT / "docs" / "OPERATIONAL_RUNBOOK.md").read_text()
    headings = set(re.findall(r"^#{2,3} (.+)$", runbook, re.M))
    named = {
        alert["alert"]: re.findall(r'section\s+"([^"]+)"', alert["annotations"]["description"])
        for alert in alerts
    }
    assert len(named) >= 6
    for alert, sections in named.items():
        assert sections, f"{alert} names no runbook section"
        missing = [s for s in sections if s not in headings]
        assert not missing, f"{alert}: no section {missing} in OPERATIONAL_RUNBOOK.md"
