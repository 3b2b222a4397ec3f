"""Django admin: account management and the access lifecycle for system administrators and
program managers (see ``permissions.admin_access`` for who may do what); API tokens; and
the graph, for superusers only (it bypasses the row scoping of the API).

Nobody grants themselves anything: on one's own account the role, the access-lifecycle dates
and approvals, the training and the access flags are read-only, a save that would change
them anyway is refused (``permissions.admin_access.SELF_PROTECTED_FIELDS``), and the actions
skip one's own account. Whoever records another account's training is kept with it
(``annual_training_recorded_by``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone

from backend import models as m
from permissions.admin_access import (
    ACCOUNT_REVIEWERS,
    COMPLIANCE_REVIEWERS,
    FINAL_APPROVERS,
    LIFECYCLE_FIELDS,
    SELF_PROTECTED_FIELDS,
    has_role,
    self_granted,
)
from permissions.lifecycle import access_problems, training_lapses_on

#: Fields only the admin actions (or the admin itself) set, so that every approval names who
#: gave it and every training who recorded it.
_ACTION_FIELDS = (
    "compliance_reviewed_at",
    "compliance_reviewed_by",
    "approved_at",
    "approved_by",
    "privileges_reviewed_at",
    "annual_training_recorded_by",
)
#: Fields that would let an account give itself more than its role.
_PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class LifecycleFilter(admin.SimpleListFilter):
    """Accounts waiting for a step of the access lifecycle."""

    title = "access lifecycle"
    parameter_name = "lifecycle"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("compliance", "Awaiting compliance review"),
            ("approval", "Awaiting final approval"),
            ("training", "Training lapsed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "compliance":
            return queryset.filter(compliance_reviewed_at__isnull=True)
        if self.value() == "approval":
            return queryset.filter(compliance_reviewed_at__isnull=False, approved_at__isnull=True)
        if self.value() == "training":
            cutoff = timezone.now() - dt.timedelta(days=settings.ANNUAL_TRAINING_DAYS)
            return queryset.filter(
                Q(annual_training_at__isnull=True) | Q(annual_training_at__lt=cutoff)
            )
        return queryset


@admin.register(m.User)
class TipGraphUserAdmin(UserAdmin):
    list_display = (
        "username",
        "role",
        "agency",
        "is_active",
        "access",
        "compliance_reviewed_at",
        "approved_at",
        "training_until",
        "privileges_reviewed_at",
        "last_activity_at",
    )
    list_filter = ("role", "is_active", LifecycleFilter, "agency")
    list_select_related = ("office",)
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Role", {"fields": ("role", "agency", "office")}),
        (
            "Access lifecycle",
            {
                "description": "Compliance review, final approval and privilege review are "
                "recorded with the actions of the account list. Nobody records these for "
                "their own account.",
                "fields": (*LIFECYCLE_FIELDS, "last_activity_at"),
            },
        ),
    )
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Role", {"fields": ("role", "agency", "office")}))
    actions = (
        "record_compliance_review",
        "give_final_approval",
        "record_privilege_review",
        "deactivate",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = (*super().get_readonly_fields(request, obj), *_ACTION_FIELDS)
        fields += ("last_activity_at", "last_login", "date_joined")
        if not request.user.is_superuser:
            fields += _PRIVILEGE_FIELDS
        if obj is not None and obj.pk == request.user.pk:
            # nobody changes their own role, access, approvals or training
            fields += tuple(name for name in SELF_PROTECTED_FIELDS if name not in fields)
        return fields

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:
        """Refuse a save that changes one's own protected fields (the form shows them
        read-only, so only a forged form gets here); record who recorded a training."""
        if granted := self_granted(request.user, obj, form.changed_data):
            raise PermissionDenied(
                f"Nobody changes their own {', '.join(granted)}: ask another administrator."
            )
        if "annual_training_at" in form.changed_data:
            obj.annual_training_recorded_by = (
                request.user if obj.annual_training_at is not None else None
            )
        super().save_model(request, obj, form, change)

    @admin.display(description="Access")
    def access(self, user: m.User) -> str:
        problems = access_problems(user)
        if not problems:
            return "Can act"
        return "Cannot act: " + "; ".join(problem.message for problem in problems)

    @admin.display(description="Training until")
    def training_until(self, user: m.User) -> str:
        lapses = training_lapses_on(user)
        return lapses.date().isoformat() if lapses else "-"

    # Who may use which action (the admin calls has_<name>_permission).

    def has_compliance_review_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, COMPLIANCE_REVIEWERS)

    def has_final_approval_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, FINAL_APPROVERS)

    def has_account_review_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, ACCOUNT_REVIEWERS)

    @admin.action(
        description="Record compliance review (system administrators)",
        permissions=["compliance_review"],
    )
    def record_compliance_review(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        def review(user: m.User, now: dt.datetime) -> str | None:
            user.compliance_reviewed_at, user.compliance_reviewed_by = now, request.user
            return None

        self._apply(
            request,
            queryset,
            review,
            fields=("compliance_reviewed_at", "compliance_reviewed_by"),
            done="Recorded the compliance review of",
        )

    @admin.action(
        description="Give final approval (program managers, after the compliance review)",
        permissions=["final_approval"],
    )
    def give_final_approval(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        def approve(user: m.User, now: dt.datetime) -> str | None:
            if user.compliance_reviewed_at is None:
                return "its compliance has not been reviewed yet"
            user.approved_at, user.approved_by = now, request.user
            return None

        self._apply(
            request,
            queryset,
            approve,
            fields=("approved_at", "approved_by"),
            done="Gave final approval to",
        )

    @admin.action(description="Record privilege review", permissions=["account_review"])
    def record_privilege_review(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        def review(user: m.User, now: dt.datetime) -> str | None:
            user.privileges_reviewed_at = now
            return None

        self._apply(
            request,
            queryset,
            review,
            fields=("privileges_reviewed_at",),
            done="Recorded the privilege review of",
        )

    @admin.action(description="Deactivate (remove access)", permissions=["account_review"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        def deactivate(user: m.User, now: dt.datetime) -> str | None:
            if not user.is_active:
                return "it is already inactive"
            user.is_active = False
            return None

        self._apply(request, queryset, deactivate, fields=("is_active",), done="Deactivated")

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        change: Callable[[m.User, dt.datetime], str | None],
        *,
        fields: tuple[str, ...],
        done: str,
    ) -> None:
        """Apply ``change`` (which sets ``fields``, or returns why it may not) to every selected
        account but the caller's own; log each change in the admin history; tell the caller
        what was done, and what was not and why."""
        now = timezone.now()
        changed: list[str] = []
        refused: list[str] = []
        with transaction.atomic():
            for user in queryset.select_for_update(of=("self",)).order_by("username"):
                reason = (
                    "it is your own account" if user.pk == request.user.pk else change(user, now)
                )
                if reason is not None:
                    refused.append(f"{user.username} ({reason})")
                    continue
                user.save(update_fields=fields)
                self.log_change(request, user, f"{done} this account.")
                changed.append(user.username)
        if changed:
            self.message_user(request, f"{done}: {', '.join(changed)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not done for: {'; '.join(refused)}.", messages.WARNING)


@admin.register(m.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with ``manage.py issue_token``; here they are listed and revoked.
    A token's account, name and expiry never change (nobody extends a token, their own
    least of all), and a revocation is final."""

    list_display = ("name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "created_at", "last_used_at")
    list_filter = ("revoked_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is None:
            return fields
        fields += ("user", "name", "expires_at")
        if obj.revoked_at is not None:
            fields += ("revoked_at",)
        return fields


@admin.register(m.Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "contact_point")


@admin.register(m.Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "country")
    list_filter = ("kind",)


@admin.register(m.Tip)
class TipAdmin(admin.ModelAdmin):
    list_display = ("source_reference", "source", "category", "status", "priority", "received_at")
    list_filter = ("status", "category", "handling_caveat")
    search_fields = ("source_reference",)
    raw_id_fields = ("reviewed_by", "created_by")


@admin.register(m.Identifier)
class IdentifierAdmin(admin.ModelAdmin):
    list_display = ("kind", "qualifier", "value", "first_seen", "last_seen")
    list_filter = ("kind",)
    search_fields = ("value",)
