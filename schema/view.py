"""The HTTP view serving /graphql."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import GraphQLView

__all__ = ["TipGraphView"]


class TipGraphView(GraphQLView):
    """GraphQL over HTTP. Session (cookie) requests must pass Django's CSRF check; bearer-token
    requests are exempt, since browsers never attach that header on their own."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and not getattr(request, "_dont_enforce_csrf_checks", False):
            refusal = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})  # type: ignore[arg-type]
            if refusal is not None:
                return refusal
        return super().dispatch(request, *args, **kwargs)
