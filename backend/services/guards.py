"""Checks every writing service makes before it writes, so that the database never has to
refuse a value: text that fits its column, and unique rows that a concurrent request
created first.

``check_lengths`` compares text with the model field's ``max_length`` (and refuses NUL
characters, which no PostgreSQL text can hold) and raises ``InvalidInput`` naming the input
field. ``refusing_duplicates`` turns the unique-violation of a named constraint, raised when
another transaction inserted the same row first, into ``DuplicateRecord``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Model

from backend.errors import DuplicateRecord, InvalidInput

__all__ = ["camel", "check_lengths", "check_text", "refusing_duplicates"]


def camel(name: str) -> str:
    """A model field name as the API spells it: ``source_reference`` -> ``sourceReference``."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def check_text(value: str, *, field: str, max_length: int | None = None) -> None:
    """Refuse text that no column could hold: a NUL character, or more than ``max_length``
    characters."""
    if "\x00" in value:
        raise InvalidInput(f"{field} contains a NUL character, which text may not", field=field)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(
            f"{field} may be at most {max_length} characters, got {len(value)}", field=field
        )


def check_lengths(
    model: type[Model],
    values: Mapping[str, str | Iterable[str] | None],
    *,
    fields: Mapping[str, str] | None = None,
) -> None:
    """Check each value against the ``max_length`` of the model field of that name (for an
    array field, each item against its base field). ``fields`` names the input field of a
    model field when it is not the camelCase of its name. ``None`` values are skipped."""
    for name, value in values.items():
        if value is None:
            continue
        field = model._meta.get_field(name)
        label = (fields or {}).get(name) or camel(name)
        if isinstance(value, str):
            check_text(value, field=label, max_length=getattr(field, "max_length", None))
            continue
        base = getattr(field, "base_field", field)
        for index, item in enumerate(value):
            check_text(
                item, field=f"{label}[{index}]", max_length=getattr(base, "max_length", None)
            )


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def refusing_duplicates(constraints: Mapping[str, tuple[str, str]]) -> Iterator[None]:
    """Run the block in a savepoint; a violation of one of ``constraints`` (constraint name
    -> (message, input field)) rolls it back and raises ``DuplicateRecord``. The database
    decides, so two requests racing to insert the same row get one row and one DUPLICATE."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        found = constraints.get(_constraint(error) or "")
        if found is None:
            raise
        message, field = found
        raise DuplicateRecord(message, field=field) from None
