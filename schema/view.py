"""The HTTP view serving /graphql."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import GraphQLView

from audit.operations import flush
from audit.writer import set_context

__all__ = ["TipGraphView"]

log = logging.getLogger(__name__)


class TipGraphView(GraphQLView):
    """GraphQL over HTTP.

    Session (cookie) requests must pass Django's CSRF check; bearer-token requests are
    exempt, since browsers never attach that header on their own. Each request runs in one
    transaction together with its audit rows: if the audit rows cannot be written, the
    whole request is rolled back and the caller gets AUDIT_UNAVAILABLE instead of an answer.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and not getattr(request, "_dont_enforce_csrf_checks", False):
            refusal = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})  # type: ignore[arg-type]
            if refusal is not None:
                return refusal
        if request.method == "GET" and "query" not in request.GET:
            return super().dispatch(request, *args, **kwargs)  # the GraphiQL page
        request.audit_pending = []  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)
                flush(request, status_code=response.status_code)
        except Exception:
            log.exception("GraphQL request failed or could not be audited; rolled back")
            return JsonResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "The request could not be audited, so nothing was done.",
                            "extensions": {"code": "AUDIT_UNAVAILABLE"},
                        }
                    ],
                },
                status=503,
            )
        finally:
            set_context(None)
        return response
