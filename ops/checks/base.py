"""The registry of ``verify``'s checks and how one is run.

A check is a function of no argument returning ``(ok, detail)``: it reads the running system
(settings, database, cache, broker, files) and says in one line what it found. Registered with
``@check(name, group)`` in the group's module; ``run_checks`` runs them in registration order and
turns an exception into a failure naming it, so one broken component never hides the others.

Severity. A check registered with ``advisory_in_dev=True`` (the ``check --deploy`` essentials,
a missing broker) is a *warning* that does not fail the run on a development system — the
embedded demo (`make run`, ``DJANGO_DEBUG=true``) has no TLS, no broker and a development key by
design — and a failure everywhere else: ``settings.DEBUG`` off (production settings) or
``verify --strict``. Every other check fails whatever the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CheckFn = Callable[[], tuple[bool, str]]

PASS, FAIL, WARN = "PASS", "FAIL", "WARN"


@dataclass(frozen=True)
class Check:
    name: str
    group: str
    fn: CheckFn
    advisory_in_dev: bool = False


@dataclass(frozen=True)
class CheckResult:
    name: str
    group: str
    ok: bool
    detail: str
    # "error": a failure fails the run; "warning": reported, the run still passes.
    level: str = "error"

    @property
    def status(self) -> str:
        if self.ok:
            return PASS
        return FAIL if self.level == "error" else WARN

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "ok": self.ok,
            "level": self.level,
            "detail": self.detail,
        }


REGISTRY: list[Check] = []


def check(name: str, group: str, *, advisory_in_dev: bool = False) -> Callable[[CheckFn], CheckFn]:
    def decorator(fn: CheckFn) -> CheckFn:
        if any(c.name == name for c in REGISTRY):
            raise ValueError(f"a check named {name!r} is already registered")
        REGISTRY.append(Check(name, group, fn, advisory_in_dev))
        return fn

    return decorator


def run_one(item: Check, *, production: bool) -> CheckResult:
    try:
        ok, detail = item.fn()
    except Exception as exc:  # a check that cannot run is a failure that names why
        ok, detail = False, f"{type(exc).__name__}: {exc}".strip()
    level = "warning" if item.advisory_in_dev and not production else "error"
    return CheckResult(item.name, item.group, bool(ok), " ".join(str(detail).split()), level)
