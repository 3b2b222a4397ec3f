"""The accounting of disclosures: for any record or person, who received it, when, through
which lookup, and why (the Privacy Act's accounting of disclosures, 5 U.S.C. 552a(c)).

Every record a traveller lookup returns is written down as a ``Disclosure`` when the lookup
runs (``backend.services.lookups``): the lookup, the account it was returned to, the record
(content type and id) and the time. The accounting reads those rows back, for the auditors
and program managers who answer an accounting request (``permissions.matrix``,
``Query.accountingOfDisclosures``, and its CSV download ``audit.accounting``):

- for a tip or an identifier: every disclosure of that record;
- for a person (a subject): every disclosure of the person's own record, and also of every
  identifier the person holds (``SubjectIdentifier``) and of every tip that names the person
  (``TipSubject``, in any role), each row saying which record it is about (``concerns``): a
  partner who received the person's e-mail address or a tip naming them received information
  about them, even when the person's own record was not among the results.

Nothing is scoped here: an accounting covers every disclosure, whoever made the lookup and
whether or not the record has since been removed. A record that no longer exists (disposed
of) still has its accounting as long as its disclosure rows are kept.

Every record a LINKED_TIP alert discloses (``backend.services.alerts``: a new or changed tip
linking to a record the partner received) is a disclosure too, made by the alert instead of a
lookup (``Disclosure.alert``); its purpose is ALERT. A partner's redissemination requests about
a disclosure (``backend.services.redissemination``) are listed with it.

A lookup's disclosure has no purpose of its own: the lookup's purpose is derived from its
criteria (``purpose_of``). A lookup made as part of a passenger-list screening carries the screening
(flight or crossing) reference in its criteria (``screening_reference``); every other lookup
is a traveller lookup. The same rule is written as SQL (``purpose_sql``,
``screening_reference_sql``) for the partner statistics (``backend.services.statistics``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Model, Prefetch, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from backend import models as m
from backend import registry
from backend.errors import InvalidId, RecordNotFound

__all__ = [
    "ALERT",
    "CONCERNS",
    "DISCLOSED_MODELS",
    "IDENTIFIER_HELD",
    "PASSENGER_SCREENING",
    "PURPOSES",
    "RECORD",
    "TIP_NAMING",
    "TRAVELLER_LOOKUP",
    "AccountedRecord",
    "DisclosureEntry",
    "RedisseminationLine",
    "accounted_record",
    "accounting",
    "accounting_entries",
    "entry_of",
    "purpose_of",
    "purpose_sql",
    "records_in",
    "screening_reference",
    "screening_reference_sql",
]

#: The records a lookup discloses (``backend.services.lookups``); nothing else is ever disclosed.
DISCLOSED_MODELS: tuple[type[Model], ...] = (m.Tip, m.Subject, m.Identifier)

#: Purposes of a disclosure, from the lookup that made it.
TRAVELLER_LOOKUP = "TRAVELLER_LOOKUP"
PASSENGER_SCREENING = "PASSENGER_SCREENING"
#: A LINKED_TIP alert disclosed the tip (no lookup).
ALERT = "ALERT"
PURPOSES = (TRAVELLER_LOOKUP, PASSENGER_SCREENING, ALERT)

#: What a row of an accounting is about, relative to the record asked for.
RECORD = "RECORD"
IDENTIFIER_HELD = "IDENTIFIER_HELD"
TIP_NAMING = "TIP_NAMING"
CONCERNS = (RECORD, IDENTIFIER_HELD, TIP_NAMING)

#: SQL for an array of one record id (``_disclosed``).
_ONE_ID = "ARRAY[%s::bigint]"
_NUMBER = re.compile(r"[0-9]{1,19}")
_MAX_PK = 2**63 - 1


# -- purpose, from the lookup's criteria -----------------------------------------------------


def _scalar_text(value: Any) -> str | None:
    """``value`` as the text PostgreSQL's ``->>`` gives for a JSON string or number, else None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value)


def screening_reference(criteria: Any) -> str | None:
    """The screening (flight or crossing) reference a lookup's criteria carry, or None.

    Read from ``criteria["screening"]["reference"]`` (a screening object), else
    ``criteria["screening"]`` (the reference itself), else ``criteria["reference"]``; blank
    text counts as none. ``screening_reference_sql`` is the same rule in SQL."""
    if not isinstance(criteria, dict):
        return None
    screening = criteria.get("screening")
    found = None
    if isinstance(screening, dict):
        found = _scalar_text(screening.get("reference"))
    elif isinstance(screening, str):
        found = screening
    if found is None or not found.strip():
        found = _scalar_text(criteria.get("reference"))
    if found is None or not found.strip():
        return None
    return found.strip()


def purpose_of(criteria: Any) -> str:
    """PASSENGER_SCREENING for a lookup made as part of a passenger-list screening (its criteria
    name a screening, or carry a screening reference), else TRAVELLER_LOOKUP. ``purpose_sql``
    is the same rule in SQL."""
    if not isinstance(criteria, dict):
        return TRAVELLER_LOOKUP
    screening = criteria.get("screening")
    named = screening is not None and screening is not False and screening != ""
    if named or screening_reference(criteria) is not None:
        return PASSENGER_SCREENING
    return TRAVELLER_LOOKUP


def screening_reference_sql(criteria: str) -> str:
    """SQL for ``screening_reference`` of the jsonb column ``criteria`` (NULL for none)."""
    nested = (
        f"CASE jsonb_typeof({criteria}->'screening') "
        f"WHEN 'object' THEN CASE WHEN jsonb_typeof({criteria}->'screening'->'reference') "
        f"IN ('string', 'number') THEN {criteria}->'screening'->>'reference' END "
        f"WHEN 'string' THEN {criteria}->>'screening' END"
    )
    plain = (
        f"CASE WHEN jsonb_typeof({criteria}->'reference') IN ('string', 'number') "
        f"THEN {criteria}->>'reference' END"
    )
    return f"COALESCE(NULLIF(btrim({nested}), ''), NULLIF(btrim({plain}), ''))"


def purpose_sql(criteria: str) -> str:
    """SQL for ``purpose_of`` of the jsonb column ``criteria``."""
    named = (
        f"(jsonb_typeof({criteria}->'screening') IS NOT NULL "
        f"AND {criteria}->'screening' NOT IN ('null'::jsonb, 'false'::jsonb, '\"\"'::jsonb))"
    )
    return (
        f"CASE WHEN {named} OR {screening_reference_sql(criteria)} IS NOT NULL "
        f"THEN '{PASSENGER_SCREENING}' ELSE '{TRAVELLER_LOOKUP}' END"
    )


# -- the record asked about ------------------------------------------------------------------


@dataclass(frozen=True)
class AccountedRecord:
    """A record whose disclosures are asked for: its model and primary key."""

    model: type[Model]
    pk: int

    @property
    def type_name(self) -> str:
        return registry.type_name(self.model)


def accounted_record(*, type_name: str, node_id: str) -> AccountedRecord:
    """The record named by a global id's ``type_name`` and ``node_id``.

    ``InvalidId`` when the id names a kind of record that is never disclosed (only tips,
    subjects and identifiers are) or is no record number; ``RecordNotFound`` when there is no
    such record and no disclosure of one (a record disposed of keeps its accounting while its
    disclosures are kept)."""
    model = registry.model_for_type(type_name)
    if model not in DISCLOSED_MODELS:
        kinds = ", ".join(registry.type_name(d) for d in DISCLOSED_MODELS)
        raise InvalidId(
            f"only these records are disclosed, so only they have an accounting: {kinds}; "
            f"got the id of a {type_name or 'nothing'}",
            field="recordId",
        )
    if not _NUMBER.fullmatch(node_id) or int(node_id) > _MAX_PK:
        raise InvalidId(f"{node_id!r} is not the number of a {type_name} record", field="recordId")
    record = AccountedRecord(model=model, pk=int(node_id))  # type: ignore[arg-type]
    exists = model._base_manager.filter(pk=record.pk).exists()  # type: ignore[union-attr]
    if not exists and not _disclosed([(model, _ONE_ID, [record.pk])]).exists():  # type: ignore[list-item]
        raise RecordNotFound(f"no {type_name} with number {record.pk}", field="recordId")
    return record


# -- the accounting --------------------------------------------------------------------------


def _disclosed(wanted: list[tuple[type[Model], str, list[Any]]]) -> QuerySet[m.Disclosure]:
    """The disclosures of the records ``wanted``: for each, a model and a SQL expression for
    an array of their ids, with its parameters.

    There is no index on (content type, object id) alone, only on (user, content type, object
    id): read as one condition, PostgreSQL reads every disclosure of a content type, millions
    in time. So the records' disclosures are looked up account by account, a few thousand
    index probes on that index (``LATERAL`` makes PostgreSQL probe it once per account), and
    the rows are then read by primary key."""
    types = ContentType.objects.get_for_models(*(model for model, _, _ in wanted))
    disclosure, user = m.Disclosure._meta.db_table, m.User._meta.db_table
    branches, params = [], []
    for model, ids, ids_params in wanted:
        branches.append(
            f"SELECT d.id FROM {disclosure} d WHERE d.user_id = u.id "
            f"AND d.content_type_id = %s AND d.object_id = ANY({ids})"
        )
        params += [types[model].pk, *ids_params]
    sql = (
        f"SELECT found.id FROM {user} u CROSS JOIN LATERAL ("
        + " UNION ALL ".join(branches)
        + ") AS found"
    )
    return m.Disclosure.objects.filter(pk__in=RawSQL(sql, params))


def _about(record: AccountedRecord) -> list[tuple[type[Model], str, list[Any]]]:
    """The records whose disclosures ``record``'s accounting lists (see ``_disclosed``)."""
    wanted: list[tuple[type[Model], str, list[Any]]] = [(record.model, _ONE_ID, [record.pk])]
    if record.model is m.Subject:
        held = m.SubjectIdentifier._meta.db_table
        naming = m.TipSubject._meta.db_table
        wanted += [
            (
                m.Identifier,
                f"ARRAY(SELECT identifier_id FROM {held} WHERE subject_id = %s)",
                [record.pk],
            ),
            (m.Tip, f"ARRAY(SELECT tip_id FROM {naming} WHERE subject_id = %s)", [record.pk]),
        ]
    return wanted


def accounting(record: AccountedRecord) -> QuerySet[m.Disclosure]:
    """Every disclosure that ``record``'s accounting lists, oldest first (new disclosures come
    last, so a page's offset stays put), each annotated with ``concerns`` and with its lookup
    and recipient loaded in the same query."""
    concerns: list[When] = []
    if record.model is m.Subject:
        types = ContentType.objects.get_for_models(m.Identifier, m.Tip)
        concerns = [
            When(content_type=types[m.Identifier], then=Value(IDENTIFIER_HELD)),
            When(content_type=types[m.Tip], then=Value(TIP_NAMING)),
        ]
    return (
        _disclosed(_about(record))
        .annotate(concerns=Case(*concerns, default=Value(RECORD), output_field=CharField()))
        .select_related("lookup", "user")
        .prefetch_related(
            Prefetch(
                "redisseminations",
                queryset=m.RedisseminationRequest.objects.select_related("decided_by").order_by(
                    "created_at", "id"
                ),
            )
        )
        .only(
            "id",
            "created_at",
            "content_type_id",
            "object_id",
            "alert_id",
            "lookup__id",
            "lookup__criteria",
            "user__username",
            "user__first_name",
            "user__last_name",
            "user__agency",
            "user__role",
        )
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class RedisseminationLine:
    """A partner's request to pass a disclosed record on, and its decision."""

    request_id: int
    requested_at: datetime
    recipient: str
    purpose: str
    status: str
    decided_at: datetime | None
    decided_by_username: str
    decision_reason: str

    def __str__(self) -> str:
        text = f"{self.status} to {self.recipient} for {self.purpose}"
        if self.decided_at is not None:
            text += f" (decided {self.decided_at.isoformat()} by {self.decided_by_username})"
        return text


@dataclass(frozen=True)
class DisclosureEntry:
    """One line of an accounting: which record went to whom, when, through which lookup, why."""

    model: type[Model]
    record_pk: int
    concerns: str
    disclosed_at: datetime
    recipient_username: str
    recipient_full_name: str
    recipient_agency: str
    recipient_role: str
    lookup_id: int | None
    purpose: str
    screening_reference: str | None
    alert_id: int | None = None
    redisseminations: tuple[RedisseminationLine, ...] = ()

    @property
    def record_type(self) -> str:
        return registry.type_name(self.model)


def entry_of(disclosure: m.Disclosure) -> DisclosureEntry:
    """The accounting line of one disclosure from ``accounting`` (no query of its own)."""
    model = ContentType.objects.get_for_id(disclosure.content_type_id).model_class()
    criteria = disclosure.lookup.criteria if disclosure.lookup_id is not None else None
    user = disclosure.user
    return DisclosureEntry(
        model=model,  # type: ignore[arg-type]
        record_pk=disclosure.object_id,
        concerns=getattr(disclosure, "concerns", RECORD),
        disclosed_at=disclosure.created_at,
        recipient_username=user.username,
        recipient_full_name=user.get_full_name(),
        recipient_agency=user.agency,
        recipient_role=user.role,
        lookup_id=disclosure.lookup_id,
        purpose=ALERT if disclosure.alert_id is not None else purpose_of(criteria),
        screening_reference=screening_reference(criteria),
        alert_id=disclosure.alert_id,
        redisseminations=tuple(
            RedisseminationLine(
                request_id=request.pk,
                requested_at=request.created_at,
                recipient=request.recipient,
                purpose=request.purpose,
                status=request.status,
                decided_at=request.decided_at,
                decided_by_username=request.decided_by.username if request.decided_by else "",
                decision_reason=request.decision_reason,
            )
            for request in disclosure.redisseminations.all()
        ),
    )


def accounting_entries(record: AccountedRecord) -> Iterator[DisclosureEntry]:
    """Every line of ``record``'s accounting, oldest first, read in chunks (for a download)."""
    for disclosure in accounting(record).iterator(chunk_size=2000):
        yield entry_of(disclosure)


def records_in(record: AccountedRecord) -> list[tuple[type[Model], int]]:
    """The records that ``record``'s accounting has lines about (model, pk), in one query."""
    rows = accounting(record).order_by().values_list("content_type_id", "object_id").distinct()
    return sorted(
        (
            (ContentType.objects.get_for_id(type_id).model_class(), pk)  # type: ignore[misc]
            for type_id, pk in rows
        ),
        key=lambda found: (found[0]._meta.label, found[1]),
    )
