"""Create the application role and give it its privileges, as the owner.

``migrate`` does the same after every run; this command is for a database whose owner set up
the schema before, or to give the application role a new password.
"""

from __future__ import annotations

import getpass
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from audit.protections import sync_history_triggers
from backend.database_roles import (
    application_role,
    ensure_application_role,
    grant_application_role,
    is_owner,
    owner_connection,
    uses_one_role,
)

__all__ = ["Command"]


class Command(BaseCommand):
    help = (
        "As the owner (DATABASE_OWNER_URL): create the application role named by DATABASE_URL "
        "if it is missing (with DATABASE_URL's password), grant it exactly its privileges and "
        "attach the record-history triggers. --password sets a new password (prompted)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--password",
            action="store_true",
            help="Prompt for a new password of the application role and set it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if uses_one_role():
            raise CommandError(
                "DATABASE_URL and DATABASE_OWNER_URL name the same role: set DATABASE_OWNER_URL "
                "to the owner's URL and DATABASE_URL to the application role's"
            )
        role = application_role()
        password = None
        if options["password"]:
            password = getpass.getpass(f"new password for {role}: ")
            if len(password) < 16:
                raise CommandError("use a password of at least 16 characters")
        with owner_connection() as connection:
            if not is_owner(connection):
                raise CommandError(
                    "DATABASE_OWNER_URL's user does not own the tables: run migrate as the owner "
                    "first"
                )
            created = ensure_application_role(
                connection, role, password=settings.DATABASE_APPLICATION["PASSWORD"]
            )
            if password:
                with connection.cursor() as cursor:
                    cursor.execute(
                        sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                            sql.Identifier(role), sql.Literal(password)
                        )
                    )
            grant_application_role(connection, role)
            sync_history_triggers(connection)
        self.stdout.write(
            f"application role {role}: {'created' if created else 'exists'}; privileges granted; "
            "record-history triggers in place"
        )
