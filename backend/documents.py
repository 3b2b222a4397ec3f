"""Trusted documents on disk and in the table: the hash that names a document, the folder of
``.graphql`` files committed in the repository (``settings.GRAPHQL_DOCUMENTS_DIR``), and the
look-up of a registered text by its hash.

Each file holds one operation, named as the file (``TravellerLookup.graphql``: ``query
TravellerLookup``), and the fragments it uses; comments and layout are free. What is registered
is the file's document printed in GraphQL's canonical form (``graphql.print_ast``, the same as
graphql-js's ``print``), named by the SHA-256 of that text's UTF-8 bytes in lowercase hex:
exactly the hash Apollo Client's persisted-query link sends
(``extensions.persistedQuery.sha256Hash``) for the same document. A tool sending the text
itself must send the printed text (``manage.py load_documents --manifest`` lists each one with
its hash). ``backend.services.documents`` writes the table, ``manage.py load_documents`` loads
the folder into it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    print_ast,
)

from backend.models import TrustedDocument
from backend.prepared import fetch_prepared_value

__all__ = [
    "DOCUMENT_SUFFIX",
    "HASH_PATTERN",
    "NAME_PATTERN",
    "DocumentFile",
    "FolderError",
    "document_hash",
    "printed_document",
    "read_documents",
    "registered_document",
]

DOCUMENT_SUFFIX = ".graphql"
#: A document's hash: SHA-256, lowercase hex.
HASH_PATTERN = re.compile(r"^[0-9a-f]{64}$")
#: A document's name (its file's name): a GraphQL name, at most 100 characters.
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")


def document_hash(text: str) -> str:
    """The hash that names ``text``: SHA-256 of its UTF-8 bytes, lowercase hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DocumentFile:
    """One ``.graphql`` file of the folder: its name, and its document as registered (printed)."""

    name: str
    path: Path
    text: str

    @property
    def hash(self) -> str:
        return document_hash(self.text)


class FolderError(Exception):
    """The folder cannot be loaded; ``problems`` says why, one line per file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def printed_document(name: str, source: str) -> str:
    """The registered text of the file ``name`` holding ``source``: its document printed.
    ``FolderError`` when it does not parse, or holds anything but one operation named
    ``name`` and fragments."""
    try:
        document = parse(source)
    except GraphQLError as exc:
        raise FolderError([exc.message]) from None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or not all(
        isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
        for d in document.definitions
    ):
        raise FolderError(["a document holds one operation and the fragments it uses"])
    named = operations[0].name.value if operations[0].name else None
    if named != name:
        raise FolderError([f"its operation must be named {name}, as its file, not {named}"])
    return print_ast(document)


def read_documents(folder: Path) -> list[DocumentFile]:
    """The documents of ``folder``, by name. ``FolderError`` for a missing folder, a file name
    that is no GraphQL name, or a file that is not UTF-8 or not one operation named as the file
    (``printed_document``)."""
    if not folder.is_dir():
        raise FolderError([f"{folder}: no such folder"])
    problems: list[str] = []
    found: list[DocumentFile] = []
    for path in sorted(folder.glob(f"*{DOCUMENT_SUFFIX}")):
        name = path.name.removesuffix(DOCUMENT_SUFFIX)
        if not NAME_PATTERN.match(name):
            problems.append(
                f"{path.name}: the file's name must be a GraphQL name of at most 100 characters"
            )
            continue
        try:
            text = printed_document(name, path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            problems.append(f"{path.name}: not UTF-8 text")
            continue
        except FolderError as exc:
            problems += [f"{path.name}: {problem}" for problem in exc.problems]
            continue
        found.append(DocumentFile(name=name, path=path, text=text))
    if problems:
        raise FolderError(problems)
    return found


def registered_document(digest: str) -> str | None:
    """The registered text whose hash is ``digest``, or ``None`` (read on every request, so
    that a retired document is refused at once; one prepared statement, which also sends the
    operation's deferred audit context)."""
    return fetch_prepared_value(_REGISTERED_SQL, [digest])


_REGISTERED_SQL = f"SELECT document FROM {TrustedDocument._meta.db_table} WHERE hash = %s"
