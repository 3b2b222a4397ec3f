"""``migrate`` as the owner: the application role never runs DDL.

Django's own command, run on the owner's connection (``DATABASE_OWNER_URL``, or the embedded
server's superuser) to the same database; the ``post_migrate`` handlers then create the
application role if it is missing, grant it its privileges (``backend.database_roles``) and
attach the record-history triggers (``audit.protections``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate

from backend.database_roles import owner_connection

__all__ = ["Command"]


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as the database owner (DATABASE_OWNER_URL)."

    def handle(self, *args: Any, **options: Any) -> None:
        with owner_connection(options["database"]):
            super().handle(*args, **options)
