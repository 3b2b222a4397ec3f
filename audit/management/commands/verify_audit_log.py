"""``manage.py verify_audit_log``: prove that no audit row was removed or altered."""

from __future__ import annotations

import argparse
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verify import Anchor, verify_chain

__all__ = ["Command"]

_ANCHOR = re.compile(r"^(?P<seq>[1-9][0-9]*):(?P<hash>[0-9a-f]{64})$")


def _anchor(value: str) -> Anchor:
    match = _ANCHOR.match(value.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError("expected SEQ:HASH, e.g. 1042:3f5a... (64 hex digits)")
    return Anchor(seq=int(match["seq"]), row_hash=match["hash"])


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain: every row from seq 1 on is present (no gap), "
        "each row's prev_hash is the previous row's row_hash, and each row_hash matches the "
        "row's content; also that every stored query text matches its hash. Exits with 0 and "
        "a summary (rows checked, head seq and hash) when the log is intact, and with 1 and "
        "the first problem found otherwise. Keep the reported head somewhere else and pass it "
        "back with --anchor to also detect removal of the newest rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--anchor",
            type=_anchor,
            metavar="SEQ:HASH",
            help=(
                "a head reported by an earlier run: fail unless row SEQ still exists with "
                "row_hash HASH"
            ),
        )

    def handle(self, *args: Any, anchor: Anchor | None = None, **options: Any) -> None:
        report = verify_chain(anchor=anchor)
        if not report.ok:
            raise CommandError(report.summary(), returncode=1)
        self.stdout.write(self.style.SUCCESS(report.summary()))
