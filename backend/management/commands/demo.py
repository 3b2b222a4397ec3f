"""Set up (and optionally serve) the demo: migrate, the trusted documents, one user per role,
fake data."""

from __future__ import annotations

import secrets
import subprocess
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backend import models as m
from backend.demo import DEMO_SOURCE_PREFIX, load_demo_data
from permissions.lifecycle import training_lapses_on


class _ProgressBar:
    """A one-line progress bar per stage, on standard error."""

    def __init__(self) -> None:
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage and self.stage:
            sys.stderr.write("\n")
        self.stage = stage
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r  {stage:<26} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def serve(port: int) -> None:
    """Serve the ASGI entry on 127.0.0.1:``port`` until interrupted: HTTP (GraphiQL, the
    dashboard, static files through WhiteNoise's finders in development) and GraphQL
    subscriptions over WebSocket, with the WebSocket limits of the production ASGI worker
    (``backend.asgi_worker``). Django's runserver speaks no WebSocket."""
    import uvicorn

    from backend.asgi_worker import AsgiWorker

    uvicorn.run(
        "backend.asgi:application",
        host="127.0.0.1",
        port=port,
        lifespan="off",  # Django's ASGI handler has no lifespan events
        **AsgiWorker.CONFIG_KWARGS,
    )


class Command(BaseCommand):
    help = (
        "Demo mode only (TIPGRAPH_DEBUG=1): migrate the database, load the trusted documents "
        "(load_documents), create one demo user per role "
        "(credentials printed once, when created), load a generated, clearly fake data set, and "
        "with --serve start the development server (HTTP and WebSocket subscriptions, on uvicorn) "
        "with GraphiQL and the background worker."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--tips", type=int, default=3000, help="How many fake tips (default 3000)."
        )
        parser.add_argument("--seed", type=int, default=7, help="Random seed of the generator.")
        parser.add_argument("--serve", action="store_true", help="Start the server afterwards.")
        parser.add_argument("--port", default="8000", help="Port of the server (default 8000).")
        parser.add_argument(
            "--reset-passwords", action="store_true", help="Give the demo users new passwords."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("the demo runs in development mode only: set TIPGRAPH_DEBUG=1")
        if options["tips"] < 1 or options["tips"] > 200_000:
            raise CommandError("--tips must be between 1 and 200000")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        call_command("load_documents", stdout=self.stdout)  # what the partner roles may run
        self._users(reset=options["reset_passwords"])
        if m.Tip.objects.filter(source__name__startswith=DEMO_SOURCE_PREFIX).exists():
            self.stdout.write("demo data already loaded (delete ./var/pgdata to start over)")
        else:
            self.stdout.write(f"loading {options['tips']} fake tips")
            bar = _ProgressBar()
            counts = load_demo_data(tips=options["tips"], seed=options["seed"], progress=bar)
            bar.close()
            self.stdout.write("loaded: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        if options["serve"]:
            self.stdout.write(
                f"\nGraphiQL: http://127.0.0.1:{options['port']}/graphql "
                f"(sign in first at http://127.0.0.1:{options['port']}/accounts/login/)\n"
                f"Analyst dashboard: http://127.0.0.1:{options['port']}/dashboard/"
            )
            # The background worker (imports, disposal runs, periodic tasks) beside the server.
            worker = subprocess.Popen(
                [sys.executable, "manage.py", "run_worker"], cwd=settings.BASE_DIR
            )
            self.stdout.write(f"background worker started (pid {worker.pid})")
            try:
                serve(int(options["port"]))
            finally:
                worker.terminate()
                worker.wait(timeout=30)

    def _users(self, *, reset: bool) -> None:
        lines = []
        users: dict[m.Role, m.User] = {}
        for role in m.Role:
            username = f"demo-{role.value.lower().replace('_', '-')}"
            user, created = m.User.objects.get_or_create(
                username=username, defaults={"role": role.value, "agency": "DEMO"}
            )
            if created or reset:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.is_staff = role in (m.Role.SYSTEM_ADMINISTRATOR, m.Role.PROGRAM_MANAGER)
                user.save()
                lines.append(f"  {role.label:<48} {username:<28} {password}")
            users[role] = user
        self._complete_access_lifecycle(users)
        if lines:
            self.stdout.write(
                "demo users (passwords are shown this once; --reset-passwords for new):"
            )
            self.stdout.write("\n".join(lines))
        else:
            self.stdout.write(
                "demo users exist (passwords were printed when created; --reset-passwords)"
            )

    @staticmethod
    def _complete_access_lifecycle(users: dict[m.Role, m.User]) -> None:
        """Every demo user may act: nominated, certified, compliance reviewed by the demo
        system administrator, approved by the demo program manager (neither of them by
        themselves), rules accepted, training current (recorded by the demo system
        administrator), privileges reviewed. Steps already recorded are kept; lapsed training
        is renewed."""
        now = timezone.now()
        sysadmin = users[m.Role.SYSTEM_ADMINISTRATOR]
        manager = users[m.Role.PROGRAM_MANAGER]
        for user in users.values():
            user.nominated_by = user.nominated_by or "DEMO supervisor"
            user.nominated_at = user.nominated_at or now
            user.certified_at = user.certified_at or now
            if user.compliance_reviewed_at is None:
                user.compliance_reviewed_at = now
                user.compliance_reviewed_by = None if user.pk == sysadmin.pk else sysadmin
            if user.approved_at is None:
                user.approved_at = now
                user.approved_by = None if user.pk == manager.pk else manager
            user.rules_accepted_at = user.rules_accepted_at or now
            lapses = training_lapses_on(user)
            if lapses is None or lapses <= now:
                user.annual_training_at = now
                # recorded by the demo system administrator, never by the account itself
                user.annual_training_recorded_by = None if user.pk == sysadmin.pk else sysadmin
            user.privileges_reviewed_at = user.privileges_reviewed_at or now
            user.save()
