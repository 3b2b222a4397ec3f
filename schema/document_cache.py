"""Parse and validation, cached per document hash.

Each process keeps the parsed ``DocumentNode`` of a document under its hash (SHA-256 of the
text, ``backend.documents.document_hash``) and the parse options (the token limit): the
registered documents (``schema.trusted_documents`` pins them) for as long as the process
lives, any other in a least-recently-used cache of ``settings.GRAPHQL_DOCUMENT_CACHE_SIZE``
entries. A document that does not parse is never kept.

Validation is cached only for what depends on the document and the schema alone: graphql-core's
specified rules (and strawberry's ``@oneOf`` and ``Maybe`` rules run with them). A document is
validated by every rule in one pass, as strawberry does, until one request passes them all;
from then on requests of that document run only the rules that depend on the request: the
limits (``schema.limits``, which read the variables), the gate's refusal, the GET guard, the
alias limit, a trusted-document refusal. Strawberry's
``ParserCache`` and ``ValidationCache`` do not fit: the first keys by the whole text and cannot
pin, the second keys by the tuple of rule classes, which our per-request rules make new on
every request (so it would never hit), and would hold a request's errors for the next one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from graphql import DocumentNode, GraphQLSchema, specified_rules, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from backend.documents import document_hash

__all__ = ["DOCUMENT_RULES", "CachedDocuments", "DocumentCache", "cache"]

#: The rules whose verdict depends on the document and the schema only: cached once passed.
DOCUMENT_RULES = frozenset(specified_rules)

_Key = tuple[str, tuple[tuple[str, Any], ...]]


@dataclass
class _Entry:
    document: DocumentNode
    #: (schema, rules) the document passed
    passed: set[tuple[GraphQLSchema, tuple[type, ...]]] = field(default_factory=set)


class DocumentCache:
    """Parsed documents by (hash, parse options): pinned hashes' kept for the process, the
    others' least recently used first out beyond ``maxsize`` (read at each insertion from
    ``settings.GRAPHQL_DOCUMENT_CACHE_SIZE`` unless given). Safe across threads."""

    def __init__(self, maxsize: int | None = None) -> None:
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._pinned_hashes: set[str] = set()
        self._pinned: dict[_Key, _Entry] = {}
        self._recent: OrderedDict[_Key, _Entry] = OrderedDict()
        self.hits = self.misses = 0

    @property
    def maxsize(self) -> int:
        return self._maxsize if self._maxsize is not None else settings.GRAPHQL_DOCUMENT_CACHE_SIZE

    @staticmethod
    def key(text: str, options: dict[str, Hashable]) -> _Key:
        return document_hash(text), tuple(sorted(options.items()))

    def get(self, key: _Key) -> _Entry | None:
        with self._lock:
            entry = self._pinned.get(key)
            if entry is None and (entry := self._recent.get(key)) is not None:
                self._recent.move_to_end(key)
            if entry is None:
                self.misses += 1
            else:
                self.hits += 1
            return entry

    def put(self, key: _Key, document: DocumentNode) -> _Entry:
        with self._lock:
            entry = _Entry(document)
            if key[0] in self._pinned_hashes:
                self._pinned[key] = entry
                return entry
            self._recent[key] = entry
            self._recent.move_to_end(key)
            while len(self._recent) > max(self.maxsize, 0):
                self._recent.popitem(last=False)
            return entry

    def pin(self, digest: str) -> None:
        """Keep the document of hash ``digest`` (a registered one) for the process's life."""
        with self._lock:
            if digest in self._pinned_hashes:
                return
            self._pinned_hashes.add(digest)
            for key in [key for key in self._recent if key[0] == digest]:
                self._pinned[key] = self._recent.pop(key)

    def clear(self) -> None:
        with self._lock:
            self._pinned_hashes.clear()
            self._pinned.clear()
            self._recent.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._pinned) + len(self._recent)


#: The process's cache.
cache = DocumentCache()


class CachedDocuments(SchemaExtension):
    """Parse each document once per process, and check it against the document-only rules
    once (see the module's description); the request-dependent rules run every time.

    Listed after every extension that adds validation rules, so that it sees them all."""

    def on_parse(self) -> Iterator[None]:
        ctx = self.execution_context
        self.entry: _Entry | None = None
        key = None
        if ctx.graphql_document is None and ctx.query:
            key = cache.key(ctx.query, dict(ctx.parse_options))
            self.entry = cache.get(key)
            if self.entry is not None:
                ctx.graphql_document = self.entry.document  # strawberry then skips parsing
        yield
        if self.entry is None and key is not None and ctx.graphql_document is not None:
            self.entry = cache.put(key, ctx.graphql_document)

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        entry: _Entry | None = getattr(self, "entry", None)
        if (
            entry is None
            or ctx.graphql_document is not entry.document
            or ctx.pre_execution_errors is not None
        ):
            yield  # nothing of ours to reuse: strawberry validates as usual
            return
        schema = ctx.schema._schema
        rules = ctx.validation_rules
        verdict = (schema, tuple(rule for rule in rules if rule in DOCUMENT_RULES))
        if verdict in entry.passed:
            request_rules = tuple(rule for rule in rules if rule not in DOCUMENT_RULES)
            errors = list(validate(schema, entry.document, request_rules)) if request_rules else []
        else:
            # every rule in one pass, as strawberry would; a clean pass clears the document
            errors = validate_document(schema, entry.document, rules)
            if not errors:
                entry.passed.add(verdict)
        ctx.pre_execution_errors = errors  # strawberry runs no validation of its own then
        yield
