"""What every schema module shares: the scoped node base, typed mutation errors, enums."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any

import strawberry
import strawberry_django
from django.core.exceptions import FieldDoesNotExist
from django.db.models import FileField, Model, QuerySet
from strawberry import relay
from strawberry.relay.types import GlobalIDValueError
from strawberry.types import Info
from strawberry.types.field import StrawberryField
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.relay import resolve_model_node, resolve_model_nodes

from backend import models as m
from backend.registry import type_name
from permissions.scoping import scope_queryset

if TYPE_CHECKING:
    from resolvers.common import Failure

__all__ = [
    "ColumnField",
    "ErrorCode",
    "HandlingCaveatEnum",
    "IdentifierKindEnum",
    "LeadOutcomeEnum",
    "LeadStatusEnum",
    "LegalProcessEnum",
    "MutationError",
    "NoteKindEnum",
    "RecordIdField",
    "ScopedNode",
    "ScreeningOutcomeEnum",
    "SightingEventEnum",
    "SourceKindEnum",
    "SubjectRoleEnum",
    "TipCategoryEnum",
    "TipLinkKindEnum",
    "TipStatusEnum",
    "enum_value",
    "model_type",
    "mutation_errors",
]


class ScopedNode(relay.Node):
    """Base of every model type: lists, node fetches and nested relations are row-scoped."""

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Any], info: Info, **kwargs: Any) -> QuerySet[Any]:
        return scope_queryset(queryset, info.context.request.user)

    @classmethod
    def resolve_id_attr(cls) -> str:
        """Every model type's node id is its primary key. Said here once, because the default
        (strawberry-django's) looks for a ``NodeID`` annotation through every base's
        annotations, finds none on a model type, and so caches nothing: it ran again for every
        object's ``id``, ten times the cost of the rest of a 100-tip page."""
        return "pk"

    @classmethod
    def resolve_nodes(
        cls,
        *,
        info: Info,
        node_ids: Iterable[str] | None = None,
        required: bool = False,
    ) -> Any:
        """The records of ``node_ids`` (row-scoped); a node id that is not a record number
        (``Tip:abc``) is refused as INVALID_ID before the database is asked."""
        if node_ids is not None:
            node_ids = [_record_number(cls, node_id) for node_id in node_ids]
        return resolve_model_nodes(cls, info=info, node_ids=node_ids, required=required)

    @classmethod
    def resolve_node(cls, node_id: str, *, info: Info, required: bool = False) -> Any:
        """The record of ``node_id`` (row-scoped), or None; INVALID_ID as ``resolve_nodes``."""
        return resolve_model_node(cls, _record_number(cls, node_id), info=info, required=required)


def model_type(model: type[Model], **options: Any) -> Any:
    """``strawberry_django.type`` for ``model``'s rows, named as ``backend/registry.py`` names
    them (``type_name``: the type name of their global ids), so the name is typed once; its
    plain column fields resolved as basic fields (``ColumnField``)."""
    decorate = strawberry_django.type(model, name=type_name(model), **options)

    def apply(cls: Any) -> Any:
        decorated = decorate(cls)
        for field in decorated.__strawberry_definition__.fields:
            if _plain_column(model, field):
                field.__class__ = ColumnField
            elif field.python_name == "_id" and issubclass(decorated, ScopedNode):
                field.__class__ = RecordIdField
                field.record_type = type_name(model)
        return decorated

    return apply


class ColumnField(StrawberryDjangoField):
    """A field that only reads a loaded column of its record: a *basic* field, which
    strawberry resolves without building resolver arguments, an ``Info`` and the field
    extension chain for every object. strawberry-django marks all its fields non-basic (that
    chain was about a tenth of a 100-tip page's profile samples). Schema extensions
    (audit, dissemination, the optimizer) still see every field: they run as graphql-core
    middleware, around basic fields too, and the optimizer plans ``only()`` from the type's
    fields whatever their class."""

    @property
    def is_basic_field(self) -> bool:
        return True


class RecordIdField(StrawberryField):
    """The relay ``id`` of a model type (``ScopedNode``): the type's name and the record's
    primary key, as a basic field. strawberry's own resolver found the type through the
    schema and ran the field extension chain for every object, about as much as the rest of
    a 100-tip page's fields together."""

    record_type: str

    @property
    def is_basic_field(self) -> bool:
        return True

    def get_result(
        self, source: Any, info: Info | None, args: list[Any], kwargs: dict[str, Any]
    ) -> relay.GlobalID:
        return relay.GlobalID(self.record_type, str(source.pk))


def _plain_column(model: type[Model], field: Any) -> bool:
    """Whether ``field`` (of ``model``'s type) only reads one of the model's own columns: a
    strawberry-django field with no resolver, field extension or arguments, on a concrete
    field that is not a relation or a file."""
    if type(field) is not StrawberryDjangoField or field.base_resolver is not None:
        return False
    if field.extensions or field.arguments:
        return False
    try:
        column = model._meta.get_field(field.django_name or field.python_name)
    except FieldDoesNotExist:
        return False
    return bool(column.concrete and not column.is_relation and not isinstance(column, FileField))


def _record_number(node_type: type[relay.Node], node_id: Any) -> str:
    """``node_id`` when it is a record number, else GlobalIDValueError (code INVALID_ID)."""
    text = node_id.node_id if isinstance(node_id, relay.GlobalID) else str(node_id)
    if not _RECORD_NUMBER.fullmatch(text):
        name = getattr(node_type, "__name__", "record").removesuffix("Type")
        raise GlobalIDValueError(f"{text!r} is not the number of a {name} record")
    return text


_RECORD_NUMBER = re.compile(r"[0-9]{1,19}")


def _enum(choices: type[Any], name: str, description: str) -> Any:
    members = {value if value else "NONE": value for value in choices.values}
    return strawberry.enum(Enum(name, members), name=name, description=description)  # type: ignore[misc]


TipStatusEnum = _enum(m.TipStatus, "TipStatus", "Where a tip stands in review and referral.")
TipCategoryEnum = _enum(m.TipCategory, "TipCategory", "The kind of offence a tip reports.")
HandlingCaveatEnum = strawberry.enum(  # type: ignore[misc]
    Enum(  # type: ignore[misc]
        "HandlingCaveat",
        {
            caveat.value: strawberry.enum_value(caveat.value, description=caveat.effect)
            for caveat in m.HandlingCaveat
        },
    ),
    name="HandlingCaveat",
    description="Who may see a tip and how it must be handled. Each value says its effect; "
    "a caveat other than NONE travels with the records reached through the tip as a handling "
    "marking (handlingMarkings).",
)
SourceKindEnum = _enum(m.SourceKind, "SourceKind", "The kind of organisation that sent tips.")
IdentifierKindEnum = _enum(m.IdentifierKind, "IdentifierKind", "The kind of an identifier.")
SightingEventEnum = _enum(m.SightingEvent, "SightingEvent", "What the identifier was seen doing.")
SubjectRoleEnum = _enum(m.SubjectRole, "SubjectRole", "The part a person plays in a tip.")
TipLinkKindEnum = _enum(m.TipLinkKind, "TipLinkKind", "Why two tips are linked.")
LeadStatusEnum = _enum(m.LeadStatus, "LeadStatus", "Where a lead stands.")
LeadOutcomeEnum = _enum(m.LeadOutcome, "LeadOutcome", "What came of a lead (NONE: not yet).")
NoteKindEnum = _enum(m.NoteKind, "NoteKind", "A general remark or a border-targeting note.")
ScreeningOutcomeEnum = _enum(
    m.ScreeningOutcome, "ScreeningOutcome", "What border screening decided for a traveller."
)
LegalProcessEnum = _enum(m.LegalProcess, "LegalProcess", "How research results were obtained.")


@strawberry.enum(description="Stable codes of mutation errors.")
class ErrorCode(Enum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_IDENTIFIER = "INVALID_IDENTIFIER"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_HELD = strawberry.enum_value(
        "ALREADY_HELD", description="The record is already held for that legal matter."
    )
    NOT_HELD = strawberry.enum_value("NOT_HELD", description="The legal hold was lifted already.")


@strawberry.type(description="Why a mutation did not happen. Nothing was changed.")
class MutationError:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description="The input field at fault, in the mutation's camelCase names."
    )


def enum_value(member: Enum | None) -> Any:
    """The plain value of an optional enum argument, for the resolvers."""
    return None if member is None else member.value


def mutation_errors(failures: Iterable[Failure]) -> list[MutationError]:
    """The resolvers' failures as the schema's typed errors."""
    return [
        MutationError(code=ErrorCode(f.code), message=f.message, field=f.field) for f in failures
    ]
