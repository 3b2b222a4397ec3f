"""Registering trusted documents: the table made equal to the folder.

``compare_documents`` says how the table differs from a list of documents (the folder's);
``register_documents`` makes it equal, in one transaction: documents no longer in the folder
are removed (a partner tool can no longer run them), new ones added, renamed ones renamed. A
document kept as it was keeps its row and its ``registered_at``. Every write goes through the
ORM, so the table's record-history trigger keeps each change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction

from backend.documents import DocumentFile
from backend.models import TrustedDocument

__all__ = ["DocumentChanges", "compare_documents", "register_documents"]


@dataclass(frozen=True)
class DocumentChanges:
    """Names of the documents added, renamed (``old -> new``), removed and left as they were."""

    added: list[str]
    renamed: list[str]
    removed: list[str]
    unchanged: list[str]

    @property
    def drifted(self) -> bool:
        return bool(self.added or self.renamed or self.removed)

    def lines(self, *, done: bool = False) -> list[str]:
        """One line per difference: as found (``done``: as made good)."""
        added, renamed, removed = (
            ("added", "renamed", "removed")
            if done
            else (
                "not registered",
                "registered under another name",
                "registered but not in the folder (or changed)",
            )
        )
        return (
            [f"{added}: {name}" for name in self.added]
            + [f"{renamed}: {pair}" for pair in self.renamed]
            + [f"{removed}: {name}" for name in self.removed]
        )


def compare_documents(documents: Sequence[DocumentFile]) -> DocumentChanges:
    """How the table differs from ``documents``; writes nothing."""
    wanted = {document.hash: document.name for document in documents}
    rows = dict(TrustedDocument.objects.values_list("hash", "name"))
    return DocumentChanges(
        added=sorted(name for digest, name in wanted.items() if digest not in rows),
        renamed=sorted(
            f"{rows[digest]} -> {name}"
            for digest, name in wanted.items()
            if digest in rows and rows[digest] != name
        ),
        removed=sorted(name for digest, name in rows.items() if digest not in wanted),
        unchanged=sorted(name for digest, name in wanted.items() if rows.get(digest) == name),
    )


def register_documents(*, documents: Sequence[DocumentFile]) -> DocumentChanges:
    """Make the table hold exactly ``documents`` (checked by the caller: each one parses and
    validates); returns what changed. Idempotent; concurrent runs take turns."""
    wanted = {document.hash: document for document in documents}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('tipgraph.load_documents'))")
        changes = compare_documents(documents)
        TrustedDocument.objects.exclude(hash__in=list(wanted)).delete()
        renamed = [
            row
            for row in TrustedDocument.objects.filter(hash__in=list(wanted))
            if row.name != wanted[row.hash].name
        ]
        # names are unique: move the renamed rows aside first, so that two may swap names
        for row in renamed:
            row.name = f"~{row.hash}"
            row.save(update_fields=["name"])
        for row in renamed:
            row.name = wanted[row.hash].name
            row.save(update_fields=["name"])
        known = set(TrustedDocument.objects.values_list("hash", flat=True))
        TrustedDocument.objects.bulk_create(
            TrustedDocument(hash=digest, name=document.name, document=document.text)
            for digest, document in wanted.items()
            if digest not in known
        )
    return changes
