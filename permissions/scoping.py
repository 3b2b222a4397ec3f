"""Row scoping: the one function every GraphQL type's ``get_queryset`` calls.

Lists, node fetches, nested relations and mutation look-ups all pass through
``scope_queryset``, so a rule written here holds on every path at once:

- removed records (and links an analyst removed) are hidden from everyone but the program
  manager;
- analysts and program managers (the owning agency) see the rest of the graph;
- a partner-agency investigator sees only records a traveller lookup of theirs returned,
  for ``DISCLOSURE_REOPEN_DAYS`` after that lookup (then they must look it up again), and of
  those only what the partner rule (``permissions.partner``) lets a partner learn at all:
  never an OWNER_ONLY tip, a person only as a suspect on a visible tip (never a victim,
  witness, reporting person or other), no leads, sources, offices or research results, and
  of the notes on their records only targeting notes and notes by investigators;
- auditors and system administrators see the audit log, and nobody else does;
- an alert is seen by the account it is addressed to, or by the analysts of the office it is
  addressed to, and by nobody else; a redissemination request by the investigator who made it
  and by the owning agency; a redress case by the owning agency only;
- program managers (who place them) and auditors see legal holds, and nobody else does;
- every other role sees no rows of the graph at all.

Edge rows (a tip's identifiers, subjects and links) are visible only when the records at
both ends are, so a nested relation never leads from a visible record to a hidden one. Which
models are edges, and which foreign keys lead to their ends, is each model's entry in
``backend/registry.py`` (``ends``): for the owning agency an edge's rows are live when the
edge itself is not removed and the records at its ends are live; for an investigator, when
the partner rule lets a partner learn the edge at all (``permissions.partner.PARTNER_RULES``)
and the records at both ends are visible to them.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, F, Model, Q, QuerySet
from django.db.models.expressions import Expression, RawSQL
from django.utils import timezone

from backend import models as m
from backend.registry import edge_ends, removable_models
from permissions.partner import OWNING_AGENCY, PARTNER_RULES

__all__ = [
    "CUTOFF_STAND_IN",
    "DISCLOSABLE",
    "ColumnCondition",
    "disclosure_cutoff",
    "scope_queryset",
    "statistics_threshold",
]

M = TypeVar("M", bound=Model)

_AUDIT_READERS = frozenset({m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR})
_HOLD_READERS = frozenset({m.Role.PROGRAM_MANAGER, m.Role.AUDITOR})
#: The records a partner may open where a lookup of theirs returned them (disclosures).
DISCLOSABLE = (m.Tip, m.Subject, m.Identifier)


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _visible(model: type[Model], user: Any) -> QuerySet[Any]:
    return scope_queryset(model._default_manager.all(), user)


def disclosure_cutoff() -> datetime:
    """Disclosures made at or before this time may no longer be reopened: a partner may open
    what a lookup of theirs returned for ``DISCLOSURE_REOPEN_DAYS`` days, then must look the
    traveller up again."""
    return timezone.now() - timedelta(days=settings.DISCLOSURE_REOPEN_DAYS)


#: Set only while ``permissions.compiled`` compiles a statement for a stand-in caller: the start
#: of the disclosure window the querysets built meanwhile (in this thread or task) name, to
#: be replaced by the caller's when the statement runs.
CUTOFF_STAND_IN: ContextVar[datetime | None] = ContextVar("cutoff_stand_in", default=None)


#: A disclosure's match for a caller within the reopening window (``_window``'s parameters).
_WINDOW = "user_id = %s AND content_type_id = %s AND created_at > %s"


def _window(model: type[Model], user: Any) -> tuple[Any, ...]:
    return (
        user.pk,
        ContentType.objects.get_for_model(model).pk,
        CUTOFF_STAND_IN.get() or disclosure_cutoff(),
    )


def _disclosed(model: type[Model], user: Any) -> RawSQL:
    """Ids of the ``model`` records a lookup of ``user``'s returned within the reopening
    window: the one place the window applies. (Written as SQL: built through the ORM, this
    subquery cost a partner's every scoped list more than the list's own query.)"""
    return RawSQL(
        f"SELECT object_id FROM {m.Disclosure._meta.db_table} WHERE {_WINDOW}",
        _window(model, user),
    )


class ColumnCondition(Expression):
    """A condition on one column of the row, written as SQL: ``template`` with ``{column}``
    standing for the column (as the query names it, wherever the queryset ends up nested)
    and ``%s`` for each of ``params``."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, column: str, template: str, params: Sequence[Any]) -> None:
        super().__init__()
        self.column: Any = F(column)
        self.template = template
        self.params = list(params)

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.column,) = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.column)
        return self.template.format(column=column), [*params, *self.params]


def _disclosed_filter(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """``queryset`` restricted to records disclosed to ``user`` within the window: as a
    subquery of the disclosures (``_disclosed``); or, in a statement being compiled for given
    ids (``permissions.compiled``), row by row, ``OFFSET 0`` keeping PostgreSQL from turning
    the check into a join, so that the statement's generic plan reads the rows it was asked
    about and never starts from the caller's disclosures, however many they are."""
    if CUTOFF_STAND_IN.get() is None:
        return queryset.filter(pk__in=_disclosed(queryset.model, user))
    row_by_row = (
        f"EXISTS (SELECT 1 FROM {m.Disclosure._meta.db_table} "
        f"WHERE object_id = {{column}} AND {_WINDOW} OFFSET 0)"
    )
    return queryset.filter(ColumnCondition("pk", row_by_row, _window(queryset.model, user)))


def _note_records(user: Any) -> Q:
    """Notes on records visible to ``user``."""
    condition = Q(pk__in=[])
    for model in DISCLOSABLE:
        condition |= Q(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=_visible(model, user).values("pk"),
        )
    return condition


@functools.cache
def _removable(model: type[Model]) -> bool:
    """Whether rows of ``model`` can be removed, and so are hidden once they are: the removable
    records (``backend.registry.removable_models``) and any other row with a ``removed_at``
    (the tip links an analyst removed as wrong)."""
    return model in removable_models() or any(
        field.name == "removed_at" for field in model._meta.concrete_fields
    )


def _live(model: type[Model], path: str = "") -> dict[str, bool]:
    """The conditions under which a row of ``model`` (reached through ``path``) is live: not
    removed, and, for an edge, the records at its ends live too."""
    conditions = {f"{path}removed_at__isnull": True} if _removable(model) else {}
    for end, end_model in edge_ends(model):
        conditions |= _live(end_model, f"{path}{end}__")
    return conditions


def _owning_agency(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    if user.role == m.Role.PROGRAM_MANAGER:
        return queryset
    conditions = _live(queryset.model)
    return queryset.filter(**conditions) if conditions else queryset


def _investigator(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    model = queryset.model
    rule = PARTNER_RULES.get(model)
    if rule is not None and model in DISCLOSABLE:
        return _disclosed_filter(rule(queryset), user)
    ends = edge_ends(model)
    if rule is not None and ends:
        return rule(queryset).filter(
            **{f"{end}__in": _visible(end_model, user) for end, end_model in ends}
        )
    if model is m.Note:
        return queryset.filter(
            Q(kind=m.NoteKind.TARGETING) | Q(author__role=m.Role.INVESTIGATOR)
        ).filter(_note_records(user))
    return queryset.none()


def _addressed_to(user: Any) -> Q:
    """Alerts addressed to ``user``: their own, and an analyst's office's."""
    condition = Q(recipient=user)
    if user.role == m.Role.ANALYST and user.office_id is not None:
        condition |= Q(office_id=user.office_id)
    return condition


def scope_queryset(queryset: QuerySet[M], user: Any) -> QuerySet[M]:
    """Return the rows of ``queryset`` that ``user`` may see."""
    if not _active(user):
        return queryset.none()
    if queryset.model._meta.app_label == "audit":
        return queryset if user.role in _AUDIT_READERS else queryset.none()
    if queryset.model in (m.LegalHold, m.DisposalRun):
        return queryset if user.role in _HOLD_READERS else queryset.none()
    if queryset.model is m.Alert:
        return queryset.filter(_addressed_to(user))
    if queryset.model is m.RedisseminationRequest and user.role == m.Role.INVESTIGATOR:
        return queryset.filter(requested_by=user)
    if user.role in OWNING_AGENCY:
        return _owning_agency(queryset, user)
    if user.role == m.Role.INVESTIGATOR:
        return _investigator(queryset, user)
    return queryset.none()


def statistics_threshold(user: Any) -> int:
    """The smallest group whose figures ``user`` may see in statistics: 0 (everything) for the
    owning agency's analysts and program managers, who may read the records themselves;
    ``STATS_MIN_GROUP_SIZE`` for everyone else (reporting clients, and partner investigators
    reading their agency's ``partnerStatistics``), so that no person can be singled out from
    an aggregate."""
    if _active(user) and user.role in OWNING_AGENCY:
        return 0
    return settings.STATS_MIN_GROUP_SIZE
