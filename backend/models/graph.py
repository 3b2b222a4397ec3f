"""The tip graph: sources, tips, subjects, identifiers, leads, notes, research results, offices."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from backend.identifiers import IdentifierKind as _Kind
from backend.names import fold_names
from backend.vocabulary import (
    MAX_IDENTIFIER_VALUE,
    MAX_NAME,
    MAX_QUALIFIER,
    MAX_REFERENCE,
    HandlingCaveat,
    SightingEvent,
    SubjectRole,
    TipCategory,
)

__all__ = [
    "Cluster",
    "DeconflictionNotice",
    "HandlingCaveat",
    "Identifier",
    "IdentifierKind",
    "Lead",
    "LeadOutcome",
    "LeadStatus",
    "LegalProcess",
    "LinkExclusion",
    "Note",
    "NoteKind",
    "NoticeRecipient",
    "Office",
    "Removable",
    "ResearchResult",
    "ScreeningOutcome",
    "SightingEvent",
    "Source",
    "SourceKind",
    "Subject",
    "SubjectIdentifier",
    "SubjectRole",
    "Tip",
    "TipCategory",
    "TipIdentifier",
    "TipLink",
    "TipLinkKind",
    "TipStatus",
    "TipSubject",
]

USER = settings.AUTH_USER_MODEL


class Removable(models.Model):
    """A record the program manager can remove (soft delete, with a reason)."""

    removed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    removed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_reason = models.TextField(blank=True)

    class Meta:
        abstract = True


def _choices_check(
    field: str, choices: type[models.TextChoices], name: str
) -> models.CheckConstraint:
    return models.CheckConstraint(condition=models.Q(**{f"{field}__in": choices.values}), name=name)


class Office(models.Model):
    """A field office that receives leads."""

    name = models.CharField(max_length=120, unique=True)
    region = models.CharField(max_length=120, blank=True)
    contact_point = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who to call about this office's leads (deconfliction).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SourceKind(models.TextChoices):
    FIELD_OFFICE = "FIELD_OFFICE", "Field office"
    PUBLIC_TIP_LINE = "PUBLIC_TIP_LINE", "Public tip line"
    LOCAL_LAW_ENFORCEMENT = "LOCAL_LAW_ENFORCEMENT", "Local law enforcement"
    FOREIGN_LAW_ENFORCEMENT = "FOREIGN_LAW_ENFORCEMENT", "Foreign law enforcement"
    INTERPOL = "INTERPOL", "INTERPOL"
    NGO = "NGO", "Non-governmental organisation"
    ESP_CLEARINGHOUSE = "ESP_CLEARINGHOUSE", "Electronic service provider / clearinghouse"


class Source(models.Model):
    """Who sent tips."""

    kind = models.CharField(max_length=32, choices=SourceKind.choices)
    name = models.CharField(max_length=200)
    country = models.CharField(
        max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 country code."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="source_kind_name_unique"),
            _choices_check("kind", SourceKind, "source_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class TipStatus(models.TextChoices):
    RECEIVED = "RECEIVED", "Received"
    UNDER_REVIEW = "UNDER_REVIEW", "Under review"
    ACTIONABLE = "ACTIONABLE", "Actionable"
    NOT_ACTIONABLE = "NOT_ACTIONABLE", "Not actionable"
    REFERRED = "REFERRED", "Referred"
    CLOSED = "CLOSED", "Closed"


class NoteKind(models.TextChoices):
    GENERAL = "GENERAL", "General remark"
    TARGETING = "TARGETING", "Border targeting note"


class ScreeningOutcome(models.TextChoices):
    NONE = "NONE", "No action"
    ADDITIONAL_SCREENING = "ADDITIONAL_SCREENING", "Additional screening"
    REFERRED_TO_SECONDARY = "REFERRED_TO_SECONDARY", "Referred to secondary"


class Note(models.Model):
    """An append-only remark on any record. Targeting notes carry structured travel data."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_id = models.BigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="notes")
    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=NoteKind.choices, default=NoteKind.GENERAL)
    body = models.TextField()
    carrier = models.CharField(max_length=80, blank=True, help_text="Airline or carrier.")
    flight_number = models.CharField(max_length=16, blank=True)
    travel_date = models.DateField(null=True, blank=True)
    port = models.CharField(max_length=80, blank=True, help_text="Port of entry or departure.")
    screening_outcome = models.CharField(
        max_length=32, choices=ScreeningOutcome.choices, blank=True
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(
                fields=["created_at"],
                include=["screening_outcome"],
                condition=models.Q(kind="TARGETING"),
                name="note_screening_idx",
            ),
        ]
        constraints = [
            _choices_check("kind", NoteKind, "note_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(kind="TARGETING") | ~models.Q(screening_outcome=""),
                name="note_targeting_has_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Note {self.pk} by {self.author_id}"


class Tip(Removable):
    """One report as received from a source."""

    # no index of its own: the (source, source reference) unique constraint's leads with it
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="tips", db_index=False
    )
    source_reference = models.CharField(
        max_length=MAX_REFERENCE, help_text="The source's own reference; unique per source."
    )
    received_at = models.DateTimeField(db_index=True)
    category = models.CharField(max_length=32, choices=TipCategory.choices)
    narrative = models.TextField(blank=True)
    status = models.CharField(max_length=32, choices=TipStatus.choices, default=TipStatus.RECEIVED)
    priority = models.PositiveSmallIntegerField(default=3, help_text="1 (highest) to 5 (lowest).")
    handling_caveat = models.CharField(
        max_length=32, choices=HandlingCaveat.choices, default=HandlingCaveat.NONE
    )
    is_actionable = models.BooleanField(
        null=True, help_text="Review decision; null until reviewed."
    )
    actionable_reason = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="reviewed_tips"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    referred_at = models.DateTimeField(
        null=True, blank=True, help_text="When a lead first referred the tip to an office."
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="created_tips"
    )
    cluster = models.ForeignKey(
        "Cluster",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tips",
        help_text="The matter this tip belongs to: the connected component of linked tips.",
    )
    escalated = models.BooleanField(default=False, help_text="The source flagged it as urgent.")
    access_to_children = models.BooleanField(
        default=False, help_text="The subject is reported to have access to children."
    )
    hands_on = models.BooleanField(
        default=False, help_text="Indicators of hands-on (contact) offending."
    )
    priority_score = models.FloatField(null=True, blank=True)
    priority_factors = models.JSONField(default=list, blank=True)
    raw_record = models.JSONField(
        default=dict,
        blank=True,
        help_text="The report as the source sent it, when a bulk format keeps it (CyberTipline "
        "XML: every element, mapped or not, and the paths of those not mapped); empty otherwise.",
    )
    intake_digest = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,  # bookkeeping of the importer, in no form (the admin's included)
        help_text="A hash of the record the source last sent for this tip, set by bulk intake "
        "(backend.intake.validation.record_digest): a re-sent record with the same hash is "
        "skipped, unread. Empty for a tip entered by hand.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    identifiers = models.ManyToManyField(
        "Identifier", through="TipIdentifier", related_name="tip_set"
    )
    subjects = models.ManyToManyField("Subject", through="TipSubject", related_name="tip_set")
    notes = GenericRelation(Note, related_query_name="tip")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "source_reference"], name="tip_source_reference_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__gte=1, priority__lte=5), name="tip_priority_range"
            ),
            _choices_check("status", TipStatus, "tip_status_valid"),
            _choices_check("category", TipCategory, "tip_category_valid"),
            _choices_check("handling_caveat", HandlingCaveat, "tip_caveat_valid"),
        ]
        indexes = [
            models.Index(fields=["status", "received_at"]),
            models.Index(fields=["category", "received_at"]),
            # Statistics read every live tip of a window from this index alone (index-only
            # scans): the grouping columns and the review/referral times ride along.
            models.Index(
                fields=["received_at"],
                include=[
                    "source",
                    "category",
                    "status",
                    "priority",
                    "is_actionable",
                    "reviewed_at",
                    "referred_at",
                    "cluster",
                ],
                condition=models.Q(removed_at__isnull=True),
                name="tip_statistics_idx",
            ),
            # Cluster sizes count the live tips per cluster from this small index alone.
            models.Index(
                fields=["cluster"],
                condition=models.Q(removed_at__isnull=True),
                name="tip_cluster_live_idx",
            ),
            # The tip lists' default order (Meta.ordering) over the live tips: a page is read
            # off the index instead of sorting every live tip (119 ms -> 0.1 ms at 100,000).
            models.Index(
                fields=["-received_at", "-id"],
                condition=models.Q(removed_at__isnull=True),
                name="tip_listing_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.source_reference}"


class Subject(Removable):
    """A person named in tips."""

    full_name = models.CharField(max_length=MAX_NAME)
    aliases = ArrayField(models.CharField(max_length=MAX_NAME), default=list, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    nationality = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2.")
    sex_offender_registered = models.BooleanField(
        default=False, help_text="Listed on a sex-offender registry."
    )
    known_misidentification = models.BooleanField(
        default=False, help_text="Marked through redress as a person wrongly matched."
    )
    redress_case_number = models.CharField(
        max_length=40, blank=True, help_text="Traveler redress (DHS TRIP) case number."
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="created_subjects"
    )
    names_folded = models.TextField(
        blank=True,
        help_text="Name and aliases case-folded, accents stripped, transliterated to Latin, "
        "separated by ' | ' (for fuzzy lookups).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    identifiers = models.ManyToManyField(
        "Identifier", through="SubjectIdentifier", related_name="subject_set"
    )
    notes = GenericRelation(Note, related_query_name="subject")

    class Meta:
        ordering = ["full_name", "id"]
        indexes = [
            GinIndex(fields=["full_name"], name="subject_name_trgm", opclasses=["gin_trgm_ops"]),
            GinIndex(
                fields=["names_folded"],
                name="subject_names_folded_trgm",
                opclasses=["gin_trgm_ops"],
            ),
            models.Index(fields=["date_of_birth"]),
            # The few live subjects on a sex-offender registry: scoring a batch of tips starts
            # from them (backend.intake.importer) instead of walking every live subject.
            models.Index(
                fields=["id"],
                condition=models.Q(sex_offender_registered=True, removed_at__isnull=True),
                name="subject_registered_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(known_misidentification=False)
                | ~models.Q(redress_case_number=""),
                name="subject_misidentification_has_case",
            )
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.names_folded = fold_names(self.full_name, self.aliases)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"full_name", "aliases"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "names_folded"}
        super().save(*args, **kwargs)


IdentifierKind = models.TextChoices(
    "IdentifierKind", [(k.value, (k.value, k.label)) for k in _Kind]
)


class Identifier(Removable):
    """An Internet or personal identifier: one row per normalised (kind, qualifier, value)."""

    kind = models.CharField(max_length=32, choices=IdentifierKind.choices)
    qualifier = models.CharField(
        max_length=MAX_QUALIFIER,
        blank=True,
        help_text="Username platform, hash algorithm, passport country or payment provider.",
    )
    value = models.CharField(
        max_length=MAX_IDENTIFIER_VALUE, help_text="Normalised value used for matching."
    )
    canonical = models.CharField(
        max_length=MAX_IDENTIFIER_VALUE,
        help_text="Looser canonical form (e.g. provider-aware e-mail).",
    )
    raw_value = models.CharField(
        max_length=MAX_IDENTIFIER_VALUE, help_text="The value as first received."
    )
    too_common_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the identifier passed the linking cap; it no longer links tips.",
    )
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    notes = GenericRelation(Note, related_query_name="identifier")

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "qualifier", "value"], name="identifier_normalised_unique"
            ),
            _choices_check("kind", IdentifierKind, "identifier_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["kind", "canonical"]),
            models.Index(fields=["kind", "value"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class TipIdentifier(models.Model):
    """An identifier seen in a tip, with the event and the time it was captured."""

    # no index of their own: the unique constraint's leads with the tip, the linking index
    # below with the identifier (bulk intake writes three sightings a tip)
    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="sightings", db_index=False)
    identifier = models.ForeignKey(
        Identifier, on_delete=models.PROTECT, related_name="sightings", db_index=False
    )
    event = models.CharField(max_length=16, choices=SightingEvent.choices, default="REPORTED")
    captured_at = models.DateTimeField(null=True, blank=True)
    raw_value = models.CharField(
        max_length=MAX_IDENTIFIER_VALUE, blank=True, help_text="The value as in this tip."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tip", "identifier", "event", "captured_at"],
                name="tip_identifier_event_unique",
                nulls_distinct=False,
            ),
            _choices_check("event", SightingEvent, "tip_identifier_event_valid"),
        ]
        # linking reads the first tips of an identifier in tip order (backend.services.linking)
        indexes = [models.Index(fields=["identifier", "tip"], name="tip_identifier_by_identifier")]

    def __str__(self) -> str:
        return f"tip {self.tip_id} {self.event} identifier {self.identifier_id}"


class TipSubject(models.Model):
    """A person named in a tip, in a role."""

    # the unique constraint's index leads with the tip: no index of its own
    tip = models.ForeignKey(
        Tip, on_delete=models.CASCADE, related_name="subject_links", db_index=False
    )
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="tip_links")
    role = models.CharField(max_length=20, choices=SubjectRole.choices, default="SUSPECT")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tip", "subject", "role"], name="tip_subject_role_unique"
            ),
            _choices_check("role", SubjectRole, "tip_subject_role_valid"),
        ]

    def __str__(self) -> str:
        return f"tip {self.tip_id} {self.role} subject {self.subject_id}"


class SubjectIdentifier(models.Model):
    """An identifier known to belong to a subject."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="identifier_links")
    identifier = models.ForeignKey(
        Identifier, on_delete=models.PROTECT, related_name="subject_links"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subject", "identifier"], name="subject_identifier_unique"
            )
        ]

    def __str__(self) -> str:
        return f"subject {self.subject_id} identifier {self.identifier_id}"


class TipLinkKind(models.TextChoices):
    SHARED_IDENTIFIER = "SHARED_IDENTIFIER", "Shared identifier"
    SHARED_SUBJECT = "SHARED_SUBJECT", "Shared subject"
    MANUAL = "MANUAL", "Manual link by an analyst"


class TipLink(models.Model):
    """A link between two tips, with its reason; stored once per pair, seen from both tips.

    ``from_tip`` is the tip with the lower id and ``to_tip`` the one with the higher id,
    whichever tip the link was made from (a CHECK keeps it so): a tip's links are the rows
    naming it at either end, and "the linked tip" is the other end, as seen from that tip.
    Removing the link removes it for both tips.

    Until migration 0014 every link was stored twice, once per direction. That migration kept
    one row per pair: the pair stays live when either half was live (the clusters had joined
    its tips through the live half, so they need no recomputation), and is removed only when
    both halves were; the row kept is the live half, else the lower-to-higher one, and it keeps
    its own reason, creator and removal fields whole rather than mixing the two halves'."""

    # a tip's links from the lower end come from the unique constraint's index (it leads with
    # from_tip), from the higher end from to_tip's own index: no index of its own here
    from_tip = models.ForeignKey(
        Tip, on_delete=models.CASCADE, related_name="links_from", db_index=False
    )
    to_tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="links_to")
    kind = models.CharField(max_length=20, choices=TipLinkKind.choices)
    identifier = models.ForeignKey(
        Identifier, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="An analyst removed this link as wrong."
    )
    removed_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    removed_reason = models.TextField(blank=True, db_default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["from_tip", "to_tip", "kind", "identifier", "subject"],
                name="tip_link_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=models.Q(from_tip__lt=models.F("to_tip")), name="tip_link_ordered"
            ),
            _choices_check("kind", TipLinkKind, "tip_link_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"tip {self.from_tip_id} - tip {self.to_tip_id} ({self.kind})"

    def other_end(self, tip_id: int) -> int:
        """The id of the tip linked to ``tip_id`` by this link (the end that is not it)."""
        return self.to_tip_id if tip_id == self.from_tip_id else self.from_tip_id

    @staticmethod
    def ordered(a: int, b: int) -> tuple[int, int]:
        """(from_tip_id, to_tip_id) of the link between tips ``a`` and ``b``."""
        return (a, b) if a < b else (b, a)


class LeadStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    REFERRED = "REFERRED", "Referred to an office"
    ACCEPTED = "ACCEPTED", "Accepted by the office"
    DECLINED = "DECLINED", "Declined by the office"
    CLOSED = "CLOSED", "Closed"
    CANCELLED = "CANCELLED", "Cancelled"


class LeadOutcome(models.TextChoices):
    NONE = "", "No outcome yet"
    ARREST = "ARREST", "Arrest"
    SEARCH_WARRANT = "SEARCH_WARRANT", "Search warrant executed"
    INDICTMENT = "INDICTMENT", "Indictment"
    VICTIM_IDENTIFIED = "VICTIM_IDENTIFIED", "Victim identified"
    NO_ACTION = "NO_ACTION", "No action possible"
    REFERRED_ELSEWHERE = "REFERRED_ELSEWHERE", "Referred to another agency"


class Lead(Removable):
    """An investigative referral built from one or more tips."""

    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    office = models.ForeignKey(
        Office, null=True, blank=True, on_delete=models.PROTECT, related_name="leads"
    )
    status = models.CharField(max_length=16, choices=LeadStatus.choices, default="DRAFT")
    tips = models.ManyToManyField(Tip, related_name="leads", blank=True)
    subjects = models.ManyToManyField(Subject, related_name="leads", blank=True)
    referred_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=LeadOutcome.choices, blank=True)
    outcome_notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="created_leads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    notes = GenericRelation(Note, related_query_name="lead")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            _choices_check("status", LeadStatus, "lead_status_valid"),
            models.CheckConstraint(
                condition=models.Q(status="DRAFT")
                | models.Q(status="CANCELLED")
                | models.Q(office__isnull=False),
                name="lead_referred_has_office",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class LegalProcess(models.TextChoices):
    ADMINISTRATIVE_SUMMONS = "ADMINISTRATIVE_SUMMONS", "Administrative summons"
    SUBPOENA = "SUBPOENA", "Subpoena"
    COURT_ORDER = "COURT_ORDER", "Court order"
    SEARCH_WARRANT = "SEARCH_WARRANT", "Search warrant"
    DATABASE_CHECK = "DATABASE_CHECK", "Database check"
    OPEN_SOURCE = "OPEN_SOURCE", "Open-source research"


class ResearchResult(Removable):
    """Results of research done outside the system (subpoena returns, database checks)."""

    legal_process = models.CharField(max_length=32, choices=LegalProcess.choices)
    served_on = models.CharField(
        max_length=200, blank=True, help_text="Who the process was served on."
    )
    served_at = models.DateField(null=True, blank=True)
    returned_at = models.DateField(null=True, blank=True)
    findings = models.TextField()
    identifier = models.ForeignKey(
        Identifier,
        on_delete=models.PROTECT,
        related_name="research_results",
        help_text="The identifier this research resolves.",
    )
    tip = models.ForeignKey(
        Tip, null=True, blank=True, on_delete=models.PROTECT, related_name="research_results"
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="research_results"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    notes = GenericRelation(Note, related_query_name="research_result")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [_choices_check("legal_process", LegalProcess, "research_process_valid")]

    def __str__(self) -> str:
        return f"{self.legal_process} on {self.served_on}"


class Cluster(models.Model):
    """A matter: tips connected by links, seen by analysts as one."""

    size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-size", "id"]

    def __str__(self) -> str:
        return f"cluster {self.pk} ({self.size} tips)"


class LinkExclusion(models.Model):
    """An identifier value analysts decided never to link on (e.g. a shared public Wi-Fi)."""

    kind = models.CharField(max_length=32, choices=IdentifierKind.choices)
    qualifier = models.CharField(max_length=MAX_QUALIFIER, blank=True)
    value = models.CharField(max_length=MAX_IDENTIFIER_VALUE, help_text="Normalised value.")
    reason = models.TextField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "qualifier", "value"], name="link_exclusion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"never link {self.kind}:{self.value}"


class DeconflictionNotice(models.Model):
    """A new tip, lead or lookup touched an identifier or subject of another office's active
    lead. Both offices are told (one ``NoticeRecipient`` each) and can acknowledge."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    lead = models.ForeignKey(
        Lead,
        on_delete=models.CASCADE,
        related_name="deconfliction_notices",
        help_text="The active lead whose identifier or subject was touched.",
    )
    identifier = models.ForeignKey(
        Identifier, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    subject = models.ForeignKey(
        Subject, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    triggered_by_tip = models.ForeignKey(
        Tip, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    triggered_by_lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    triggered_by_lookup = models.ForeignKey(
        "backend.TravellerLookup", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    reason = models.TextField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"deconfliction notice {self.pk} on lead {self.lead_id}"


class NoticeRecipient(models.Model):
    """One office's copy of a deconfliction notice, with whom to contact on the other side."""

    notice = models.ForeignKey(
        DeconflictionNotice, on_delete=models.CASCADE, related_name="recipients"
    )
    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="notices")
    contact_point = models.CharField(max_length=200, help_text="Whom to call on the other side.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "office"], name="notice_recipient_unique")
        ]

    def __str__(self) -> str:
        return f"notice {self.notice_id} to office {self.office_id}"
