"""One audit row per GraphQL operation.

``AuditExtension`` watches each operation (a batched request runs several) and leaves a
pending row on the request: who, how authenticated, what was asked, the outcome, the error
codes, the time taken, and every record whose data the answer contained: each record whose
own fields it returned, and each record whose data another object's field carried (a lookup
match's reasons and redress mark, a link's reason naming a subject), as that object's GraphQL
type declares with ``carries``. The GraphQL view
then writes the pending rows with ``flush`` inside the request's transaction, so that a
request whose audit row cannot be written fails as a whole: no unaudited answer leaves.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.utils.str_converters import to_camel_case

from audit.writer import new_context, set_context, write_event
from backend.errors import REQUEST_ERROR_CODES
from backend.registry import audit_type_names
from permissions.gate import REFUSAL_CODES
from permissions.matrix import DOCUMENT_NOT_TRUSTED

__all__ = [
    "DENIED_CODES",
    "TABLE_TYPES",
    "TYPE_NAMES",
    "AuditExtension",
    "Carried",
    "bounded_variables",
    "caller_fields",
    "carried_records",
    "carries",
    "client_address",
    "error_codes",
    "flush",
    "operation_row",
]

#: GraphQL type name of every model whose records an audit row names (``backend.registry``).
TYPE_NAMES: dict[type[Model], str] = audit_type_names()
#: Database tables of those models, for the records a mutation changed.
TABLE_TYPES: dict[str, str] = {model._meta.db_table: name for model, name in TYPE_NAMES.items()}

#: Error codes that make an operation's outcome DENIED: every refusal of the one gate
#: (``permissions.gate``: not signed in, token expired, deactivated, locked out, not approved,
#: training lapsed, role), need-to-know, and a document a partner tool may not run.
DENIED_CODES = REFUSAL_CODES | {"NEED_TO_KNOW", DOCUMENT_NOT_TRUSTED}
#: An operation's variables are kept in its audit row up to this many characters (of their
#: ``repr``), else cut to this many.
MAX_VARIABLES_CHARS = 20_000
#: Root fields whose operation's audit row keeps the variables whole: a passenger screening
#: (``screenPassengers``) lists up to SCREENING_MAX_TRAVELLERS travellers, and its row must
#: name every traveller searched. Theirs are kept up to ``WHOLE_VARIABLES_FACTOR`` times the
#: largest request body the view accepts (``DATA_UPLOAD_MAX_MEMORY_SIZE``): the ``repr`` of
#: decoded JSON is at most 2.5 times as long as its text, so they are never cut.
WHOLE_VARIABLES_FIELDS = frozenset({"screenPassengers"})
WHOLE_VARIABLES_FACTOR = 3


#: What a field carries besides its own object: ``(model, pk)`` of each record whose data it
#: holds, from the object being answered (a pk of None is skipped).
Carried = Callable[[Any], Iterable[tuple[type[Model], Any]]]
_CARRIES = "audit_carries"
_T = TypeVar("_T", bound=type)


def carries(fields: dict[str, Carried]) -> Callable[[_T], _T]:
    """Declare, on a GraphQL type (above its ``@strawberry.type``), the records whose data its
    fields carry: ``{graphql field name: records}``, ``"*"`` for every field. An answer that
    resolves such a field counts as having returned those records too (``records_returned``,
    "who saw record X"), whether or not it asked for the records themselves."""

    def declare(cls: _T) -> _T:
        definition = getattr(cls, "__strawberry_definition__", None)
        if definition is None:
            raise TypeError(f"@carries goes above @strawberry.type ({cls.__name__})")
        names = {to_camel_case(f.python_name) for f in definition.fields} | {
            f.graphql_name for f in definition.fields if f.graphql_name
        }
        if unknown := set(fields) - names - {"*"}:
            raise TypeError(f"@carries names no field of {cls.__name__}: {sorted(unknown)}")
        setattr(cls, _CARRIES, {**getattr(cls, _CARRIES, {}), **fields})
        return cls

    return declare


def carried_records(parent_type: GraphQLObjectType, field: str, root: Any) -> set[tuple[str, Any]]:
    """The records (type name, pk) whose data ``field`` of ``root`` carries, as declared on
    its GraphQL type with ``carries``."""
    declared = _declared(parent_type)
    if not declared:
        return set()
    found = set()
    for key in (field, "*"):
        if (records := declared.get(key)) is not None:
            found.update((TYPE_NAMES[model], pk) for model, pk in records(root) if pk is not None)
    return found


@functools.cache
def _declared(parent_type: GraphQLObjectType) -> dict[str, Any] | None:
    """What ``carries`` declared on a GraphQL type (looked up once per type: the audit asks
    for every field of every object)."""
    definition = (parent_type.extensions or {}).get("strawberry-definition")
    return getattr(getattr(definition, "origin", None), _CARRIES, None)


def client_address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def caller_fields(request: HttpRequest) -> dict[str, Any]:
    """Who made ``request`` and from where, as audit-row fields."""
    user = getattr(request, "user", None)
    known = user is not None and user.is_authenticated
    return {
        "user_id": user.pk if known else None,
        "username": user.get_username() if known else "",
        "role": getattr(user, "role", "") if known else "",
        "auth_method": getattr(request, "auth_method", "anonymous"),
        "client_address": client_address(request),
        "user_agent": request.headers.get("User-Agent", "")[:1000],
    }


def error_codes(errors: list[GraphQLError] | None) -> list[str]:
    """The ``extensions.code`` of each error ("ERROR" for one without)."""
    codes = []
    for error in errors or []:
        extensions = getattr(error, "extensions", None) or {}
        codes.append(str(extensions.get("code") or "ERROR"))
    return codes


def operation_row(
    ctx: Any,
    *,
    errors: list[GraphQLError],
    executed: bool,
    started: float,
    returned: set[tuple[str, Any]],
    context_id: Any,
    operation_type: str | None = None,
) -> dict[str, Any]:
    """The audit row of one operation (``ctx``, its execution context) that ended with
    ``errors``: its outcome (DENIED for a refusal's code, INVALID when refused before it ran or
    for the request's own fault, FAILED, else ALLOWED), codes, time and records returned."""
    codes = error_codes(errors)
    if any(code in DENIED_CODES for code in codes):
        outcome = "DENIED"
    elif errors and (not executed or all(code in REQUEST_ERROR_CODES for code in codes)):
        outcome = "INVALID"  # refused before running, or the request's own fault
    elif errors:
        outcome = "FAILED"
    else:
        outcome = "ALLOWED"
    if operation_type is None:
        try:
            operation_type = ctx.operation_type.value
        except Exception:  # unparsable document: no operation type
            operation_type = ""
    return {
        "operation_type": operation_type,
        "operation_name": ctx.operation_name or "",
        "query": ctx.query or "",
        "variables": bounded_variables(ctx.variables or {}, _variables_bound(ctx)),
        "outcome": outcome,
        "error_codes": codes,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "records_returned": sorted(f"{name}:{pk}" for name, pk in returned),
        "context_id": context_id,
    }


class AuditExtension(SchemaExtension):
    """Collects the audit row of each operation (written by ``flush``)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        self.returned: set[tuple[str, Any]] = set()
        self.executed = False
        self.context_id = new_context()
        # sent with the operation's first statement (often the trusted document's read)
        set_context(self.context_id, defer=True)
        yield
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        if request is None:
            return
        result = ctx.result
        errors = list(result.errors or []) if result is not None else []
        if not errors and ctx.pre_execution_errors:
            errors = list(ctx.pre_execution_errors)
        pending = getattr(request, "audit_pending", None)
        if pending is None:
            pending = request.audit_pending = []
        pending.append(
            operation_row(
                ctx,
                errors=errors,
                executed=self.executed,
                started=started,
                returned=self.returned,
                context_id=self.context_id,
            )
        )

    def on_execute(self) -> Iterator[None]:
        self.executed = True
        yield

    def resolve(self, _next: Any, root: Any, info: Info, *args: Any, **kwargs: Any) -> Any:
        if root is not None:
            if (name := TYPE_NAMES.get(type(root))) is not None:
                self.returned.add((name, root.pk))
            if _declared(info.parent_type):
                self.returned.update(carried_records(info.parent_type, info.field_name, root))
        return _next(root, info, *args, **kwargs)


def bounded_variables(
    variables: dict[str, Any], bound: int = MAX_VARIABLES_CHARS
) -> dict[str, Any]:
    """``variables`` as an audit row keeps them: whole up to ``bound`` characters of their
    ``repr``, else that much of it."""
    text = repr(variables)
    if len(text) > bound:
        return {"_truncated": text[:bound]}
    return variables


def _variables_bound(ctx: Any) -> int:
    """How much of the operation's variables its audit row keeps (``WHOLE_VARIABLES_FIELDS``)."""
    if WHOLE_VARIABLES_FIELDS & _root_fields(getattr(ctx, "graphql_document", None), ctx):
        return WHOLE_VARIABLES_FACTOR * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return MAX_VARIABLES_CHARS


def _root_fields(document: DocumentNode | None, ctx: Any) -> set[str]:
    """The root fields the operation that ran asks for, through fragments."""
    if document is None:
        return set()
    operation = get_operation_ast(document, ctx.operation_name)
    if operation is None:
        return set()
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    names: set[str] = set()
    seen: set[str] = set()
    pending = [operation.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    pending.append(fragments[name].selection_set)
    return names


def _request_row(outcome: str, code: str) -> dict[str, Any]:
    """The row of a request that ran no operation."""
    return {
        "operation_type": "",
        "operation_name": "",
        "query": "",
        "variables": {},
        "outcome": outcome,
        "error_codes": [code],
        "duration_ms": None,
        "records_returned": [],
        "context_id": None,
    }


def flush(
    request: HttpRequest,
    *,
    status_code: int,
    error_code: str | None = None,
    outcome: str | None = None,
) -> int:
    """Write the pending rows of ``request``; returns the count.

    A request refused or failed as a whole at the HTTP level (``error_code``: BAD_REQUEST for
    a malformed body, PAYLOAD_TOO_LARGE, METHOD_NOT_ALLOWED, CSRF_FAILED, INTERNAL_ERROR, ...)
    gets one row with that code and ``outcome`` (by default DENIED for a refusal code, else
    INVALID); if operations of it had run before it failed, each keeps its row instead,
    with the code and ``outcome`` added and no records returned, since no answer left. A
    request that ran no operation but ended with status >= 400 and no code gets one INVALID
    row with ``HTTP_<status>``."""
    pending = getattr(request, "audit_pending", None) or []
    who = caller_fields(request)
    if error_code is not None:
        outcome = outcome or ("DENIED" if error_code in DENIED_CODES else "INVALID")
        pending = [
            {
                **row,
                "outcome": outcome,
                "error_codes": [*row["error_codes"], error_code],
                "records_returned": [],
            }
            for row in pending
        ] or [_request_row(outcome, error_code)]
    elif not pending and status_code >= 400:
        pending = [_request_row("INVALID", f"HTTP_{status_code}")]
    for row in pending:
        if row["context_id"]:
            write_event(kind="OPERATION", changes_named=TABLE_TYPES, **who, **row)
        else:
            write_event(kind="OPERATION", records_changed=[], **who, **row)
    request.audit_pending = []
    return len(pending)
