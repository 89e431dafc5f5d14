"""Desk roles for the API.

Groups (created by a migration): viewer reads; trader also writes book data. Superusers may do
everything. A view narrows who may write with ``write_groups`` (default: trader).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

READ_GROUPS = frozenset({"viewer", "trader", "approver", "risk"})


def user_groups(user) -> frozenset[str]:
    cached = getattr(user, "_pms_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._pms_groups = cached
    return cached


def may_read(user) -> bool:
    """Any desk role (or staff, or a superuser) reads: the API's GETs and the desk's pages."""
    return bool(
        user
        and user.is_authenticated
        and (user.is_superuser or user.is_staff or user_groups(user) & READ_GROUPS)
    )


class DeskRolePermission(BasePermission):
    message = "your role does not allow this action"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        if request.method in SAFE_METHODS:
            return may_read(user)
        groups = user_groups(user)
        write_groups = getattr(view, "write_groups", frozenset({"trader"}))
        if getattr(view, "staff_may_write", False) and user.is_staff:
            return True
        return bool(groups & write_groups)
