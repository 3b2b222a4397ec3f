"""Who may use the Django admin, and what each role may do there.

The admin manages accounts. Only system administrators and program managers may open it,
whatever their ``is_staff`` flag; the other roles are refused even with it. Their Django
model permissions come from their role (``RoleAdminBackend``), not from groups set by hand:

- system administrators manage accounts and API tokens, read the sign-in logs and the audit
  log, and unlock accounts by deleting the lockout (an "access attempt" of django-axes);
- program managers read accounts and sign-in lockouts; they act on accounts through the
  admin actions only.

The admin actions on accounts are split the same way: a system administrator records the
compliance review, the program manager gives final approval, and either records a privilege
review or deactivates an account. Nobody applies them to their own account, and nobody edits
their own role, access-lifecycle dates, approvals or training (``SELF_PROTECTED_FIELDS``):
recording any of them needs another person.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.backends import BaseBackend

from backend.models import Role
from permissions.gate import ADMIN_SITE, role_allows

__all__ = [
    "ACCOUNT_REVIEWERS",
    "ADMIN_PERMISSIONS",
    "ADMIN_SITE_ROLES",
    "COMPLIANCE_REVIEWERS",
    "FINAL_APPROVERS",
    "LIFECYCLE_FIELDS",
    "SELF_PROTECTED_FIELDS",
    "RoleAdminBackend",
    "has_role",
    "may_use_admin",
    "self_granted",
]

SA, PM = Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER

#: Roles that may open the admin site (the admin's door in the one gate, ``permissions.gate``).
ADMIN_SITE_ROLES: frozenset[str] = ADMIN_SITE.roles
#: Record the compliance review of an account (a step of the access lifecycle).
COMPLIANCE_REVIEWERS: frozenset[str] = frozenset({SA})
#: Give an account final approval (after the compliance review).
FINAL_APPROVERS: frozenset[str] = frozenset({PM})
#: Record a privilege review of an account, or deactivate it.
ACCOUNT_REVIEWERS: frozenset[str] = frozenset({SA, PM})

#: The fields of an account its owner never changes, in the admin or anywhere else: what it
#: may do (role, agency, office, active, staff, superuser, groups, permissions), every step of
#: the access lifecycle and who took it, the training and who recorded it, the privilege
#: review. Another person records them; the admin shows them read-only on one's own account
#: and refuses a save that changes them.
#: The steps of the access lifecycle, who took them, and the privilege review, in PIA order.
LIFECYCLE_FIELDS: tuple[str, ...] = (
    "nominated_by",
    "nominated_at",
    "certified_at",
    "compliance_reviewed_at",
    "compliance_reviewed_by",
    "approved_at",
    "approved_by",
    "rules_accepted_at",
    "annual_training_at",
    "annual_training_recorded_by",
    "privileges_reviewed_at",
)
SELF_PROTECTED_FIELDS: tuple[str, ...] = (
    "role",
    "agency",
    "office",
    "is_active",
    "is_staff",
    "is_superuser",
    "groups",
    "user_permissions",
    *LIFECYCLE_FIELDS,
)

_SIGN_IN_LOGS = frozenset({"axes.view_accessattempt", "axes.view_accesslog"})

#: The Django model permissions each admin role holds ("app_label.codename").
ADMIN_PERMISSIONS: dict[str, frozenset[str]] = {
    SA: frozenset(
        {
            "backend.view_user",
            "backend.add_user",
            "backend.change_user",
            "backend.view_apitoken",
            "backend.change_apitoken",
            "axes.delete_accessattempt",
            "axes.view_accessfailurelog",
            "audit.view_auditevent",
            "audit.view_recordchange",
        }
    )
    | _SIGN_IN_LOGS,
    PM: frozenset({"backend.view_user"}) | _SIGN_IN_LOGS,
}


def may_use_admin(user: Any) -> bool:
    """Whether ``user``'s role opens the admin site (signed in, active, system administrator or
    program manager). The role alone: the site itself also asks the whole gate
    (``backend.admin_site``), which refuses, with the reasons, an account that may not act."""
    return has_role(user, ADMIN_SITE_ROLES)


def has_role(user: Any, roles: frozenset[str]) -> bool:
    """Whether ``user`` is signed in, active, and has one of ``roles`` (the gate's role rule)."""
    return role_allows(user, roles)


def self_granted(editor: Any, account: Any, changed: Iterable[str]) -> list[str]:
    """The protected fields among ``changed`` when ``editor`` changes its own ``account``
    (empty when the account is another's, or nothing protected changed)."""
    if editor is None or account is None or account.pk is None or editor.pk != account.pk:
        return []
    return [name for name in changed if name in SELF_PROTECTED_FIELDS]


class RoleAdminBackend(BaseBackend):
    """Grants ``ADMIN_PERMISSIONS`` by role. It never authenticates anyone."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not may_use_admin(user_obj):
            return set()
        return set(ADMIN_PERMISSIONS.get(user_obj.role, ()))

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_all_permissions(user_obj, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(p.startswith(f"{app_label}.") for p in self.get_all_permissions(user_obj))
