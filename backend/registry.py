"""One entry per model: what the database keeps of it and what the application may do to it.

Every concrete model Django knows (the project's, Django's own, django-axes', and the
automatic many-to-many tables) has exactly one entry here, and everything that needs to know
a table's treatment reads it from here:

- ``audit.protections.sync_history_triggers`` attaches the record-history trigger to every
  tracked table (with the columns left out of the before/after) and to no other;
- ``backend.database_roles.grant_application_role`` gives the application role its
  privileges: full DML on ordinary tables, ``SELECT`` and ``INSERT`` only on append-only ones;
- the system check ``backend.E001`` and ``tests/audit/test_record_changes.py`` fail for a
  model with no entry, so adding a model forces a decision instead of silently missing one.

An entry also names the model's GraphQL type (``type_name``: the type name of its global ids),
which the mutation look-ups (``resolvers.common.load``), notes, removal and the audit's record
names read, and says whether an operation's audit row names the records of it that the answer
returned or the operation changed (``named_in_audit``); ``tests/schema/test_registry_types.py``
checks each name against the schema, and the schema's types take their names from here.
Whether a model is removable (soft delete by the program manager) is its being a
``backend.models.Removable``, asked through ``removable_models``.

An edge model (a row joining two records, such as a tip and an identifier seen in it) names
its ``ends``: the foreign keys to the records it joins. Row scoping (``permissions.scoping``)
shows an edge's rows only where the records at its ends are visible, so a new edge model is
scoped by its entry; ``tests/permissions/test_edge_scoping.py`` fails for an edge model (two
required foreign keys to removable records) whose entry names no ends.

A model is tracked unless it is exempt, and an exemption carries its reason. Every model also
has a retention decision, kept beside the schedule in ``backend/retention.py`` (``MODELS``) and
checked the same way (``backend.E003``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.core import checks
from django.db import models

__all__ = [
    "REGISTRY",
    "Entry",
    "Exempt",
    "Tracked",
    "audit_type_names",
    "edge_ends",
    "entry_for",
    "missing_entries",
    "model_for_type",
    "registered_models",
    "removable_models",
    "type_name",
    "type_names",
]


@dataclass(frozen=True)
class Entry:
    """How one model's table is treated. Use ``Tracked`` or ``Exempt``."""

    #: The application role may only read and add rows: no UPDATE or DELETE privilege.
    append_only: bool = False
    #: The GraphQL type showing the model's rows (the type name of their global ids), if any.
    type_name: str | None = None
    #: An operation's audit row names each record of this model that its answer returned or
    #: it changed (``records_returned``, ``records_changed``). Needs ``type_name``.
    named_in_audit: bool = False
    #: An edge's foreign keys to the records at its ends: its rows are visible only where
    #: those records are (``permissions.scoping``). Empty for a model that is no edge.
    ends: tuple[str, ...] = ()

    @property
    def tracked(self) -> bool:
        return isinstance(self, Tracked)

    def __post_init__(self) -> None:
        if self.named_in_audit and not self.type_name:
            raise ValueError("a model named in the audit needs its GraphQL type name")
        if self.ends and len(self.ends) != 2:
            raise ValueError("an edge joins two records: name its two ends")


@dataclass(frozen=True)
class Tracked(Entry):
    """Every INSERT, UPDATE and DELETE keeps the row's before and after in record history."""

    #: Columns never copied into the history (secrets, hashes of secrets).
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exempt(Entry):
    """No record history, for the reason given."""

    reason: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.reason.strip():
            raise ValueError("an exemption from record history needs its reason")


_FRAMEWORK_METADATA = (
    "written by migrate from the code itself and never edited by people; the code's own "
    "history is its record"
)
_SIGN_IN_ATTEMPTS = (
    "sign-in attempts and lockouts are audit events (LOGIN_FAILED, LOCKOUT); an unlock through "
    "the admin is an audited admin request"
)

#: Model label -> its entry. Automatic many-to-many tables have labels like "backend.Lead_tips".
REGISTRY: dict[str, Entry] = {
    # Accounts and access.
    "backend.User": Tracked(hidden=("password",)),
    "backend.User_groups": Tracked(),
    "backend.User_user_permissions": Tracked(),
    "backend.ApiToken": Tracked(hidden=("key_hash",)),
    "auth.Group": Tracked(),
    "auth.Group_permissions": Tracked(),
    "auth.Permission": Exempt(reason=_FRAMEWORK_METADATA),
    "contenttypes.ContentType": Exempt(reason=_FRAMEWORK_METADATA),
    "sessions.Session": Exempt(
        reason="a session's expiry and data change on every request; sign-ins, sign-outs and "
        "session ends are audit events"
    ),
    "admin.LogEntry": Exempt(
        reason="Django admin's own change list: every admin request is an audit event and the "
        "change itself is in the history of the record changed"
    ),
    "axes.AccessAttempt": Exempt(reason=_SIGN_IN_ATTEMPTS),
    "axes.AccessAttemptExpiration": Exempt(reason=_SIGN_IN_ATTEMPTS),
    "axes.AccessFailureLog": Exempt(reason=_SIGN_IN_ATTEMPTS),
    "axes.AccessLog": Exempt(reason=_SIGN_IN_ATTEMPTS),
    # The tip graph.
    "backend.Office": Tracked(type_name="Office", named_in_audit=True),
    "backend.Source": Tracked(type_name="Source", named_in_audit=True),
    "backend.Tip": Tracked(type_name="Tip", named_in_audit=True),
    "backend.Subject": Tracked(type_name="Subject", named_in_audit=True),
    "backend.Identifier": Tracked(type_name="Identifier", named_in_audit=True),
    "backend.TipIdentifier": Tracked(
        type_name="Sighting", named_in_audit=True, ends=("tip", "identifier")
    ),
    "backend.TipSubject": Tracked(
        type_name="TipSubject", named_in_audit=True, ends=("tip", "subject")
    ),
    "backend.SubjectIdentifier": Tracked(
        type_name="SubjectIdentifier", named_in_audit=True, ends=("subject", "identifier")
    ),
    "backend.TipLink": Tracked(
        type_name="TipLink", named_in_audit=True, ends=("from_tip", "to_tip")
    ),
    "backend.Lead": Tracked(type_name="Lead", named_in_audit=True),
    "backend.Lead_tips": Tracked(ends=("lead", "tip")),
    "backend.Lead_subjects": Tracked(ends=("lead", "subject")),
    # Append-only by its own trigger (backend 0002), which refuses UPDATE and DELETE of any
    # note; the DELETE privilege stays so that deleting a record with no notes still works.
    "backend.Note": Tracked(type_name="Note", named_in_audit=True),
    "backend.ResearchResult": Tracked(type_name="ResearchResult", named_in_audit=True),
    "backend.Cluster": Tracked(type_name="Cluster"),
    "backend.LinkExclusion": Tracked(type_name="LinkExclusion"),
    "backend.DeconflictionNotice": Tracked(type_name="DeconflictionNotice"),
    "backend.NoticeRecipient": Tracked(type_name="NoticeRecipient"),
    # Intake, partner lookups and what they disclosed.
    "backend.ImportJob": Tracked(type_name="ImportJob"),
    "backend.TravellerLookup": Tracked(),
    "backend.Disclosure": Tracked(),
    # Retention: a legal hold keeps a record past its period; placing and lifting it are
    # changes like any other (backend.retention has every model's retention decision).
    "backend.LegalHold": Tracked(type_name="LegalHold", named_in_audit=True),
    # The documents partner tools may run (``manage.py load_documents``): the table decides
    # what a partner may ask, like an account's role, so when a document was registered or
    # retired, and by which connection, is kept in record history.
    "backend.TrustedDocument": Tracked(),
    # The audit log itself.
    "audit.AuditQueryText": Exempt(
        append_only=True, reason="part of the audit log: append-only and hash-chained"
    ),
    "audit.AuditEvent": Exempt(
        append_only=True,
        type_name="AuditEvent",
        reason="the audit log itself: append-only and hash-chained",
    ),
    "audit.RecordChange": Exempt(append_only=True, reason="the record history itself: append-only"),
}


def registered_models() -> list[type[models.Model]]:
    """Every concrete model with a table of its own, automatic many-to-many tables included."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def entry_for(model: type[models.Model]) -> Entry:
    """The model's entry; ``KeyError`` naming the model when it has none."""
    label = model._meta.label
    try:
        return REGISTRY[label]
    except KeyError:
        raise KeyError(
            f"{label} has no entry in backend/registry.py: decide whether its table keeps record "
            "history (Tracked) or not (Exempt, with the reason)"
        ) from None


def missing_entries(candidates: Iterable[type[models.Model]] | None = None) -> list[str]:
    """Labels of the models (default: every registered one) that have no entry."""
    models_ = registered_models() if candidates is None else candidates
    return sorted(m._meta.label for m in models_ if m._meta.label not in REGISTRY)


def type_names() -> dict[type[models.Model], str]:
    """Every model with a GraphQL type, and its type name."""
    return dict(_typed())


@cache
def _typed() -> tuple[tuple[type[models.Model], str], ...]:
    return tuple(
        (model, entry.type_name)
        for model in registered_models()
        if (entry := REGISTRY.get(model._meta.label)) is not None and entry.type_name
    )


def audit_type_names() -> dict[type[models.Model], str]:
    """The models whose records an audit row names, and their type names."""
    return {
        model: name
        for model, name in type_names().items()
        if REGISTRY[model._meta.label].named_in_audit
    }


def type_name(model: type[models.Model]) -> str:
    """The GraphQL type name of ``model``'s rows; ``LookupError`` when it has no type."""
    name = entry_for(model).type_name
    if name is None:
        raise LookupError(f"{model._meta.label} has no GraphQL type in backend/registry.py")
    return name


def model_for_type(name: str) -> type[models.Model] | None:
    """The model whose GraphQL type is ``name``, or None."""
    return next((model for model, typed in _typed() if typed == name), None)


@cache
def edge_ends(model: type[models.Model]) -> tuple[tuple[str, type[models.Model]], ...]:
    """The ends of the edge ``model``: each foreign key its entry names, with the model of the
    record it leads to; empty when the model is no edge (or has no entry)."""
    entry = REGISTRY.get(model._meta.label)
    if entry is None:
        return ()
    return tuple(
        (end, model._meta.get_field(end).related_model)  # type: ignore[misc]
        for end in entry.ends
    )


@cache
def removable_models() -> tuple[type[models.Model], ...]:
    """The models the program manager may remove (soft delete): the ``Removable`` ones."""
    from backend.models import Removable

    return tuple(model for model in registered_models() if issubclass(model, Removable))


@checks.register(checks.Tags.models)
def check_every_model_decided(**kwargs: object) -> list[checks.CheckMessage]:
    """System check backend.E001: a model without an entry, and an entry without a model."""
    problems: list[checks.CheckMessage] = [
        checks.Error(
            f"{label} has no entry in backend/registry.py",
            hint="Add Tracked(...) or Exempt(reason=...) for it.",
            id="backend.E001",
        )
        for label in missing_entries()
    ]
    known = {m._meta.label for m in registered_models()}
    problems += [
        checks.Error(
            f"backend/registry.py names {label}, which is not a model",
            hint="Remove the entry of a model that no longer exists.",
            id="backend.E002",
        )
        for label in sorted(set(REGISTRY) - known)
    ]
    return problems
