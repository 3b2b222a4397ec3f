"""Trusted documents: registered operations, named by their hash.

A request may name a registered document (``backend.models.TrustedDocument``, loaded from
``schema/documents/`` by ``manage.py load_documents``) instead of, or beside, its text:

- Apollo's automatic persisted queries: ``extensions.persistedQuery`` =
  ``{"version": 1, "sha256Hash": "<hex>"}`` (POST body, or the ``extensions`` parameter of a
  GET);
- the GraphQL trusted-documents convention: ``documentId`` = ``"sha256:<hex>"`` (or the bare
  hex) beside ``query`` in the body, or as a GET parameter (the view hands it over as the
  operation extension ``documentId``).

A registered hash runs the registered text. We never register on the fly. Each operation's
refusal is an error with its ``extensions.code``, before anything is parsed or runs, and its
operation's audit row (``audit.operations``):

=================================  ===========================================================
``PERSISTED_QUERY_NOT_FOUND``      a hash without text that is not registered; the message is
                                   Apollo's ``PersistedQueryNotFound``
``PERSISTED_QUERY_HASH_MISMATCH``  text whose SHA-256 is not the hash the request names
``DOCUMENT_NOT_TRUSTED``           a role of ``permissions.matrix.TRUSTED_DOCUMENTS_ONLY``
                                   (partner-agency investigators, reporting clients) sent text
                                   that is not registered (audited DENIED)
``BAD_REQUEST``                    a malformed ``persistedQuery`` (not version 1, not a SHA-256
                                   hex) or ``documentId``, or the two naming different hashes
=================================  ===========================================================

Text sent with its hash, or alone, counts as registered when its SHA-256 is a registered hash;
every other role may run any text, with or without a hash (so Apollo Client's retry with the
full query works for them). Documents the server writes itself (the statistics CSV
downloads, ``schema.view.StatisticsCsvView``) are trusted through ``trust_server_document``.
A refused document is not parsed: its operation is answered and audited as a query, with the
text as sent. ``schema.document_cache`` keeps each registered document parsed and validated
for the process's life.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
    parse,
    specified_rules,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from backend.documents import document_hash, registered_document
from permissions.matrix import DOCUMENT_NOT_TRUSTED, ROLE_NAMES, TRUSTED_DOCUMENTS_ONLY
from schema.document_cache import cache

__all__ = [
    "DOCUMENT_ID",
    "DOCUMENT_NOT_TRUSTED",
    "PERSISTED_QUERY_HASH_MISMATCH",
    "PERSISTED_QUERY_NOT_FOUND",
    "STATUS_OF_CODES",
    "TrustedDocuments",
    "document_problems",
    "names_document",
    "trust_server_document",
    "with_document_id",
]

log = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
BAD_REQUEST = "BAD_REQUEST"
#: The operation extension under which the view hands over a request's ``documentId``.
DOCUMENT_ID = "documentId"
#: HTTP status of these refusals for graphql-response+json clients (``schema.view``), as
#: Apollo's router answers them.
STATUS_OF_CODES = {PERSISTED_QUERY_NOT_FOUND: 404, DOCUMENT_NOT_TRUSTED: 403}

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
#: The request attribute holding the hashes of the documents the server wrote for it.
_SERVER_DOCUMENTS = "server_document_hashes"


def with_document_id(
    extensions: dict[str, Any] | None, document_id: str | None
) -> dict[str, Any] | None:
    """A request's operation extensions, with its ``documentId`` (if any) among them."""
    if document_id is None:
        return extensions
    return {**(extensions or {}), DOCUMENT_ID: document_id}


def names_document(params: Mapping[str, Any]) -> bool:
    """Whether a GET's parameters name a document by its hash (so: not the GraphiQL page)."""
    return "extensions" in params or DOCUMENT_ID in params


def trust_server_document(request: HttpRequest, document: str) -> None:
    """Let ``request`` run ``document``, which the server itself wrote for it, whatever the
    caller's role."""
    hashes = getattr(request, _SERVER_DOCUMENTS, frozenset())
    setattr(request, _SERVER_DOCUMENTS, hashes | {document_hash(document)})


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash a request names (lowercase hex), or None; ``ValueError`` saying what is
    malformed."""
    extensions = extensions or {}
    named: list[str] = []
    persisted = extensions.get("persistedQuery")
    if persisted is not None:
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise ValueError("extensions.persistedQuery: only version 1 is supported.")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _HEX.match(digest):
            raise ValueError("extensions.persistedQuery.sha256Hash must be a SHA-256 in hex.")
        named.append(digest.lower())
    document_id = extensions.get(DOCUMENT_ID)
    if document_id is not None:
        digest = document_id.removeprefix("sha256:") if isinstance(document_id, str) else None
        if digest is None or not _HEX.match(digest):
            raise ValueError('documentId must be "sha256:" followed by a SHA-256 in hex.')
        named.append(digest.lower())
    if len(set(named)) > 1:
        raise ValueError("extensions.persistedQuery and documentId name different documents.")
    return named[0] if named else None


def _refusal(error: GraphQLError) -> type[ValidationRule]:
    class RefuseDocument(ValidationRule):
        def enter_document(self, *_args: object) -> None:
            self.report_error(error)

    return RefuseDocument


def _placeholder(operation_name: str | None) -> DocumentNode:
    """The document a refused operation is validated as, in place of one not parsed or not
    sent: a query (of the name the request gave) asking for nothing that runs."""
    return DocumentNode(
        definitions=(
            OperationDefinitionNode(
                operation=OperationType.QUERY,
                name=NameNode(value=operation_name) if operation_name else None,
                variable_definitions=(),
                directives=(),
                selection_set=SelectionSetNode(
                    selections=(
                        FieldNode(name=NameNode(value="__typename"), arguments=(), directives=()),
                    )
                ),
            ),
        )
    )


def _not_trusted(role: str) -> GraphQLError:
    who = ROLE_NAMES.get(role, "this role").capitalize()
    return _error(
        f"{who} may run only registered documents: send the hash of one "
        "(extensions.persistedQuery.sha256Hash, or documentId) or its exact text.",
        DOCUMENT_NOT_TRUSTED,
    )


class TrustedDocuments(SchemaExtension):
    """Runs the registered text a request names by its hash, and refuses what may not run
    (see the module's description). Listed after the gate, whose refusal comes first, and
    before the limits; its own refusal is a validation error beside theirs."""

    def on_operation(self) -> Iterator[None]:
        ctx = self.execution_context
        self._named = False
        try:
            self.refusal = self._resolve()
        except Exception:  # the database, most likely: refuse the operation, keep its audit row
            log.exception("could not look a trusted document up")
            self.refusal = _error(
                "Internal error: the server could not answer this. The problem was logged.",
                "INTERNAL_ERROR",
            )
        if self.refusal is not None or (self._named and not ctx.query):
            # not parsed: the operation is refused, or (a caller the gate refuses) has no text
            ctx.graphql_document = _placeholder(ctx.operation_name)
        yield

    def on_validate(self) -> Iterator[None]:
        if self.refusal is not None:
            ctx = self.execution_context
            ctx.validation_rules = (*ctx.validation_rules, _refusal(self.refusal))
        yield

    def _resolve(self) -> GraphQLError | None:
        """Put the registered text in place of a hash; the refusal of the operation, if any."""
        ctx = self.execution_context
        request = getattr(ctx.context, "request", None)
        user = getattr(request, "user", None)
        try:
            wanted = requested_hash(ctx.operation_extensions)
        except ValueError as exc:
            self._named = True
            return _error(str(exc), BAD_REQUEST)
        self._named = wanted is not None
        text = ctx.query or None
        if text is None and wanted is None:
            return None  # no query at all: the view refuses it (BAD_REQUEST)
        if not getattr(user, "is_authenticated", False):
            return None  # refused by the gate anyway: no hint of what is registered
        digest = document_hash(text) if text is not None else None
        if wanted is not None and digest is not None and digest != wanted:
            return _error(
                "The query's SHA-256 is not the hash the request names.",
                PERSISTED_QUERY_HASH_MISMATCH,
            )
        role = getattr(user, "role", "")
        if wanted is None and role not in TRUSTED_DOCUMENTS_ONLY:
            return None  # free text, from a role that may run any
        digest = digest or wanted or ""
        if digest in getattr(request, _SERVER_DOCUMENTS, ()):
            return None
        registered = registered_document(digest)
        if registered is not None:
            cache.pin(digest)
            ctx.query = registered
            return None
        if text is None:
            return _error("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)
        if role in TRUSTED_DOCUMENTS_ONLY:
            return _not_trusted(role)
        return None


def document_problems(text: str) -> list[str]:
    """Why ``text`` could never run, or ``[]``: it must parse within the token limit and pass
    the rules that depend on the document and the schema alone (graphql-core's and
    strawberry's, and the alias limit). The limits that depend on the variables are checked
    on each request."""
    from strawberry.extensions.max_aliases import create_validator

    from schema import schema

    try:
        document = parse(text, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError as exc:
        return [exc.message]
    rules = (*specified_rules, create_validator(settings.GRAPHQL_MAX_ALIASES))
    return [error.message for error in validate_document(schema._schema, document, rules)]
