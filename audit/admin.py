"""Read-only admin views of the audit log and of record history.

Nobody may add, change or delete rows here (the database refuses it anyway). Viewing needs
the ``audit.view_auditevent`` / ``audit.view_recordchange`` permissions, which come from the
role (``permissions.admin_access``), and an account that may act: the admin site asks the one
gate (``permissions.gate``) on every page, so an administrator without final approval, with
lapsed training or locked out reads nothing here. The event list shows why each session
ended (the cause of LOGOUT rows).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent, RecordChange

__all__ = ["AuditEventAdmin", "ReadOnlyAdmin", "RecordChangeAdmin"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that can only list and show rows."""

    show_full_result_count = False  # no COUNT(*) over the whole log on every page

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The usual search, plus: a UUID finds its context id."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            context_id = uuid.UUID(search_term.strip())
        except ValueError:
            return found, may_have_duplicates
        return found | queryset.filter(context_id=context_id), may_have_duplicates


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "seq",
        "occurred_at",
        "kind",
        "username",
        "role",
        "operation_type",
        "operation_name",
        "outcome",
        "cause",
        "client_address",
    )
    list_filter = ("kind", "outcome", "role", "operation_type")
    search_fields = ("=username", "operation_name")
    date_hierarchy = "occurred_at"
    ordering = ("-seq",)
    list_select_related = ("query_hash",)

    @admin.display(description="Cause")
    def cause(self, event: AuditEvent) -> str:
        """Why a session ended (LOGOUT rows: signed out, replaced, expired, ...)."""
        variables = event.variables if isinstance(event.variables, dict) else {}
        return str(variables.get("cause", "")) if event.kind == "LOGOUT" else ""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """The usual search, plus: "Tip:12" finds the operations that returned or changed it."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        record = search_term.strip()
        if ":" in record and " " not in record:
            touched = Q(records_returned__contains=[record]) | Q(records_changed__contains=[record])
            found = found | queryset.filter(touched)
        return found, may_have_duplicates


@admin.register(RecordChange)
class RecordChangeAdmin(ReadOnlyAdmin):
    list_display = ("id", "occurred_at", "table_name", "row_id", "operation", "context_id")
    list_filter = ("table_name", "operation")
    search_fields = ("=table_name", "=row_id")
    date_hierarchy = "occurred_at"
    ordering = ("-id",)
