"""Load the trusted documents of ``schema/documents/`` into the table (or check it is current)."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backend.documents import FolderError, read_documents
from backend.services.documents import compare_documents, register_documents

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "Register the trusted documents of schema/documents/ (one operation per .graphql file, "
        "named as the file): the only documents partner-agency investigators and reporting "
        "clients may run. The table is made equal to the folder: new documents are added, "
        "documents no longer there are removed. Every document must parse and validate against "
        "the schema, or nothing is loaded. Idempotent; --check only reports drift."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--path",
            default=str(settings.GRAPHQL_DOCUMENTS_DIR),
            help="The folder of .graphql files (default: schema/documents/).",
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; exit 1 if the table differs from the folder.",
        )
        parser.add_argument(
            "--manifest",
            action="store_true",
            help="Change nothing; print the folder's documents as an Apollo persisted-query "
            "manifest (JSON: each operation's hash, name, type and registered text).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from schema.trusted_documents import document_problems

        folder = Path(options["path"])
        try:
            documents = read_documents(folder)
        except FolderError as exc:
            raise CommandError(_refused(folder, exc.problems)) from None
        problems = [
            f"{document.path.name}: {problem}"
            for document in documents
            for problem in document_problems(document.text)
        ]
        if problems:
            raise CommandError(_refused(folder, problems))
        if options["manifest"]:
            self.stdout.write(json.dumps(_manifest(documents), indent=2))
            return
        if options["check"]:
            changes = compare_documents(documents)
            if changes.drifted:
                raise CommandError(
                    "the registered documents differ from "
                    f"{folder}:\n  " + "\n  ".join(changes.lines()) + "\n"
                    "run `manage.py load_documents` to register the folder"
                )
            self.stdout.write(f"{len(documents)} documents registered, as in {folder}")
            return
        changes = register_documents(documents=documents)
        self.stdout.write(
            f"documents of {folder}: {len(changes.added)} added, {len(changes.renamed)} renamed, "
            f"{len(changes.removed)} removed, {len(changes.unchanged)} unchanged"
        )
        for line in changes.lines(done=True):
            self.stdout.write(f"  {line}")
        if options["verbosity"] > 1:
            for document in documents:
                self.stdout.write(f"  {document.hash}  {document.name}")


def _refused(folder: Path, problems: list[str]) -> str:
    return f"nothing loaded: documents of {folder} that could never run:\n  " + "\n  ".join(
        problems
    )


def _manifest(documents: list[Any]) -> dict[str, Any]:
    from graphql import OperationDefinitionNode, parse

    operations = []
    for document in documents:
        [operation] = [
            d for d in parse(document.text).definitions if isinstance(d, OperationDefinitionNode)
        ]
        operations.append(
            {
                "id": document.hash,
                "name": document.name,
                "type": operation.operation.value,
                "body": document.text,
            }
        )
    return {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
