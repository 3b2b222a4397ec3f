"""Identifiers: normalise, then find or create the one row per normalised value."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least

from backend.errors import DuplicateRecord, InvalidIdentifierValue
from backend.identifiers import InvalidIdentifier, Normalised, normalise
from backend.models import Identifier
from backend.services.alerts import raise_correction_alerts
from backend.services.guards import check_text, refusing_duplicates

__all__ = [
    "MAX_QUALIFIER_LENGTH",
    "MAX_VALUE_LENGTH",
    "clear_normalise_cache",
    "normalise_cached",
    "normalise_or_raise",
    "resolve_identifier",
    "update_identifier",
]

#: The columns an identifier's value (raw, normalised, canonical) and qualifier go into.
MAX_VALUE_LENGTH: int = Identifier._meta.get_field("value").max_length  # type: ignore[assignment]
MAX_QUALIFIER_LENGTH: int = Identifier._meta.get_field("qualifier").max_length  # type: ignore[assignment]


#: How many distinct (kind, raw value, qualifier) results ``normalise_cached`` keeps: a bounded
#: cache, so memory stays constant however large the file.
NORMALISE_CACHE_SIZE = 200_000


@lru_cache(maxsize=NORMALISE_CACHE_SIZE)
def _normalise_once(kind: str, raw: str, qualifier: str) -> Normalised | InvalidIdentifier:
    try:
        return normalise(kind, raw, qualifier=qualifier)
    except InvalidIdentifier as exc:
        exc.__traceback__ = None  # kept: not its frames
        return exc


def normalise_cached(kind: str, raw: str, *, qualifier: str = "") -> Normalised:
    """``backend.identifiers.normalise``, computed once per distinct (kind, raw value,
    qualifier): bulk intake normalises the same phone numbers and addresses over and over
    (validation and the importer both ask), and normalising is pure. Raises what ``normalise``
    raises (an unknown kind is not cached)."""
    result = _normalise_once(str(getattr(kind, "value", kind)), raw, qualifier)
    if isinstance(result, InvalidIdentifier):
        raise InvalidIdentifier(result.kind, result.raw, result.reason)
    return result


def clear_normalise_cache() -> None:
    """Forget what ``normalise_cached`` computed (benchmarks start cold)."""
    _normalise_once.cache_clear()


def normalise_or_raise(
    *, kind: str, value: str, qualifier: str = "", field: str = "value"
) -> Normalised:
    """Normalise a value or raise ``InvalidIdentifierValue`` naming the kind and value. A
    value or qualifier longer than its column is refused before it is normalised, and so is
    one that normalising would make too long."""
    # the fields beside the value (``identifiers[1].kind``, ``identifiers[1].qualifier``)
    prefix = field[: -len("value")] if field.endswith("value") else ""
    check_text(value, field=field, max_length=MAX_VALUE_LENGTH)
    check_text(qualifier, field=f"{prefix}qualifier", max_length=MAX_QUALIFIER_LENGTH)
    try:
        norm = normalise(kind, value, qualifier=qualifier)
    except InvalidIdentifier as exc:
        raise InvalidIdentifierValue(str(exc), field=field) from exc
    except ValueError as exc:  # an unknown kind
        raise InvalidIdentifierValue(str(exc), field=f"{prefix}kind") from exc
    if max(len(norm.value), len(norm.canonical)) > MAX_VALUE_LENGTH:
        raise InvalidIdentifierValue(
            f"{field} is longer than {MAX_VALUE_LENGTH} characters once normalised", field=field
        )
    if len(norm.qualifier) > MAX_QUALIFIER_LENGTH:
        raise InvalidIdentifierValue(
            f"{prefix}qualifier is longer than {MAX_QUALIFIER_LENGTH} characters once normalised",
            field=f"{prefix}qualifier",
        )
    return norm


def resolve_identifier(
    *,
    kind: str,
    value: str,
    qualifier: str = "",
    seen_at: datetime | None = None,
    field: str = "value",
) -> tuple[Identifier, bool]:
    """Return the identifier row for this value (creating it if new) and whether it was created."""
    norm = normalise_or_raise(kind=kind, value=value, qualifier=qualifier, field=field)
    lookup = {"kind": norm.kind.value, "qualifier": norm.qualifier, "value": norm.value}
    created = False
    identifier = Identifier.objects.filter(**lookup).first()
    if identifier is None:
        try:
            with transaction.atomic():
                identifier = Identifier.objects.create(
                    **lookup,
                    canonical=norm.canonical,
                    raw_value=value.strip(),
                    first_seen=seen_at,
                    last_seen=seen_at,
                )
                created = True
        except IntegrityError:  # a concurrent transaction created it first
            identifier = Identifier.objects.get(**lookup)
    if seen_at is not None and not created:
        # PostgreSQL's LEAST/GREATEST skip NULLs, so an unset first/last seen takes seen_at.
        Identifier.objects.filter(pk=identifier.pk).update(
            first_seen=Least(F("first_seen"), Value(seen_at)),
            last_seen=Greatest(F("last_seen"), Value(seen_at)),
        )
        identifier.refresh_from_db(fields=["first_seen", "last_seen"])
    return identifier, created


def update_identifier(
    *, identifier: Identifier, kind: str, value: str, qualifier: str = ""
) -> Identifier:
    """Correct an identifier's value; refuses a correction that collides with another row."""
    norm = normalise_or_raise(kind=kind, value=value, qualifier=qualifier)
    clash = (
        Identifier.objects.filter(kind=norm.kind.value, qualifier=norm.qualifier, value=norm.value)
        .exclude(pk=identifier.pk)
        .first()
    )
    duplicate = f"{norm.kind.label} {norm.value!r} already exists as another identifier"
    if clash is not None:
        raise DuplicateRecord(duplicate, field="value")
    identifier.kind = norm.kind.value
    identifier.qualifier = norm.qualifier
    identifier.value = norm.value
    identifier.canonical = norm.canonical
    identifier.raw_value = value.strip()
    with refusing_duplicates({"identifier_normalised_unique": (duplicate, "value")}):
        identifier.save()
    raise_correction_alerts(Identifier, [identifier.pk], removed=False)
    return identifier
