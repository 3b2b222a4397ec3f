"""The admin site: open to system administrators and program managers, by role.

``is_staff`` opens nothing here; ``permissions.admin_access`` decides, so an analyst or
auditor flagged as staff (or even as superuser) is still refused.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from permissions.admin_access import may_use_admin

__all__ = ["AdminLoginForm", "TipGraphAdminSite"]


class AdminLoginForm(AdminAuthenticationForm):
    """The admin sign-in form: the role decides, not ``is_staff``."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s and password of a system administrator or "
            "program manager account. Note that both fields may be case-sensitive."
        ),
    }

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # active accounts only
        if not may_use_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class TipGraphAdminSite(admin.AdminSite):
    site_header = "Tip platform administration"
    site_title = "Tip platform administration"
    index_title = "Accounts, access approvals and sign-in lockouts"
    login_form = AdminLoginForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_admin(request.user)
