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

A model is tracked unless it is exempt, and an exemption carries its reason. Every entry also
carries the model's retention decision (``retention=``: the categories of
``backend.retention`` whose clock disposes of its rows, or why none does), checked the same
way (``backend.E003``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.core import checks
from django.db import models

from backend.retention import Category, Scheduled, Unscheduled

__all__ = [
    "HISTORY_MODE_SETTING",
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


#: The transaction-local setting that chooses how a tracked table's history is written: by
#: its row trigger (unset, the default) or, when 'statement', by its per-statement triggers
#: with transition tables (``audit.protections``; the bulk importer sets it per batch). The
#: content is the same either way.
HISTORY_MODE_SETTING = "tipgraph.history"


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
    #: When the retention schedule disposes of the model's rows (``backend.retention``), or
    #: why it does not; every model needs one (system check ``backend.E003``).
    retention: Scheduled | Unscheduled | None = None

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
def _with_tip(how: str) -> Scheduled:
    return Scheduled((Category.TIPS,), how)


_C = Category
_ACCOUNTS = (
    "accounts are deactivated, never deleted: the audit log, record history and records name "
    "them (access removal is the access lifecycle, permissions.review)"
)
_FRAMEWORK = "framework metadata written by migrate, about no person"
_SIGN_IN = "the sign-in attempt (django-axes)"

REGISTRY: dict[str, Entry] = {
    # Accounts and access.
    "backend.User": Tracked(retention=Unscheduled(_ACCOUNTS), hidden=("password",)),
    "backend.User_groups": Tracked(
        retention=Unscheduled(_ACCOUNTS),
    ),
    "backend.User_user_permissions": Tracked(
        retention=Unscheduled(_ACCOUNTS),
    ),
    "backend.ApiToken": Tracked(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), "its expiry or revocation"),
        hidden=("key_hash",),
    ),
    "auth.Group": Tracked(
        retention=Unscheduled("roles' permission groups, about no person"),
    ),
    "auth.Group_permissions": Tracked(
        retention=Unscheduled("roles' permission groups, about no person"),
    ),
    "auth.Permission": Exempt(retention=Unscheduled(_FRAMEWORK), reason=_FRAMEWORK_METADATA),
    "contenttypes.ContentType": Exempt(
        retention=Unscheduled(_FRAMEWORK), reason=_FRAMEWORK_METADATA
    ),
    "sessions.Session": Exempt(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), "its expiry"),
        reason="a session's expiry and data change on every request; sign-ins, sign-outs and "
        "session ends are audit events",
    ),
    "admin.LogEntry": Exempt(
        retention=Scheduled((_C.AUDIT_LOG,), "the admin action"),
        reason="Django admin's own change list: every admin request is an audit event and the "
        "change itself is in the history of the record changed",
    ),
    "axes.AccessAttempt": Exempt(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), _SIGN_IN), reason=_SIGN_IN_ATTEMPTS
    ),
    "axes.AccessAttemptExpiration": Exempt(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), _SIGN_IN), reason=_SIGN_IN_ATTEMPTS
    ),
    "axes.AccessFailureLog": Exempt(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), _SIGN_IN), reason=_SIGN_IN_ATTEMPTS
    ),
    "axes.AccessLog": Exempt(
        retention=Scheduled((_C.SESSIONS_AND_TOKENS,), _SIGN_IN), reason=_SIGN_IN_ATTEMPTS
    ),
    # The tip graph.
    "backend.Office": Tracked(
        retention=Unscheduled("field offices: reference data about organisations"),
        type_name="Office",
        named_in_audit=True,
    ),
    "backend.Source": Tracked(
        retention=Unscheduled("sources of tips: reference data about organisations"),
        type_name="Source",
        named_in_audit=True,
    ),
    "backend.Tip": Tracked(
        retention=_with_tip("the last activity on the tip"), type_name="Tip", named_in_audit=True
    ),
    "backend.Subject": Tracked(
        retention=_with_tip("every tip and lead naming the person, and its own activity"),
        type_name="Subject",
        named_in_audit=True,
    ),
    "backend.Identifier": Tracked(
        retention=_with_tip(
            "every tip, subject and research result keeping it, and its own activity"
        ),
        type_name="Identifier",
        named_in_audit=True,
    ),
    "backend.TipIdentifier": Tracked(
        retention=_with_tip("its tip"),
        type_name="Sighting",
        named_in_audit=True,
        ends=("tip", "identifier"),
    ),
    "backend.TipSubject": Tracked(
        retention=_with_tip("its tip"),
        type_name="TipSubject",
        named_in_audit=True,
        ends=("tip", "subject"),
    ),
    "backend.SubjectIdentifier": Tracked(
        retention=_with_tip("its subject"),
        type_name="SubjectIdentifier",
        named_in_audit=True,
        ends=("subject", "identifier"),
    ),
    "backend.TipLink": Tracked(
        retention=_with_tip("either of its tips"),
        type_name="TipLink",
        named_in_audit=True,
        ends=("from_tip", "to_tip"),
    ),
    "backend.Lead": Tracked(
        retention=Scheduled((_C.LEADS,), "its closing or cancellation"),
        type_name="Lead",
        named_in_audit=True,
    ),
    "backend.Lead_tips": Tracked(
        retention=Scheduled((_C.TIPS, _C.LEADS), "its lead or its tip"), ends=("lead", "tip")
    ),
    "backend.Lead_subjects": Tracked(
        retention=Scheduled((_C.TIPS, _C.LEADS), "its lead or its subject"),
        ends=("lead", "subject"),
    ),
    # Append-only by its own trigger (backend 0002), which refuses UPDATE and DELETE of any
    # note; the DELETE privilege stays so that deleting a record with no notes still works.
    "backend.Note": Tracked(
        retention=Scheduled((_C.TIPS, _C.LEADS), "the record it is on"),
        type_name="Note",
        named_in_audit=True,
    ),
    "backend.ResearchResult": Tracked(
        retention=_with_tip(
            "its tip, or without one its identifier's other keepers, and its own activity"
        ),
        type_name="ResearchResult",
        named_in_audit=True,
    ),
    "backend.Cluster": Tracked(retention=_with_tip("every tip in it"), type_name="Cluster"),
    "backend.LinkExclusion": Tracked(
        retention=Unscheduled(
            "a standing rule analysts keep and remove themselves (never link on this value)"
        ),
        type_name="LinkExclusion",
    ),
    "backend.DeconflictionNotice": Tracked(
        retention=Scheduled(
            (_C.LEADS, _C.TIPS, _C.LOOKUPS_WITH_HITS), "its lead, or any record it names"
        ),
        type_name="DeconflictionNotice",
    ),
    "backend.NoticeRecipient": Tracked(
        retention=Scheduled((_C.LEADS, _C.TIPS), "its notice"), type_name="NoticeRecipient"
    ),
    # Intake, partner lookups and what they disclosed.
    "backend.ImportJob": Tracked(
        retention=Scheduled(
            (_C.IMPORT_JOBS, _C.UPLOADED_FILES), "the job's end (the file sooner than the report)"
        ),
        type_name="ImportJob",
    ),
    "backend.TravellerLookup": Tracked(
        retention=Scheduled((_C.LOOKUPS_WITH_HITS, _C.LOOKUPS_WITHOUT_HITS), "the lookup"),
    ),
    "backend.Disclosure": Tracked(
        retention=Scheduled((_C.DISCLOSURES,), "the disclosure and the record disclosed"),
    ),
    # Partners in the loop (issue 16): alerts, redress cases, redissemination requests.
    "backend.Alert": Tracked(
        retention=Scheduled(
            (_C.DISCLOSURES,), "the alert, while a disclosure it made (LINKED_TIP) is kept"
        ),
        type_name="Alert",
        named_in_audit=True,  # each live delivery's audit row names the alert it sent
    ),
    "backend.RedisseminationRequest": Tracked(
        retention=Scheduled((_C.DISCLOSURES,), "its decision, with the disclosure it is about"),
        type_name="RedisseminationRequest",
        named_in_audit=True,
    ),
    "backend.RedressCase": Tracked(
        retention=Unscheduled(
            "it protects the cleared traveller from being flagged again for as long as "
            "travellers are screened; the TRIP case file itself follows DHS's schedule"
        ),
        type_name="RedressCase",
        named_in_audit=True,
    ),
    # Retention: a legal hold keeps a record past its period; placing and lifting it are
    # changes like any other (backend.retention has every model's retention decision).
    "backend.LegalHold": Tracked(
        retention=Scheduled(
            (_C.TIPS, _C.LEADS), "the record it held, once lifted (an active hold is never due)"
        ),
        type_name="LegalHold",
        named_in_audit=True,
    ),
    # Disposal runs (backend.services.disposal): the proof of what was disposed of, when and on
    # whose approval, with ids only; the work list is kept with the audit log it vouches for.
    "backend.DisposalRun": Tracked(
        retention=Unscheduled(
            "the record of a disposal (categories, counts, who requested and approved it): ids "
            "and counts only, the proof that records were disposed of"
        ),
        type_name="DisposalRun",
        named_in_audit=True,
    ),
    "backend.DisposalItem": Exempt(
        retention=Scheduled((_C.AUDIT_LOG,), "its run's end"),
        reason="a disposal run's work list (table and row id, never a value): written in bulk "
        "when the run is requested; the run's audit events carry its counts and digests",
    ),
    # The documents partner tools may run (``manage.py load_documents``): the table decides
    # what a partner may ask, like an account's role, so when a document was registered or
    # retired, and by which connection, is kept in record history.
    "backend.TrustedDocument": Tracked(
        retention=Unscheduled("the registered documents partner tools may run"),
    ),
    # The audit log itself.
    "audit.AuditQueryText": Exempt(
        retention=Scheduled((_C.AUDIT_LOG,), "the audit rows naming it"),
        append_only=True,
        reason="part of the audit log: append-only and hash-chained",
    ),
    "audit.AuditEvent": Exempt(
        retention=Scheduled((_C.AUDIT_LOG,), "the event"),
        append_only=True,
        type_name="AuditEvent",
        reason="the audit log itself: append-only and hash-chained",
    ),
    "audit.RecordChange": Exempt(
        retention=Scheduled((_C.AUDIT_LOG,), "the change"),
        append_only=True,
        reason="the record history itself: append-only",
    ),
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
