"""Helpers every mutation resolver uses: load records by global id, turn domain errors into
plain failures (the schema shows them as ``MutationError``), read the acting user."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Model
from strawberry import relay
from strawberry.types import Info

from backend import registry
from backend.errors import DomainError, RecordNotFound
from permissions.scoping import scope_queryset

__all__ = ["Failure", "Outcome", "acting_user", "load", "load_many", "run"]

M = TypeVar("M", bound=Model)
T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """Why a mutation did not happen, in plain values: a stable code (one of the schema's
    ``ErrorCode`` values), a message and the input field at fault (camelCase), if any."""

    code: str
    message: str
    field: str | None = None


#: What a mutation resolver hands back: the changed object, or the failures that stopped it.
Outcome = tuple[Any, list[Failure]]

MAX_IDS_PER_CALL = 200


def acting_user(info: Info) -> Any:
    return info.context.request.user


def load(
    info: Info,
    gid: relay.GlobalID | None,
    model: type[M],
    *,
    field: str,
    type_name: str | None = None,
) -> M:
    """Fetch one record the caller may see by its global id, or raise ``RecordNotFound``.
    The id must be of the model's GraphQL type (``backend.registry``)."""
    type_name = type_name or registry.type_name(model)
    if gid is None:
        raise RecordNotFound(f"{field} is required", field=field)
    if gid.type_name != type_name:
        raise RecordNotFound(
            f"{field} must be the id of a {type_name}, got a {gid.type_name}", field=field
        )
    try:
        pk = int(gid.node_id)
    except ValueError:
        raise RecordNotFound(f"{field} is not a valid {type_name} id", field=field) from None
    found = scope_queryset(model._default_manager.all(), acting_user(info)).filter(pk=pk).first()
    if found is None:
        raise RecordNotFound(f"no {type_name} with id {gid}", field=field)
    return found


def load_many(
    info: Info,
    gids: Iterable[relay.GlobalID],
    model: type[M],
    *,
    field: str,
    type_name: str | None = None,
) -> list[M]:
    """Fetch several records by global id in one query; any unknown id is an error."""
    type_name = type_name or registry.type_name(model)
    gids = list(gids)
    if len(gids) > MAX_IDS_PER_CALL:
        raise DomainError(f"at most {MAX_IDS_PER_CALL} ids in {field}", field=field)
    pks: list[int] = []
    for gid in gids:
        if gid.type_name != type_name:
            raise RecordNotFound(
                f"{field} must hold {type_name} ids, got a {gid.type_name}", field=field
            )
        try:
            pks.append(int(gid.node_id))
        except ValueError:
            raise RecordNotFound(f"{field} holds an invalid {type_name} id", field=field) from None
    found = {
        obj.pk: obj
        for obj in scope_queryset(model._default_manager.all(), acting_user(info)).filter(
            pk__in=pks
        )
    }
    missing = [str(relay.GlobalID(type_name, str(pk))) for pk in pks if pk not in found]
    if missing:
        raise RecordNotFound(f"no {type_name} with id {', '.join(missing)}", field=field)
    return [found[pk] for pk in pks]


def run(action: Callable[[], T]) -> tuple[T | None, list[Failure]]:
    """Run ``action`` in one transaction; a domain error rolls it back and becomes a failure."""
    try:
        with transaction.atomic():
            return action(), []
    except DomainError as exc:
        return None, [Failure(code=exc.code, message=exc.message, field=exc.field)]
