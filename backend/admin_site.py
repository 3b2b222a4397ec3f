"""The admin site: open to system administrators and program managers whose accounts may act.

``is_staff`` opens nothing here; the one gate, ``permissions.gate.check_access`` with the
``ADMIN_SITE`` door, decides, so an analyst or auditor flagged as staff (or even as
superuser) is still refused, and so is an administrator whose account may not act (locked
out, an access-lifecycle step missing, training lapsed): every admin page then answers 403
with the reasons instead of showing anything, the audit log included. Other roles are sent to
the sign-in form, as Django's admin does.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from permissions.admin_access import may_use_admin
from permissions.gate import ADMIN_SITE, Decision, check_access

__all__ = ["AdminLoginForm", "TipGraphAdminSite"]


class AdminLoginForm(AdminAuthenticationForm):
    """The admin sign-in form: the role decides, not ``is_staff``; an administrator whose
    account may not act is told why."""

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
        decision = check_access(user, ADMIN_SITE)
        if not decision.allowed:
            raise ValidationError(
                f"{decision.message} ({', '.join(decision.codes)})", code="access_refused"
            )


class TipGraphAdminSite(admin.AdminSite):
    site_header = "Tip platform administration"
    site_title = "Tip platform administration"
    index_title = "Accounts, access approvals and sign-in lockouts"
    login_form = AdminLoginForm

    def access(self, request: HttpRequest) -> Decision:
        """The gate's decision for the caller of ``request`` (asked once per request and
        account)."""
        user = request.user
        cached = getattr(request, "_admin_access", None)
        if cached is not None and cached[0] == user.pk:
            return cached[1]
        decision = check_access(user, ADMIN_SITE)
        request._admin_access = (user.pk, decision)  # type: ignore[attr-defined]
        return decision

    def has_permission(self, request: HttpRequest) -> bool:
        return self.access(request).allowed

    def admin_view(self, view: Callable[..., Any], cacheable: bool = False) -> Callable[..., Any]:
        """Every admin page, behind the gate: an administrator whose account may not act gets
        a 403 page with the reasons (nothing of the page it asked for); anyone else refused is
        sent to the sign-in form, as usual."""
        guarded = super().admin_view(view, cacheable)

        def gate(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            decision = self.access(request)
            if not decision.allowed and may_use_admin(request.user):
                return self.access_refused(request, decision)
            return guarded(request, *args, **kwargs)

        return update_wrapper(never_cache(gate), view)

    def access_refused(self, request: HttpRequest, decision: Decision) -> HttpResponse:
        """The 403 page: every reason and its code, and a way to sign out."""
        context = {
            "site_title": self.site_title,
            "site_header": self.site_header,
            "site_url": self.site_url,
            "title": "Administration not available",
            "has_permission": False,
            "is_nav_sidebar_enabled": False,
            "available_apps": [],
            "is_popup": False,
            "decision": decision,
        }
        response = TemplateResponse(request, "admin/access_refused.html", context, status=403)
        return response.render()
