"""The HTTP view serving /graphql."""

from __future__ import annotations

import logging
from typing import Any

from cross_web import HTTPException
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from strawberry.django.views import GraphQLView
from strawberry.file_uploads.utils import replace_placeholders_with_files

from audit.operations import flush
from audit.writer import set_context

__all__ = ["TipGraphView", "UploadRef"]

log = logging.getLogger(__name__)


class UploadRef(dict):
    """A file of a multipart request (GraphQL multipart request spec), as the resolvers get it.

    It is a ``dict`` of the file's name, size and content type, so that the audit row of the
    operation records which file was sent (never its content), and carries the file itself
    in ``.file``."""

    def __init__(self, file: UploadedFile) -> None:
        super().__init__(filename=file.name, size=file.size, contentType=file.content_type)
        self.file = file


class TipGraphView(GraphQLView):
    """GraphQL over HTTP.

    Session (cookie) requests must pass Django's CSRF check; bearer-token requests are
    exempt, since browsers never attach that header on their own. Each request runs in one
    transaction together with its audit rows: if the audit rows cannot be written, the
    whole request is rolled back and the caller gets AUDIT_UNAVAILABLE instead of an answer.

    Multipart requests (file uploads) follow the GraphQL multipart request spec; they are
    enabled in ``backend/urls.py`` and pass the same CSRF check as any other POST.
    """

    def parse_multipart(self, request: Any) -> dict[str, Any]:
        operations = self.parse_json(request.post_data.get("operations", "{}"))
        files_map = self.parse_json(request.post_data.get("map", "{}"))
        if not isinstance(operations, dict | list) or not isinstance(files_map, dict):
            raise HTTPException(400, "operations and map must be JSON objects")
        files = {name: UploadRef(file) for name, file in request.files.items()}
        try:
            return replace_placeholders_with_files(operations, files_map, files)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise HTTPException(400, "File(s) missing in form data") from exc

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
