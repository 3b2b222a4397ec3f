"""What the disposal tests share: records back-dated past their period, program managers,
and a run requested, approved and carried out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Model
from django.utils import timezone

from backend import models as m
from backend.retention import Category
from backend.services import disposal
from tests.factories import (
    IdentifierFactory,
    NoteFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

__all__ = [
    "T0",
    "approved_run",
    "back_date",
    "carry_out",
    "exists",
    "program_managers",
    "tip_family",
]

#: When the old records happened: far enough back that every period has passed by now.
T0 = dt.datetime(1990, 1, 1, 12, 0, tzinfo=dt.UTC)


def back_date(record: Model, **times: dt.datetime) -> None:
    """Move ``record``'s times back (``update`` leaves ``auto_now`` alone)."""
    type(record)._default_manager.filter(pk=record.pk).update(**times)


def tip_family(tag: str) -> dict[str, Any]:
    """A tip with a note, a person and an identifier seen in it, all made now."""
    tip = TipFactory(
        source_reference=f"REF-{tag}", narrative=f"narrative of {tag}", received_at=timezone.now()
    )
    subject = SubjectFactory(full_name=f"Person {tag}")
    identifier = IdentifierFactory(raw_value=f"{tag.lower()}@example.com")
    sighting = SightingFactory(tip=tip, identifier=identifier)
    link = TipSubjectFactory(tip=tip, subject=subject)
    note = NoteFactory(record=tip, body=f"note on {tag}")
    return {
        "tip": tip,
        "subject": subject,
        "identifier": identifier,
        "sighting": sighting,
        "tip_subject": link,
        "note": note,
    }


def program_managers() -> tuple[m.User, m.User]:
    return (
        UserFactory(username="pm.jones", role=m.Role.PROGRAM_MANAGER),
        UserFactory(username="pm.smith", role=m.Role.PROGRAM_MANAGER),
    )


def approved_run(*categories: Category, as_of: dt.datetime | None = None) -> m.DisposalRun:
    """A run of ``categories`` requested by one program manager and approved by another."""
    jones, smith = program_managers()
    run = disposal.request_disposal(
        by=jones, categories=list(categories) or None, as_of=as_of or timezone.now()
    )
    return disposal.approve_disposal(by=smith, run=run)


def carry_out(run: m.DisposalRun, *, size: int | None = None) -> m.DisposalRun:
    """Carry ``run`` out to its end in this process (as ``manage.py dispose --run``)."""
    for _ in disposal.run_to_end(run.pk, size=size):
        pass
    run.refresh_from_db()
    return run


def exists(record: Model) -> bool:
    return type(record)._default_manager.filter(pk=record.pk).exists()
