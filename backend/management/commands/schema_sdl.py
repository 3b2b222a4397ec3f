"""Write the GraphQL schema in SDL to schema.graphql (or check that it is current)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Write the GraphQL schema (SDL) to schema.graphql; --check fails if the file is stale."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--path", default=str(Path(settings.BASE_DIR) / "schema.graphql"))
        parser.add_argument("--check", action="store_true", help="Only compare; exit 1 if stale.")

    def handle(self, *args: Any, **options: Any) -> None:
        from schema import schema

        sdl = schema.as_str() + "\n"
        path = Path(options["path"])
        if options["check"]:
            if not path.exists() or path.read_text() != sdl:
                raise CommandError(f"{path} is stale: run `make schema` and commit it")
            self.stdout.write(f"{path} is current")
            return
        path.write_text(sdl)
        self.stdout.write(f"wrote {path}")
