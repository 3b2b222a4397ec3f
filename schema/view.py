"""The HTTP door of GraphQL: ``/graphql``, and the statistics CSV downloads that run through it.

Every request that reaches it gets an answer with a stable ``extensions.code`` and its audit
rows, one per operation (one for the request when no operation ran), written in the
request's own transaction; only when those rows cannot be written is the answer 503
``AUDIT_UNAVAILABLE``. A request refused as a whole gets a JSON GraphQL error with no
``data``:

=========================  ======  =====================================================
code                       status  when
=========================  ======  =====================================================
``BAD_REQUEST``            400     the body is not UTF-8, not JSON, nests deeper than
                                   ``MAX_JSON_DEPTH``, holds a lone surrogate, NaN or
                                   Infinity, is not a GraphQL request object (or a batch of
                                   them), has no query, or is a malformed multipart upload
``UNSUPPORTED_MEDIA_TYPE`` 415     a POST that is neither ``application/json`` nor (file
                                   uploads) ``multipart/form-data``
``PAYLOAD_TOO_LARGE``      413     more than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` of JSON or form
                                   fields, or too many fields or files
``METHOD_NOT_ALLOWED``     405     another method than GET and POST; over GET, a mutation or
                                   a query that records something (``schema.safe_methods``)
``CSRF_FAILED``            403     a signed-in browser session's POST without its CSRF token
``INTERNAL_ERROR``         500     anything unexpected: the operations are rolled back
=========================  ======  =====================================================

Responses follow GraphQL over HTTP: a client whose ``Accept`` prefers
``application/graphql-response+json`` gets that media type, and an operation refused before
it ran (unparsable, invalid, variables that do not coerce, a caller the gate refuses) comes
with no ``data`` and status 400 (401 ``UNAUTHENTICATED``/``TOKEN_EXPIRED``, 403 for the
gate's other refusals and ``DOCUMENT_NOT_TRUSTED``, 404 ``PERSISTED_QUERY_NOT_FOUND``, 405
``METHOD_NOT_ALLOWED``; ``schema.trusted_documents``); every other client gets
``application/json`` and status 200 for every GraphQL answer, except 405 for an operation
GET may not run.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    QueryDict,
    UnreadablePostError,
)
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import GraphQLView
from strawberry.exceptions import MissingQueryError
from strawberry.file_uploads.utils import replace_placeholders_with_files
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from audit.history import changes_in_context
from audit.operations import flush
from backend.intake.uploads import UploadRef
from backend.models import User
from permissions.gate import GRAPHIQL, REFUSAL_CODES, UNAUTHENTICATED, check_request
from schema.extensions import UNDO
from schema.safe_methods import METHOD_NOT_ALLOWED, SAFE_METHODS
from schema.trusted_documents import (
    STATUS_OF_CODES,
    names_document,
    trust_server_document,
    with_document_id,
)

__all__ = [
    "APPLICATION_JSON",
    "GRAPHQL_RESPONSE_JSON",
    "MAX_JSON_DEPTH",
    "RequestRefused",
    "StatisticsCsvView",
    "TipGraphView",
    "media_type",
]

log = logging.getLogger(__name__)

#: The GraphQL-over-HTTP response media type, for clients that ask for it in ``Accept``.
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
#: The legacy one, for every other client.
APPLICATION_JSON = "application/json"
#: How deep the JSON of a request may nest (the request, its variables and extensions). Our
#: inputs nest a few levels; the JSON parser and the audit writer recurse.
MAX_JSON_DEPTH = 32

BAD_REQUEST = "BAD_REQUEST"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
CSRF_FAILED = "CSRF_FAILED"
INTERNAL_ERROR = "INTERNAL_ERROR"
AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"

#: Every method may name a query or a mutation: ``schema.safe_methods`` refuses what a GET
#: may not run, as a validation error with its audit row (strawberry would refuse a GET
#: mutation before any extension saw it, with no row naming it). No subscriptions over HTTP.
_OPERATION_TYPES = frozenset({OperationType.QUERY, OperationType.MUTATION})
#: Text PostgreSQL cannot store and no client means: UTF-16 surrogates on their own.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Status of an operation refused before it ran, for graphql-response+json clients, by code
#: (first match in this order); any other code is 400.
_REQUEST_ERROR_STATUS = {
    METHOD_NOT_ALLOWED: 405,
    UNAUTHENTICATED: 401,
    "TOKEN_EXPIRED": 401,
    **{code: 403 for code in sorted(REFUSAL_CODES - {UNAUTHENTICATED, "TOKEN_EXPIRED"})},
    **STATUS_OF_CODES,  # DOCUMENT_NOT_TRUSTED 403, PERSISTED_QUERY_NOT_FOUND 404
}


class RequestRefused(Exception):
    """A request refused as a whole, before or instead of its operations: answered with
    ``status`` and a GraphQL error of ``code``; its audit row says ``outcome``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        outcome: str | None = None,
        allow: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.outcome = outcome
        self.allow = allow


def media_type(accept: str) -> str:
    """The response media type for an ``Accept`` header: ``GRAPHQL_RESPONSE_JSON`` when the
    client prefers it to ``application/json`` (equal preference counts for it), else
    ``APPLICATION_JSON`` (also for a missing header, ``*/*`` or only other types)."""
    quality: dict[str, float] = {}
    for part in accept.split(","):
        mime, *params = (piece.strip() for piece in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        mime = mime.lower()
        if mime in (GRAPHQL_RESPONSE_JSON, APPLICATION_JSON):
            quality[mime] = max(q, quality.get(mime, 0.0))
    preferred = quality.get(GRAPHQL_RESPONSE_JSON, 0.0)
    if preferred > 0 and preferred >= quality.get(APPLICATION_JSON, 0.0):
        return GRAPHQL_RESPONSE_JSON
    return APPLICATION_JSON


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def _content_type(media: str) -> str:
    return f"{media}; charset=utf-8" if media == GRAPHQL_RESPONSE_JSON else media


def _refuse_json(message: str) -> RequestRefused:
    return RequestRefused(400, BAD_REQUEST, message)


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _refuse_json("A number in the request is too large.")
    return value


def _no_constant(name: str) -> float:
    raise _refuse_json(f"{name} is not JSON.")


def _check_json(value: object) -> None:
    """Refuse JSON nested deeper than ``MAX_JSON_DEPTH`` or holding a lone surrogate (in a
    key or a string), without recursing."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _refuse_json("The request holds a lone UTF-16 surrogate: not Unicode text.")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _refuse_json(f"The request's JSON nests deeper than {MAX_JSON_DEPTH}.")
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _request_data(item: object) -> GraphQLRequestData:
    """One GraphQL request of a body (GraphQL over HTTP): an object whose ``query`` and
    ``operationName`` are strings or null, ``variables`` and ``extensions`` objects or null."""
    if not isinstance(item, dict):
        raise _refuse_json(
            "A GraphQL request is a JSON object with a query (a batch: an array of them)."
        )
    expected: dict[str, tuple[type, ...]] = {
        "query": (str,),
        "operationName": (str,),
        "variables": (dict,),
        "extensions": (dict,),
        "documentId": (str,),  # a trusted document's id (schema.trusted_documents)
    }
    for name, types in expected.items():
        value = item.get(name)
        if value is not None and not isinstance(value, types):
            kind = "a string" if types == (str,) else "an object"
            raise _refuse_json(f"The request's {name} must be {kind} or null.")
    return GraphQLRequestData(
        query=item.get("query"),
        variables=item.get("variables"),
        operation_name=item.get("operationName"),
        extensions=with_document_id(item.get("extensions"), item.get("documentId")),
    )


def _refused_before_running(answer: GraphQLHTTPResponse) -> list[str] | None:
    """The error codes of an answer whose operation was refused before it ran (no data and
    no error with a path: a parse, validation, variable or gate error), else ``None``."""
    errors = answer.get("errors") or []
    if answer.get("data") is not None or not errors:
        return None
    if any(isinstance(error, dict) and "path" in error for error in errors):
        return None
    return [
        str(((error.get("extensions") or {}) if isinstance(error, dict) else {}).get("code"))
        for error in errors
    ]


def _status_of(codes: list[str]) -> int:
    return next((status for code, status in _REQUEST_ERROR_STATUS.items() if code in codes), 400)


def _wrote(request: HttpRequest) -> list[str]:
    """The records the operations of ``request`` changed, the caller's own activity time
    (``permissions.lifecycle.record_activity``) aside."""
    user_id = str(getattr(getattr(request, "user", None), "pk", ""))
    changed = []
    for row in getattr(request, "audit_pending", None) or []:
        if not row.get("context_id"):
            continue
        for change in changes_in_context(row["context_id"]):
            if change.table_name == User._meta.db_table and change.row_id == user_id:
                before, after = change.before or {}, change.after or {}
                if {k for k in after if before.get(k) != after[k]} <= {"last_activity_at"}:
                    continue
            changed.append(f"{change.table_name}:{change.row_id}")
    return changed


class _Undo(Exception):
    """Raised inside the request's transaction to roll its operations back; carries the
    response, error code and outcome the audit rows are then written with."""


class TipGraphView(GraphQLView):
    """GraphQL over HTTP (see the module's docstring for every refusal and status).

    Session (cookie) POSTs must pass Django's CSRF check, here rather than in the middleware
    so that a refusal is a coded JSON error with its audit row; bearer-token requests are
    exempt, since browsers never attach that header on their own, and anonymous ones have
    nothing to protect (every operation refuses them). GET runs no mutation and no query that
    records something (``schema.safe_methods``).

    Each request runs in one transaction together with its audit rows, with no savepoint
    (each is a round trip): a request that fails as a whole (refused, an unexpected error, or
    a statement the database refused in its operation) is rolled back and its audit rows are
    written in a transaction of their own; only the operations of a batch run in savepoints
    each (``schema.extensions.ErrorCodes``), so that one failing keeps the others. If the
    audit rows cannot be written, the whole request is rolled back and the caller gets
    AUDIT_UNAVAILABLE.

    Multipart requests (file uploads) follow the GraphQL multipart request spec; they are
    enabled in ``backend/urls.py`` and pass the same CSRF check as any other POST.

    GraphiQL (``graphql_ide``, a browser's GET without a query) is our own page, which loads
    nothing from a CDN, and only while ``settings.DEBUG`` is on, read at each request. It is
    a page, not an operation, and writes no audit row.
    """

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:  # type: ignore[override]
        """The view, exempt from the CSRF middleware: ``dispatch`` makes the same check."""
        return csrf_exempt(super().as_view(**initkwargs))

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

    def should_render_graphql_ide(self, request: Any) -> bool:
        """Not for a GET naming a document by its hash, which has no ``query`` either."""
        return super().should_render_graphql_ide(request) and not names_document(
            request.query_params
        )

    def parse_multipart(self, request: Any) -> dict[str, Any]:
        operations = self.parse_json(request.post_data.get("operations", "{}"))
        files_map = self.parse_json(request.post_data.get("map", "{}"))
        if not isinstance(operations, dict | list) or not isinstance(files_map, dict):
            raise _refuse_json("The multipart operations and map must be JSON objects.")
        files = {name: UploadRef(file) for name, file in request.files.items()}
        try:
            return replace_placeholders_with_files(operations, files_map, files)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise _refuse_json("File(s) missing in form data.") from exc

    def decode_json(self, data: str | bytes) -> object:
        """JSON as GraphQL over HTTP has it: UTF-8, no NaN or Infinity, no lone surrogates,
        nested at most ``MAX_JSON_DEPTH`` deep; anything else is BAD_REQUEST."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _refuse_json("The request is not UTF-8.") from None
        try:
            value = json.loads(data, parse_constant=_no_constant, parse_float=_finite)
        except RecursionError:
            raise _refuse_json(f"The request's JSON nests deeper than {MAX_JSON_DEPTH}.") from None
        except ValueError:
            raise _refuse_json("The request is not valid JSON.") from None
        _check_json(value)
        return value

    def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The GraphQL request(s) of an HTTP request: the query string of a GET, the JSON body
        of a POST, or the ``operations`` field of a multipart POST (file uploads)."""
        http: HttpRequest = request.request
        if http.method == "GET":
            data = self.parse_query_params(request.query_params)
        elif http.content_type == "application/json":
            data = self.decode_json(http.body)
        elif self.multipart_uploads_enabled and http.content_type == "multipart/form-data":
            data = self.parse_multipart(request)
        else:
            raise RequestRefused(
                415,
                UNSUPPORTED_MEDIA_TYPE,
                "Send the request as application/json (file uploads: multipart/form-data).",
            )
        if isinstance(data, list):
            if not data:
                raise _refuse_json("A batch holds at least one request.")
            self._validate_batch_request(data, protocol="http")
            http.graphql_batch = True  # type: ignore[attr-defined]  # (schema.extensions)
            return [_request_data(item) for item in data]
        return _request_data(data)

    def execute_single(
        self,
        request: HttpRequest,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return self.schema.execute_sync(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=_OPERATION_TYPES,
                operation_extensions=request_data.extensions,
            )
        except MissingQueryError:
            raise _refuse_json("The request has no GraphQL query.") from None
        except CannotGetOperationTypeError as exc:
            raise _refuse_json(exc.as_http_error_reason()) from None
        except InvalidOperationTypeError as exc:
            raise _refuse_json(exc.as_http_error_reason(request_adapter.method)) from None

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: HttpResponse,
    ) -> HttpResponseBase:
        """The answer in the media type the client accepts, with the status GraphQL over
        HTTP gives it (see the module's docstring)."""
        media = media_type(self.request.headers.get("Accept", ""))
        status = 200
        answers = response_data if isinstance(response_data, list) else [response_data]
        for answer in answers:
            codes = _refused_before_running(answer)
            if codes is None:
                continue
            if media == GRAPHQL_RESPONSE_JSON:
                answer.pop("data", None)
                status = _status_of(codes)
            elif METHOD_NOT_ALLOWED in codes:
                status = 405
        if isinstance(response_data, list):
            status = 200  # a batch: each answer says what became of its operation
        response = super().create_response(response_data, sub_response)
        response["Content-Type"] = _content_type(media)
        if response.status_code == 200:
            response.status_code = status
        if status == 405:
            response["Allow"] = "POST"
        return response

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if self.opens_graphiql(request):
            return super().dispatch(request, *args, **kwargs)  # a page, not an operation
        request.audit_pending = []  # type: ignore[attr-defined]
        try:
            try:
                with transaction.atomic():
                    response, code, outcome = self._answer(request)
                    if code is not None or getattr(request, UNDO, False):
                        raise _Undo(response, code, outcome)
                    flush(
                        request, status_code=response.status_code, error_code=code, outcome=outcome
                    )
            except _Undo as undo:
                # The request's operations are rolled back; their rows are written anew.
                response, code, outcome = undo.args
                with transaction.atomic():
                    flush(
                        request, status_code=response.status_code, error_code=code, outcome=outcome
                    )
        except Exception:
            log.exception("the audit rows of a GraphQL request could not be written; rolled back")
            return JsonResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "The request could not be audited, so nothing was done.",
                            "extensions": {"code": AUDIT_UNAVAILABLE},
                        }
                    ],
                },
                status=503,
            )
        return response

    def opens_graphiql(self, request: HttpRequest) -> bool:
        """Whether ``request`` asks for the GraphiQL page (a browser's GET without a query)."""
        return request.method == "GET" and self.should_render_graphql_ide(
            self.request_adapter_class(request)
        )

    def respond(self, request: HttpRequest) -> HttpResponseBase:
        """Run the request's operations and answer; raise ``RequestRefused`` to refuse it."""
        try:
            return self.run(request=request)
        except HTTPException as exc:
            if exc.status_code == 405:
                raise RequestRefused(
                    405, METHOD_NOT_ALLOWED, "Use GET or POST.", allow="GET, POST"
                ) from None
            raise _refuse_json(f"{exc.reason.rstrip('.')}.") from None

    def _answer(self, request: HttpRequest) -> tuple[HttpResponseBase, str | None, str | None]:
        """The response, and for a request refused or failed as a whole its error code and
        audit outcome (``dispatch`` then rolls its operations back)."""
        try:
            self._check_csrf(request)
            response = self.respond(request)
            undone = getattr(request, UNDO, False)
            if request.method in SAFE_METHODS and not undone and (changed := _wrote(request)):
                log.error("a GET changed %s; rolled back and refused", ", ".join(changed))
                raise RequestRefused(
                    405,
                    METHOD_NOT_ALLOWED,
                    "This operation records what it does: send it with POST, never GET.",
                    outcome="FAILED",
                    allow="POST",
                )
        except RequestRefused as refusal:
            return self._refusal(refusal), refusal.code, refusal.outcome
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent):
            refusal = RequestRefused(
                413,
                PAYLOAD_TOO_LARGE,
                "The request is too large: JSON and form fields may hold at most "
                f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes, in at most "
                f"{settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields.",
            )
            return self._refusal(refusal), refusal.code, None
        except (MultiPartParserError, UnreadablePostError):
            refusal = _refuse_json("The multipart body could not be read.")
            return self._refusal(refusal), refusal.code, None
        except Exception:
            log.exception("a GraphQL request failed; its operations were rolled back")
            refusal = RequestRefused(500, INTERNAL_ERROR, "The request failed; nothing was done.")
            return self._refusal(refusal), INTERNAL_ERROR, "FAILED"
        return response, None, None

    def _check_csrf(self, request: HttpRequest) -> None:
        """Refuse a signed-in session's POST without a valid CSRF token (CSRF_FAILED)."""
        if request.method != "POST" or getattr(request, "_dont_enforce_csrf_checks", False):
            return  # bearer-token requests are exempt (permissions.authentication)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return  # nobody to act as: every operation refuses an anonymous caller
        if CsrfViewMiddleware(lambda _r: HttpResponse()).process_view(request, None, (), {}):
            raise RequestRefused(
                403,
                CSRF_FAILED,
                "A signed-in browser's POST must carry the CSRF token: the X-CSRFToken header, "
                "from the csrftoken cookie.",
                outcome="DENIED",
            )

    def _refusal(self, refusal: RequestRefused) -> HttpResponse:
        media = media_type(self.request.headers.get("Accept", ""))
        response = HttpResponse(
            self.encode_json(_error_body(refusal.code, refusal.message)),
            status=refusal.status,
            content_type=_content_type(media),
        )
        if refusal.allow:
            response["Allow"] = refusal.allow
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
    An unknown statistic is 404 ``NOT_FOUND``, another method than GET 405
    ``METHOD_NOT_ALLOWED``, an argument name that is no GraphQL name 400 ``INVALID_INPUT``;
    each has its audit row too. The file is written by ``backend.csv_export``, which
    neutralises text a spreadsheet would run as a formula.
    """

    def opens_graphiql(self, request: HttpRequest) -> bool:
        return False  # a download, never a page

    def respond(self, request: HttpRequest) -> HttpResponseBase:
        from schema.statistics import STATISTICS_FIELDS

        field = self.kwargs.get("field", "")
        if field not in STATISTICS_FIELDS:
            raise RequestRefused(404, "NOT_FOUND", f"No statistic {field!r}.")
        if request.method != "GET":
            raise RequestRefused(405, METHOD_NOT_ALLOWED, "Use GET.", allow="GET")
        names = list(request.GET)
        bad = [name for name in names if not _NAME.match(name)]
        if bad:
            raise RequestRefused(400, "INVALID_INPUT", f"Not an argument name: {bad[0]!r}.")
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
        trust_server_document(request, document)  # partner tools may run it: we wrote it
        response = super().respond(request)
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
