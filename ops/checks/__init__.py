"""The checks of ``manage.py verify`` (SPEC §9), one module per group, run in this order."""

from __future__ import annotations

from . import config, docs, domain, infra, integrity  # noqa: F401  (registration)
from .base import FAIL, PASS, REGISTRY, WARN, CheckResult, run_one


def run_checks(*, production: bool) -> list[CheckResult]:
    """Every registered check; ``production`` makes the advisory ones failures (see ``base``)."""
    order = {"configuration": 0, "database": 1, "cache": 2, "broker": 3, "schedules": 4}
    order |= {"services": 5, "integrity": 6, "docs": 7}
    items = sorted(REGISTRY, key=lambda c: order.get(c.group, len(order)))
    return [run_one(item, production=production) for item in items]


__all__ = ["FAIL", "PASS", "WARN", "CheckResult", "run_checks"]
