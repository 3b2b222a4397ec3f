"""Legal holds: the program manager places one on a tip, lead or subject, and lifts it.

While a hold is active the record and what is linked to it are never due for disposal
(``backend.services.retention``). A record may be held for several legal matters at once, one
active hold per matter (its reference, ignoring case); lifting one leaves the others. Both
writes are changes like any other: the history trigger keeps their before and after, and the
operation's audit row names the hold (``backend/registry.py``).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.db.models.functions import Lower
from django.utils import timezone

from backend import models as m
from backend.errors import AlreadyHeld, InvalidInput, NotHeld
from backend.services.guards import check_lengths, check_text

__all__ = ["HOLDABLE", "lift_hold", "place_hold"]

#: The records a hold can be placed on, and the hold's field naming each.
HOLDABLE: dict[type[Model], str] = {m.Tip: "tip", m.Lead: "lead", m.Subject: "subject"}


def _required(value: str, *, field: str, what: str) -> str:
    value = value.strip()
    check_text(value, field=field)
    if not value:
        raise InvalidInput(f"{what} is required", field=field)
    return value


@transaction.atomic
def place_hold(*, by: m.User, record: Model, reason: str, reference: str) -> m.LegalHold:
    """Hold ``record`` (a tip, lead or subject) for the legal matter ``reference``, for
    ``reason``; ``AlreadyHeld`` when that matter holds it already."""
    target = HOLDABLE.get(type(record))
    if target is None:
        raise InvalidInput(
            f"a legal hold is placed on a tip, lead or subject, not a {type(record).__name__}",
            field="recordId",
        )
    reason = _required(reason, field="reason", what="a legal hold's reason")
    reference = _required(reference, field="reference", what="the legal matter's reference")
    check_lengths(m.LegalHold, {"reference": reference})
    # Holds on one record are placed one at a time: the record's row lock orders them, so the
    # check below sees every hold committed before it (the unique index is the backstop).
    list(
        type(record)
        ._default_manager.select_for_update(no_key=True)
        .filter(pk=record.pk)
        .values_list("pk", flat=True)
    )
    existing = (
        m.LegalHold.objects.active()
        .filter(**{target: record})
        .annotate(matter=Lower("reference"))
        .filter(matter=reference.lower())
        .first()
    )
    if existing is not None:
        raise AlreadyHeld(
            f"{type(record).__name__} {record.pk} is already held for {existing.reference} "
            f"(hold {existing.pk}, placed {existing.placed_at:%Y-%m-%d})",
            field="reference",
        )
    try:
        with transaction.atomic():
            return m.LegalHold.objects.create(
                **{target: record},
                reason=reason,
                reference=reference,
                placed_by=by,
                placed_at=timezone.now(),
            )
    except IntegrityError as error:  # the row lock above orders concurrent holds
        constraint = getattr(getattr(error.__cause__, "diag", None), "constraint_name", "")
        if not (constraint or "").startswith("legalhold_active_"):
            raise
        raise AlreadyHeld(
            f"{type(record).__name__} {record.pk} is already held for {reference}",
            field="reference",
        ) from None


@transaction.atomic
def lift_hold(*, by: m.User, hold: m.LegalHold, reason: str) -> m.LegalHold:
    """Lift ``hold``, for ``reason``; ``NotHeld`` when it was lifted already. The record stays
    held while another matter's hold on it is active."""
    reason = _required(reason, field="reason", what="the reason for lifting a legal hold")
    hold = m.LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.lifted_at is not None:
        raise NotHeld(f"legal hold {hold.pk} was lifted on {hold.lifted_at:%Y-%m-%d}", field="id")
    hold.lifted_at = max(timezone.now(), hold.placed_at)
    hold.lifted_by = by
    hold.lift_reason = reason
    hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    return hold
