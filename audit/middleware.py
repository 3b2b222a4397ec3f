"""Admin changes are tied to an audit row: every POST to the Django admin runs under an
audit context, and leaves an ADMIN row naming the records it changed."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from audit.operations import TABLE_TYPES, caller_fields
from audit.writer import new_context, set_context, write_event

__all__ = ["AdminAuditMiddleware"]


class AdminAuditMiddleware:
    """Wraps admin POSTs in one transaction with their audit row."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.path.startswith("/admin/"):
            return self.get_response(request)
        from audit.history import changes_in_context

        context_id = new_context()
        try:
            with transaction.atomic():
                set_context(context_id)
                response = self.get_response(request)
                changes = changes_in_context(context_id)
                write_event(
                    kind="ADMIN",
                    operation_type="admin",
                    operation_name=request.path[:200],
                    outcome="ALLOWED" if response.status_code < 400 else "DENIED",
                    **caller_fields(request),
                    records_changed=sorted(
                        {
                            f"{TABLE_TYPES.get(c.table_name, c.table_name)}:{c.row_id}"
                            for c in changes
                        }
                    ),
                    context_id=context_id,
                )
        finally:
            set_context(None)
        return response
