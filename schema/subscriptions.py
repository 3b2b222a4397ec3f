"""Live alerts: GraphQL subscriptions over WebSocket (graphql-transport-ws), on the ASGI entry.

``ws[s]://<host>/graphql`` speaks the graphql-transport-ws protocol (and the legacy
graphql-ws one) through Django Channels (``backend.asgi``). A client opens the socket, sends
``connection_init`` with its bearer token in the payload (``{"authorization": "Bearer
<token>"}``; a browser cannot set headers on a WebSocket, and cookies are not accepted, so a
page of another site cannot borrow a signed-in session), then subscribes:

- no token, a malformed, unknown or revoked one: the socket is closed with 4403 before
  anything else (``connection_ack`` never comes);
- an account the gate refuses (expired token, deactivated, locked out, lifecycle or training,
  a role that may not subscribe): the subscription ends at once with an ``error`` message
  whose ``extensions.code`` says why (``TOKEN_EXPIRED``, ``FORBIDDEN``, ...), audited DENIED;
- partner investigators subscribe with registered documents only, as over HTTP
  (``schema.trusted_documents``), by text or by hash;
- queries and mutations go over HTTP: on the socket they are refused with
  ``SUBSCRIPTIONS_ONLY``.

Each subscribe operation leaves one audit row when it ends (operation type ``subscription``),
and every alert delivered leaves one more, written before the alert is sent, with the records
it carried, like a query's (``WebSocketAudit``). Before each delivery the gate is asked again,
so that an account deactivated or a token expiring ends the subscription (with its code), and
only alerts the subscriber may still read are delivered (``backend.services.alerts``).

The schema served here is the HTTP schema's types with extensions of its own that do their
database work off the event loop (``websocket_schema``); the HTTP schema declares the same
``Subscription`` type so that ``schema.graphql`` describes it, and refuses to run it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest
from graphql import GraphQLError, ValidationRule
from strawberry.channels import GraphQLWSConsumer
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionResult, Info
from strawberry.types.graphql import OperationType

from audit.operations import AuditExtension, caller_fields, operation_row
from audit.writer import new_context, write_event
from backend.errors import DomainError
from backend.services.alert_delivery import ALERT_MESSAGE, live_groups, readable_alerts
from permissions.authentication import AuthenticationFailed, authenticate_bearer
from permissions.classes import allow
from permissions.gate import GRAPHQL, check_request
from permissions.matrix import describe
from schema.alert import AlertType
from schema.caveat import DisseminationCaveat
from schema.extensions import admit, code_errors, refusal_rule
from schema.trusted_documents import TrustedDocuments

__all__ = [
    "SUBSCRIPTIONS_ONLY",
    "Subscription",
    "TipGraphWSConsumer",
    "WebSocketAudit",
    "websocket_schema",
]

log = logging.getLogger(__name__)

#: The code of a query or mutation sent over the socket.
SUBSCRIPTIONS_ONLY = "SUBSCRIPTIONS_ONLY"


@strawberry.type
class Subscription:
    @strawberry.subscription(
        extensions=allow("Subscription.alerts"),
        description=describe(
            "Subscription.alerts",
            "Alerts as they happen, over WebSocket (graphql-transport-ws): to a partner "
            "investigator, their own (a new or changed tip linking to a record they received "
            "within the disclosure period, a correction or removal of one, the decision on a "
            "redissemination request); to an analyst, those of their office (deconfliction "
            "notices and referrals). Each delivery is audited. What a closed socket missed "
            "waits in the alerts query.",
        ),
    )
    async def alerts(self, info: Info) -> AsyncGenerator[AlertType, None]:
        request = info.context.request
        groups = await sync_to_async(live_groups)(request.user)
        async with info.context.ws.listen_to_channel(ALERT_MESSAGE, groups=groups) as messages:
            async for message in messages:
                for alert in await sync_to_async(_deliverable)(request, message["alerts"]):
                    yield alert  # type: ignore[misc]


def _deliverable(request: HttpRequest, alert_ids: list[int]) -> list[Any]:
    """The alerts of ``alert_ids`` the subscriber may read now. The token and the gate are
    asked again first: a token revoked or expired, or an account that may no longer act, ends
    the subscription with its code."""
    try:
        token = authenticate_bearer(request.bearer_header)  # type: ignore[attr-defined]
    except AuthenticationFailed as exc:
        raise _refused(str(exc), exc.code) from None
    request.user = token.user
    decision = check_request(request, GRAPHQL)
    if not decision.allowed:
        raise _refused(decision.message, decision.code or "FORBIDDEN")
    found = readable_alerts(request.user).filter(pk__in=alert_ids).select_related("tip")
    return list(found.order_by("pk"))


def _refused(message: str, code: str) -> DomainError:
    error = DomainError(message)
    error.code = code
    return error


# -- the extensions of the socket's schema ------------------------------------------------------


#: Set on an operation's execution context when its document was refused (not registered).
_DOCUMENT_REFUSED = "tipgraph_document_refused"


class SocketGate(SchemaExtension):
    """The gate (``permissions.gate``) and the socket's own rule, with the database work off the
    event loop: a refused account's operation is refused by a validation rule, and a query or
    mutation on the socket is refused with ``SUBSCRIPTIONS_ONLY``."""

    async def on_validate(self) -> AsyncIterator[None]:
        ctx = self.execution_context
        request = ctx.context.request
        decision = await sync_to_async(admit)(request)
        rules: list[type[ValidationRule]] = []
        if not decision.allowed:
            rules.append(refusal_rule(decision.message, **decision.extensions))
        try:
            operation_type = ctx.operation_type
        except Exception:  # unparsable: validation reports it
            operation_type = OperationType.SUBSCRIPTION
        refused = not decision.allowed or getattr(ctx, _DOCUMENT_REFUSED, False)
        if operation_type is not OperationType.SUBSCRIPTION and not refused:
            rules.append(
                refusal_rule(
                    "Only subscriptions run on the WebSocket; send queries and mutations "
                    "over HTTP (POST /graphql).",
                    code=SUBSCRIPTIONS_ONLY,
                )
            )
        ctx.validation_rules = (*ctx.validation_rules, *rules)
        yield


class SocketTrustedDocuments(TrustedDocuments):
    """``schema.trusted_documents`` with its lookup off the event loop."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        steps = super().on_operation()
        await sync_to_async(next)(steps)
        # refused: the document in place is a placeholder, whose type SocketGate ignores
        setattr(self.execution_context, _DOCUMENT_REFUSED, self.refusal is not None)
        yield
        for _ in steps:  # nothing after its yield; kept in case it gains some
            pass


class WebSocketAudit(AuditExtension):
    """One audit row per subscribe operation, written when it ends, and one per result sent
    (an alert delivered, or the error that ended the subscription), written before it is
    sent, with the records it carried (the resolve hook of ``AuditExtension``). A row that
    cannot be written ends the subscription: nothing unaudited leaves."""

    def _row(self, errors: list[GraphQLError]) -> dict[str, Any]:
        code_errors(errors)
        row = operation_row(
            self.execution_context,
            errors=errors,
            executed=self.executed,
            started=self.started,
            returned=self.returned,
            context_id=self.context_id,
            operation_type=OperationType.SUBSCRIPTION.value,
        )
        self.returned = set()
        return {"kind": "OPERATION", "records_changed": [], **row}

    def _write(self, row: dict[str, Any]) -> None:
        write_event(**caller_fields(self.execution_context.context.request), **row)

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        self.started = time.perf_counter()
        self.delivered = 0
        self.returned: set[tuple[str, Any]] = set()
        self.executed = False
        self.context_id = new_context()
        try:
            yield
        finally:
            # also when the client completes or leaves: the subscription's task is cancelled,
            # and the row is written all the same (shielded from a second cancellation)
            ctx = self.execution_context
            errors = list(ctx.pre_execution_errors or [])
            if ctx.result is not None and not self.delivered:
                errors += list(ctx.result.errors or [])
            self.returned = set()  # the deliveries' rows name what they sent
            row = self._row(errors)
            row["variables"] = {**row["variables"], "_delivered": self.delivered}
            await asyncio.shield(sync_to_async(self._write)(row))

    async def on_stream_result(self, result: ExecutionResult) -> None:  # type: ignore[override]
        errors = list(result.errors or [])
        if not errors:
            self.delivered += 1
        await sync_to_async(self._write)(self._row(errors))


class SocketCaveat(DisseminationCaveat):
    """``schema.caveat`` on the socket: every alert a partner receives carries the
    no-redissemination rule and the handling markings of the records in it; the markings are
    read off the event loop, and each delivery names only its own records."""

    async def get_results(self) -> dict[str, Any]:  # type: ignore[override]
        if not getattr(self, "partner", False):
            return {}
        results = await sync_to_async(super().get_results)()
        self.seen.clear()
        self.known.clear()
        self.marked_tips.clear()
        return results


#: The extensions of an operation on the socket, in order (each instantiated per operation).
WEBSOCKET_EXTENSIONS: tuple[type[SchemaExtension], ...] = (
    WebSocketAudit,
    SocketGate,
    SocketTrustedDocuments,
    SocketCaveat,
)


class TipGraphSchema(strawberry.Schema):
    """The schema, whose operations run synchronously over HTTP with its own extensions and,
    on the socket (the only place the schema runs asynchronously), with
    ``WEBSOCKET_EXTENSIONS`` plus the limits, whose database work is off the event loop."""

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        if sync:
            return super().get_extensions(sync=True)
        from schema.limits import OperationLimits

        return [
            *(extension() for extension in WEBSOCKET_EXTENSIONS),
            OperationLimits(),
            MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES),
            MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        ]


def websocket_schema() -> strawberry.Schema:
    """The schema the socket serves (``schema.schema``, run asynchronously)."""
    from schema import schema

    return schema


# -- the consumer ---------------------------------------------------------------------------


@dataclass
class SocketContext:
    """What resolvers see as ``info.context`` on the socket: ``request`` (an ``HttpRequest``
    standing for the connection, with its account, as the gate and the audit read it) and
    ``ws`` (the consumer)."""

    request: HttpRequest
    ws: GraphQLWSConsumer
    connection_params: dict[str, Any] = field(default_factory=dict)


def _request_of(scope: dict[str, Any]) -> HttpRequest:
    request = HttpRequest()
    request.method = "GET"
    request.path = scope.get("path", "/graphql")
    for name, value in scope.get("headers", []):
        key = name.decode("latin1").upper().replace("-", "_")
        if key not in {"CONTENT_TYPE", "CONTENT_LENGTH"}:
            key = f"HTTP_{key}"
        request.META[key] = value.decode("latin1")
    client = scope.get("client")
    if client:
        request.META["REMOTE_ADDR"] = client[0]
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    request.auth_method = "anonymous"  # type: ignore[attr-defined]
    return request


def _authenticate(request: HttpRequest, params: dict[str, Any]) -> None:
    """Sign the connection in with the bearer token of ``connection_init`` (or, for clients
    that can set headers, the handshake's ``Authorization``), as the HTTP middleware does
    (``permissions.authentication.BearerTokenMiddleware``)."""
    header = params.get("authorization") or params.get("Authorization") or ""
    if not isinstance(header, str) or not header:
        header = request.headers.get("Authorization", "")
    request.bearer_header = header  # type: ignore[attr-defined]
    token = authenticate_bearer(header)
    request.user = token.user
    request.auth_method = f"token:{token.pk}"  # type: ignore[attr-defined]
    request.auth_error = None  # type: ignore[attr-defined]


class TipGraphWSConsumer(GraphQLWSConsumer):
    """graphql-transport-ws on Django Channels, with the token taken from ``connection_init``
    (see the module's docstring)."""

    async def get_context(self, request: Any, response: Any) -> SocketContext:  # type: ignore[override]
        if not hasattr(self, "_socket_context"):
            self._socket_context = SocketContext(request=_request_of(self.scope), ws=self)
        return self._socket_context

    async def on_ws_connect(self, context: SocketContext) -> None:  # type: ignore[override]
        try:
            await sync_to_async(_authenticate)(context.request, context.connection_params or {})
        except AuthenticationFailed as exc:
            await sync_to_async(_audit_refused_connection)(context.request, exc.code)
            raise ConnectionRejectionError() from None


def _audit_refused_connection(request: HttpRequest, code: str) -> None:
    """The audit row of a socket closed before any operation: no, or a bad, token."""
    presented = bool(getattr(request, "bearer_header", ""))
    write_event(
        kind="OPERATION",
        **{**caller_fields(request), "auth_method": "token" if presented else "anonymous"},
        operation_type="",
        outcome="DENIED",
        error_codes=[code],
        records_changed=[],
    )
