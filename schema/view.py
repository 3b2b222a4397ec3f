"""The HTTP view serving /graphql."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.shortcuts import render
from strawberry.django.views import GraphQLView
from strawberry.file_uploads.utils import replace_placeholders_with_files

from audit.operations import flush
from audit.writer import set_context
from permissions.gate import GRAPHIQL, REFUSAL_CODES, UNAUTHENTICATED, check_request

__all__ = ["StatisticsCsvView", "TipGraphView", "UploadRef"]

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

    GraphiQL (``graphql_ide``, a browser's GET without a query) is our own page, which loads
    nothing from a CDN, and only while ``settings.DEBUG`` is on, read at each request.
    """

    def render_graphql_ide(self, request: HttpRequest) -> HttpResponse:
        """GraphiQL from ``backend/templates/graphql/graphiql.html`` instead of strawberry's
        page, whose React and GraphiQL come from unpkg: ours are npm packages served by
        django.contrib.staticfiles (the ``vendor/`` prefixes of STATICFILES_DIRS), so the page
        works on a closed network. Outside development the answer is that of a view without an
        IDE (404), whatever ``graphql_ide`` says.

        The page is behind the one gate (``permissions.gate``, door ``GRAPHIQL``): an anonymous
        browser is sent to the sign-in page (and comes back), an account that may not act gets
        a 403 page with every reason and its code."""
        if not settings.DEBUG:
            raise HTTPException(404, "Not Found")
        decision = check_request(request, GRAPHIQL)
        if not decision.allowed:
            if decision.code == UNAUTHENTICATED:
                return redirect_to_login(request.get_full_path())
            return render(
                request, "graphql/refused.html", {"decision": decision}, status=decision.status
            )
        context = {"csrf_cookie_name": settings.CSRF_COOKIE_NAME, "csrf_token": get_token(request)}
        return render(request, "graphql/graphiql.html", context)

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


_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
#: HTTP status of a refused CSV download, by error code: 401 when nobody is known, 403 when
#: the gate (``permissions.gate.REFUSAL_CODES``) or need-to-know refuses.
_STATUS_OF_CODE = {
    **{code: 403 for code in REFUSAL_CODES},
    "UNAUTHENTICATED": 401,
    "TOKEN_EXPIRED": 401,
    "NEED_TO_KNOW": 403,
}


class StatisticsCsvView(TipGraphView):
    """``GET /statistics/<field>.csv?<argument>=<value>...``: one statistics query as a CSV file.

    The URL becomes the GraphQL query ``<field>(<arguments>) { csv }`` (operation name
    ``<field>Csv``) and runs through the same view as /graphql, so authentication, the
    permission matrix, suppression of small groups and the audit row are exactly those of the
    query. Argument values are passed as GraphQL variables, so ``interval=WEEK``,
    ``timeZone=Europe/London`` and ``since=2026-01-01T00:00:00Z`` mean what they mean in
    GraphQL; an unknown argument is refused as the query would be. A refusal comes back as
    the GraphQL JSON errors with status 400, 401 or 403: an account that may not act (the
    one gate, ``permissions.gate``, asked by the schema) gets 403 with ``extensions.code``,
    ``extensions.problems`` and every reason in the message, and the refusal's audit row.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        from schema.statistics import STATISTICS_FIELDS

        field = kwargs.pop("field", "")
        if field not in STATISTICS_FIELDS:
            return JsonResponse(
                {"errors": [{"message": f"no statistic {field!r}", "code": "NOT_FOUND"}]},
                status=404,
            )
        if request.method != "GET":
            return JsonResponse(
                {"errors": [{"message": "use GET", "code": "METHOD_NOT_ALLOWED"}]}, status=405
            )
        names = list(request.GET)
        bad = [name for name in names if not _NAME.match(name)]
        if bad:
            return JsonResponse(
                {
                    "errors": [
                        {"message": f"not an argument name: {bad[0]!r}", "code": "INVALID_INPUT"}
                    ]
                },
                status=400,
            )
        declared = self.schema._schema.query_type.fields[field].args  # type: ignore[union-attr]
        definitions = ", ".join(
            f"${name}: {declared[name].type if name in declared else 'String'}" for name in names
        )
        arguments = ", ".join(f"{name}: ${name}" for name in names)
        document = (
            f"query {field}Csv{f'({definitions})' if names else ''} "
            f"{{ {field}{f'({arguments})' if names else ''} {{ csv }} }}"
        )
        query = QueryDict(mutable=True)
        query["query"] = document
        query["variables"] = json.dumps({name: request.GET[name] for name in names})
        query["operationName"] = f"{field}Csv"
        request.GET = query
        response = super().dispatch(request, *args, **kwargs)
        try:
            body = json.loads(response.content)  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            return response
        table = (body.get("data") or {}).get(field)
        if table is not None and not body.get("errors"):
            return HttpResponse(
                table["csv"],
                content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{field}.csv"'},
            )
        codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
        status = next((_STATUS_OF_CODE[c] for c in codes if c in _STATUS_OF_CODE), 400)
        return JsonResponse(body, status=max(status, response.status_code))
