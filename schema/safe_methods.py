"""GraphQL over GET changes nothing.

A browser follows a link, loads an image or submits a form to another site with that site's
cookies (SameSite=Lax sends them on a top-level GET), so a GET must never change anything: a
GET with a mutation, or with a query field that records something
(``permissions.matrix.WRITING_QUERIES``, such as ``travellerLookup``), is refused before it
runs with ``extensions.code`` ``METHOD_NOT_ALLOWED``, which the HTTP view (``schema.view``)
answers with 405 and ``Allow: POST``. The refusal is a validation error, so the operation's
audit row says INVALID (DENIED if the caller was refused as well) and nothing executes.

This is the one place that decides which operations GET may run; the view lets every
operation type through to it (so that the refusal has its audit row with the operation's
name), and keeps a second line behind it: a GET whose operation changed a record anyway is
rolled back and refused too.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from permissions.matrix import WRITING_QUERIES

__all__ = ["METHOD_NOT_ALLOWED", "SAFE_METHODS", "RefuseWritesOverGet", "writes_refused"]

#: The error code of an operation that the request's HTTP method may not run.
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
#: HTTP methods that must not change anything (RFC 9110 "safe" methods that reach GraphQL).
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[str]:
    """Names of the root fields a selection set asks for, through fragments and inline
    fragments (fields under ``@skip``/``@include`` count: the check does not guess)."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                yield from _root_fields(fragments[name].selection_set, fragments, seen)


def writes_refused(document: DocumentNode, operation_name: str | None) -> GraphQLError | None:
    """The refusal of the operation of ``document`` that would run (``operation_name``) when
    it may not run over a safe method: a mutation, or a query asking for a field of
    ``WRITING_QUERIES``. ``None`` when it may."""
    operation: OperationDefinitionNode | None = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    if operation.operation == OperationType.MUTATION:
        return GraphQLError(
            "Mutations change data: send them with POST, never GET.",
            extensions={"code": METHOD_NOT_ALLOWED},
        )
    if operation.operation != OperationType.QUERY:
        return None
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    writing = sorted(
        {
            name
            for name in _root_fields(operation.selection_set, fragments, set())
            if f"Query.{name}" in WRITING_QUERIES
        }
    )
    if not writing:
        return None
    return GraphQLError(
        f"{', '.join(writing)} records what it does: send it with POST, never GET.",
        extensions={"code": METHOD_NOT_ALLOWED},
    )


def _rule(error: GraphQLError) -> type[ValidationRule]:
    class RefuseOverGet(ValidationRule):
        def enter_document(self, *_args: object) -> None:
            self.report_error(error)

    return RefuseOverGet


class RefuseWritesOverGet(SchemaExtension):
    """Refuse, before it runs, an operation that a GET (or HEAD) may not run: a mutation or a
    query of ``permissions.matrix.WRITING_QUERIES`` (``extensions.code``
    ``METHOD_NOT_ALLOWED``)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        method = getattr(request, "method", None)
        if method in SAFE_METHODS and ctx.graphql_document is not None:
            error = writes_refused(ctx.graphql_document, ctx.operation_name)
            if error is not None:
                ctx.validation_rules = (*ctx.validation_rules, _rule(error))
        yield
