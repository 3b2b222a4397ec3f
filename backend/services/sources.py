"""Sources of tips."""

from __future__ import annotations

from django.db import transaction

from backend.errors import DuplicateRecord, InvalidInput
from backend.models import Source, SourceKind
from backend.services.guards import check_lengths, refusing_duplicates

__all__ = ["create_source"]


@transaction.atomic
def create_source(*, kind: str, name: str, country: str = "") -> Source:
    """Register a source; (kind, name) is unique: a second one, even from a concurrent
    request, is refused with ``DuplicateRecord``."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("name must not be empty", field="name")
    if kind not in SourceKind.values:
        raise InvalidInput(
            f"kind {kind!r} is not one of {', '.join(SourceKind.values)}", field="kind"
        )
    country = country.strip().upper()
    if country and (len(country) != 2 or not (country.isascii() and country.isalpha())):
        raise InvalidInput(
            f"country must be an ISO 3166-1 alpha-2 code, got {country!r}", field="country"
        )
    check_lengths(Source, {"name": name})
    duplicate = f"a {kind} source named {name!r} already exists"
    if Source.objects.filter(kind=kind, name=name).exists():
        raise DuplicateRecord(duplicate, field="name")
    # a concurrent request may insert the same source between the check and the insert
    with refusing_duplicates({"source_kind_name_unique": (duplicate, "name")}):
        return Source.objects.create(kind=kind, name=name, country=country)
