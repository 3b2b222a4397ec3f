"""Retention clocks: which records are due for disposal at a given moment, and why.

A record is due when its category's period (``backend.retention``) has passed since its clock
started, and nothing keeps it:

- a **legal hold** (``backend.models.LegalHold``) keeps the record held and what it is linked
  to: a held tip keeps the tips linked to it and the leads holding it, a held lead keeps its
  tips, a held subject keeps the tips and leads naming the person. A tip, lead or subject so
  protected is never due, and neither is anything it keeps (below);
- a **record that needs it**: a lead still kept keeps its tips and subjects; a tip still kept
  keeps its sightings, subjects, identifiers, research results, notes and links; a subject
  still kept keeps its identifiers; a research result still kept keeps its identifier; an
  accounting of disclosure is kept while the record disclosed is (Privacy Act), and keeps the
  lookup it was made through. So a person or identifier named in several tips is due only when
  every tip (and lead, subject, research result) keeping it is.

Every clock is a queryset of the rows due at ``now`` (the moment is a parameter, so that a
preview can look ahead and tests can move the clock), computed in the database; the rows a
category disposes of in its own right carry ``clock_start``, the moment their clock started.
``Clocks(now, honour_holds=False)`` is the same schedule with every hold ignored: what it adds
is what the holds keep.

``disposal_preview`` counts what is due by category: what a program manager reviews before a
disposal run (``disposalPreview``, ``manage.py dispose --dry-run``). It reads; it never writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db.models import (
    Count,
    Exists,
    Expression,
    F,
    Min,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least

from backend import models as m
from backend.errors import InvalidInput
from backend.retention import SCHEDULE, Category, cutoff, period_days

__all__ = [
    "CLOCKS",
    "FINISHED_JOBS",
    "FINISHED_LEADS",
    "CategoryPreview",
    "Clocks",
    "Part",
    "PartCount",
    "disposal_preview",
    "due",
    "tip_activity",
]

#: Lead statuses with no way out: a lead's retention clock starts when it reaches one.
FINISHED_LEADS = (m.LeadStatus.CLOSED, m.LeadStatus.CANCELLED)
#: Import jobs whose clock has started (a queued or running job is never due).
FINISHED_JOBS = (m.ImportJobStatus.SUCCEEDED, m.ImportJobStatus.FAILED)

LeadTip = m.Lead.tips.through
LeadSubject = m.Lead.subjects.through


@dataclass(frozen=True)
class Part:
    """The rows of one model that a category's clock makes due.

    ``own`` parts are the category's records in their own right (counted as its due records,
    their rows annotated with ``clock_start``); the others go with them (a tip's sightings)."""

    name: str
    model: type[Model]
    rows: QuerySet[Any]
    own: bool = False


def _ids(queryset: QuerySet[Any]) -> QuerySet[Any]:
    return queryset.values("pk")


def _latest_note(model: type[Model]) -> Subquery:
    """The time of the latest note on the outer ``model`` row (NULL without notes)."""
    return Subquery(
        m.Note.objects.filter(
            content_type=ContentType.objects.get_for_model(model), object_id=OuterRef("pk")
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )


def _kept_by(through: type[Model], field: str, keeper: str, released: QuerySet[Any]) -> Exists:
    """A ``through`` row links the outer row (by ``field``) to a ``keeper`` not released.

    (``NOT EXISTS``, an anti-join, rather than ``NOT IN``: PostgreSQL cannot turn a
    ``NOT IN (subquery)`` into a join, and ran it as a subplan per row.)"""
    keeper_id = f"{keeper}_id" if keeper != "pk" else "pk"
    return Exists(
        through.objects.filter(**{field: OuterRef("pk")}).exclude(
            Exists(released.filter(pk=OuterRef(keeper_id)))
        )
    )


def tip_activity() -> Expression:
    """A tip's last activity: received, edited, or a note, research result or link added.
    (PostgreSQL's GREATEST skips NULLs: a tip without notes has its other times.)"""
    return Greatest(
        F("received_at"),
        F("updated_at"),
        _latest_note(m.Tip),
        Subquery(
            m.ResearchResult.objects.filter(tip=OuterRef("pk"))
            .order_by("-updated_at")
            .values("updated_at")[:1]
        ),
        # a link is stored once, lower tip first: the tip may be at either end
        *(
            Subquery(
                m.TipLink.objects.filter(**{end: OuterRef("pk")})
                .order_by("-created_at")
                .values("created_at")[:1]
            )
            for end in ("from_tip", "to_tip")
        ),
    )


class Clocks:
    """Every retention clock at ``now``. Each property is a queryset, built once, run only
    when read; they nest (tips due depend on the leads due, subjects on the tips...), so one
    count is one SQL statement."""

    def __init__(self, now: dt.datetime, *, honour_holds: bool = True) -> None:
        self.now = now
        self.honour_holds = honour_holds

    def cutoff(self, category: Category) -> dt.datetime:
        return cutoff(category, self.now)

    # -- legal holds -------------------------------------------------------------------------

    def _held(self, target: str) -> QuerySet[Any]:
        return m.LegalHold.objects.active().filter(**{f"{target}__isnull": False}).values(target)

    @cached_property
    def protected_tips(self) -> QuerySet[m.Tip]:
        """Tips a hold keeps: held, linked to a held tip (one link away, a link not removed),
        in a held lead, or naming a held person."""
        live = m.TipLink.objects.filter(removed_at__isnull=True)
        held = self._held("tip")
        return m.Tip.objects.filter(
            Q(pk__in=held)
            | Q(pk__in=live.filter(from_tip__in=held).values("to_tip"))
            | Q(pk__in=live.filter(to_tip__in=held).values("from_tip"))
            | Q(pk__in=LeadTip.objects.filter(lead__in=self._held("lead")).values("tip"))
            | Q(pk__in=m.TipSubject.objects.filter(subject__in=self._held("subject")).values("tip"))
        )

    @cached_property
    def protected_leads(self) -> QuerySet[m.Lead]:
        """Leads a hold keeps: held, holding a held tip, or naming a held person."""
        return m.Lead.objects.filter(
            Q(pk__in=self._held("lead"))
            | Q(pk__in=LeadTip.objects.filter(tip__in=self._held("tip")).values("lead"))
            | Q(pk__in=LeadSubject.objects.filter(subject__in=self._held("subject")).values("lead"))
        )

    @cached_property
    def protected_subjects(self) -> QuerySet[m.Subject]:
        """People a hold keeps directly (the tips and leads it keeps keep the others)."""
        return m.Subject.objects.filter(pk__in=self._held("subject"))

    def _unprotected(self, rows: QuerySet[Any], protected: QuerySet[Any]) -> QuerySet[Any]:
        if not self.honour_holds:
            return rows
        return rows.exclude(Exists(protected.filter(pk=OuterRef("pk"))))

    # -- the tip graph -----------------------------------------------------------------------

    @cached_property
    def leads(self) -> QuerySet[m.Lead]:
        """Closed or cancelled leads past their period since then (or since later activity)."""
        rows = (
            m.Lead.objects.filter(status__in=FINISHED_LEADS)
            .annotate(clock_start=Greatest(F("closed_at"), F("updated_at"), _latest_note(m.Lead)))
            .filter(clock_start__lte=self.cutoff(Category.LEADS))
        )
        return self._unprotected(rows, self.protected_leads)

    @cached_property
    def tips(self) -> QuerySet[m.Tip]:
        """Tips past their period since their last activity, in no lead still kept."""
        rows = (
            m.Tip.objects.annotate(clock_start=tip_activity())
            .filter(clock_start__lte=self.cutoff(Category.TIPS))
            .exclude(_kept_by(LeadTip, "tip", "lead", self.leads))
        )
        return self._unprotected(rows, self.protected_tips)

    @cached_property
    def subjects(self) -> QuerySet[m.Subject]:
        """People whose every tip and lead is due, untouched themselves for the period."""
        latest_tip = Subquery(
            m.Tip.objects.filter(subject_links__subject=OuterRef("pk"))
            .annotate(activity=tip_activity())
            .order_by("-activity")
            .values("activity")[:1]
        )
        rows = (
            m.Subject.objects.annotate(
                own_activity=Greatest(F("created_at"), F("updated_at"), _latest_note(m.Subject))
            )
            .filter(own_activity__lte=self.cutoff(Category.TIPS))
            .exclude(_kept_by(m.TipSubject, "subject", "tip", self.tips))
            .exclude(_kept_by(LeadSubject, "subject", "lead", self.leads))
            .annotate(clock_start=Greatest(F("own_activity"), latest_tip))
        )
        return self._unprotected(rows, self.protected_subjects)

    @cached_property
    def released_identifiers(self) -> QuerySet[m.Identifier]:
        """Identifiers no tip or person keeps any more (research results aside)."""
        return (
            m.Identifier.objects.annotate(
                own_activity=Greatest(F("created_at"), _latest_note(m.Identifier))
            )
            .filter(own_activity__lte=self.cutoff(Category.TIPS))
            .exclude(_kept_by(m.TipIdentifier, "identifier", "tip", self.tips))
            .exclude(_kept_by(m.SubjectIdentifier, "identifier", "subject", self.subjects))
        )

    @cached_property
    def research_results(self) -> QuerySet[m.ResearchResult]:
        """Research results whose tip is due (without a tip: whose identifier nothing else
        keeps), untouched themselves for the period."""
        return (
            m.ResearchResult.objects.annotate(
                clock_start=Greatest(F("updated_at"), _latest_note(m.ResearchResult))
            )
            .filter(clock_start__lte=self.cutoff(Category.TIPS))
            .filter(
                Q(tip__isnull=False, tip__in=_ids(self.tips))
                | Q(tip__isnull=True, identifier__in=_ids(self.released_identifiers))
            )
        )

    @cached_property
    def identifiers(self) -> QuerySet[m.Identifier]:
        """Identifiers whose every tip, person and research result is due."""
        return self.released_identifiers.exclude(
            _kept_by(m.ResearchResult, "identifier", "pk", self.research_results)
        ).annotate(clock_start=F("own_activity"))

    def notes_on(self, *records: tuple[type[Model], QuerySet[Any]]) -> QuerySet[m.Note]:
        """Notes on the given records."""
        condition = Q(pk__in=[])
        for model, rows in records:
            condition |= Q(
                content_type=ContentType.objects.get_for_model(model), object_id__in=_ids(rows)
            )
        return m.Note.objects.filter(condition)

    # -- lookups and disclosures -------------------------------------------------------------

    @cached_property
    def disclosures(self) -> QuerySet[m.Disclosure]:
        """Disclosures past their period whose record is gone or due (the accounting of a
        disclosure lives as long as the record does)."""
        known = {
            m.Tip: self.tips,
            m.Subject: self.subjects,
            m.Identifier: self.identifiers,
            m.Lead: self.leads,
            m.ResearchResult: self.research_results,
        }
        types = {model: ContentType.objects.get_for_model(model) for model in known}
        record_released = ~Q(content_type__in=list(types.values()))
        for model, due in known.items():
            record_released |= Q(content_type=types[model]) & (
                Q(object_id__in=_ids(due)) | ~Exists(model.objects.filter(pk=OuterRef("object_id")))
            )
        return (
            m.Disclosure.objects.annotate(clock_start=F("created_at"))
            .filter(created_at__lte=self.cutoff(Category.DISCLOSURES))
            .filter(record_released)
        )

    @cached_property
    def alerts(self) -> QuerySet[m.Alert]:
        """Alerts past the disclosures' period that no disclosure still kept names: a link
        alert, itself a disclosure of its tip, lives as long as that disclosure does."""
        kept = m.Disclosure.objects.filter(alert=OuterRef("pk")).exclude(
            pk__in=_ids(self.disclosures)
        )
        return (
            m.Alert.objects.annotate(clock_start=F("created_at"))
            .filter(created_at__lte=self.cutoff(Category.DISCLOSURES))
            .exclude(Exists(kept))
        )

    def lookups(self, *, hits: bool) -> QuerySet[m.TravellerLookup]:
        """Lookups (with or without hits) past their period whose disclosures are all due."""
        category = Category.LOOKUPS_WITH_HITS if hits else Category.LOOKUPS_WITHOUT_HITS
        no_hits = Q(subject_hits=0, tip_hits=0)
        return (
            m.TravellerLookup.objects.filter(~no_hits if hits else no_hits)
            .annotate(clock_start=F("created_at"))
            .filter(created_at__lte=self.cutoff(category))
            .exclude(_kept_by(m.Disclosure, "lookup", "pk", self.disclosures))
        )

    def notices(self, condition: Q) -> QuerySet[m.DeconflictionNotice]:
        return m.DeconflictionNotice.objects.filter(condition)

    # -- intake, access, audit ---------------------------------------------------------------

    def import_jobs(self, category: Category) -> QuerySet[m.ImportJob]:
        rows = (
            m.ImportJob.objects.filter(status__in=FINISHED_JOBS)
            .annotate(clock_start=Coalesce(F("finished_at"), F("created_at")))
            .filter(clock_start__lte=self.cutoff(category))
        )
        return rows.exclude(file="") if category == Category.UPLOADED_FILES else rows

    def ended_before(
        self, model: type[Model], ended: Expression | F, category: Category
    ) -> QuerySet[Any]:
        return model._default_manager.annotate(clock_start=ended).filter(
            clock_start__lte=self.cutoff(category)
        )


# -- the categories' parts -------------------------------------------------------------------


def _tips(c: Clocks) -> list[Part]:
    return [
        Part("tips", m.Tip, c.tips, own=True),
        Part("sightings", m.TipIdentifier, m.TipIdentifier.objects.filter(tip__in=_ids(c.tips))),
        Part("subjects", m.Subject, c.subjects),
        Part(
            "people named in tips", m.TipSubject, m.TipSubject.objects.filter(tip__in=_ids(c.tips))
        ),
        Part("identifiers", m.Identifier, c.identifiers),
        Part(
            "identifiers of subjects",
            m.SubjectIdentifier,
            m.SubjectIdentifier.objects.filter(subject__in=_ids(c.subjects)),
        ),
        Part("research results", m.ResearchResult, c.research_results),
        Part(
            "links",
            m.TipLink,
            m.TipLink.objects.filter(Q(from_tip__in=_ids(c.tips)) | Q(to_tip__in=_ids(c.tips))),
        ),
        Part(
            "notes",
            m.Note,
            c.notes_on(
                (m.Tip, c.tips),
                (m.Subject, c.subjects),
                (m.Identifier, c.identifiers),
                (m.ResearchResult, c.research_results),
            ),
        ),
        Part(
            "clusters",
            m.Cluster,
            m.Cluster.objects.exclude(
                Exists(m.Tip.objects.filter(cluster=OuterRef("pk")).exclude(pk__in=_ids(c.tips)))
            ),
        ),
        Part(
            "tips in leads",
            LeadTip,
            LeadTip.objects.filter(tip__in=_ids(c.tips)),
        ),
        Part(
            "people in leads",
            LeadSubject,
            LeadSubject.objects.filter(subject__in=_ids(c.subjects)),
        ),
        Part(
            "deconfliction notices",
            m.DeconflictionNotice,
            c.notices(
                Q(triggered_by_tip__in=_ids(c.tips))
                | Q(identifier__in=_ids(c.identifiers))
                | Q(subject__in=_ids(c.subjects))
            ),
        ),
        Part(
            "lifted legal holds",
            m.LegalHold,
            m.LegalHold.objects.filter(lifted_at__isnull=False).filter(
                Q(tip__in=_ids(c.tips)) | Q(subject__in=_ids(c.subjects))
            ),
        ),
    ]


def _leads(c: Clocks) -> list[Part]:
    notices = c.notices(Q(lead__in=_ids(c.leads)) | Q(triggered_by_lead__in=_ids(c.leads)))
    return [
        Part("leads", m.Lead, c.leads, own=True),
        Part("tips in leads", LeadTip, LeadTip.objects.filter(lead__in=_ids(c.leads))),
        Part("people in leads", LeadSubject, LeadSubject.objects.filter(lead__in=_ids(c.leads))),
        Part("notes", m.Note, c.notes_on((m.Lead, c.leads))),
        Part("deconfliction notices", m.DeconflictionNotice, notices),
        Part(
            "copies of deconfliction notices",
            m.NoticeRecipient,
            m.NoticeRecipient.objects.filter(notice__in=_ids(notices)),
        ),
        Part(
            "lifted legal holds",
            m.LegalHold,
            m.LegalHold.objects.filter(lifted_at__isnull=False, lead__in=_ids(c.leads)),
        ),
    ]


def _lookups(hits: bool) -> Callable[[Clocks], list[Part]]:
    def parts(c: Clocks) -> list[Part]:
        lookups = c.lookups(hits=hits)
        return [
            Part("traveller lookups", m.TravellerLookup, lookups, own=True),
            Part(
                "deconfliction notices",
                m.DeconflictionNotice,
                c.notices(Q(triggered_by_lookup__in=_ids(lookups))),
            ),
        ]

    return parts


def _disclosures(c: Clocks) -> list[Part]:
    return [
        Part("disclosures", m.Disclosure, c.disclosures, own=True),
        # a partner's request to pass a record on goes with the disclosure it is about
        Part(
            "redissemination requests",
            m.RedisseminationRequest,
            m.RedisseminationRequest.objects.filter(disclosure__in=_ids(c.disclosures)),
        ),
        Part("alerts", m.Alert, c.alerts, own=True),
    ]


def _import_jobs(category: Category) -> Callable[[Clocks], list[Part]]:
    name = "uploaded files" if category == Category.UPLOADED_FILES else "import jobs"
    return lambda c: [Part(name, m.ImportJob, c.import_jobs(category), own=True)]


def _sessions_and_tokens(c: Clocks) -> list[Part]:
    from axes.models import AccessAttempt, AccessAttemptExpiration, AccessFailureLog, AccessLog

    category = Category.SESSIONS_AND_TOKENS
    attempts = c.ended_before(AccessAttempt, F("attempt_time"), category)
    return [
        Part("sessions", Session, c.ended_before(Session, F("expire_date"), category), own=True),
        Part(
            "API tokens",
            m.ApiToken,
            c.ended_before(m.ApiToken, Least(F("expires_at"), F("revoked_at")), category),
            own=True,
        ),
        Part("sign-in attempt counters", AccessAttempt, attempts, own=True),
        Part(
            "their expiries",
            AccessAttemptExpiration,
            AccessAttemptExpiration.objects.filter(access_attempt__in=_ids(attempts)),
        ),
        Part(
            "failed sign-ins",
            AccessFailureLog,
            c.ended_before(AccessFailureLog, F("attempt_time"), category),
            own=True,
        ),
        Part(
            "sign-ins",
            AccessLog,
            c.ended_before(AccessLog, Greatest(F("attempt_time"), F("logout_time")), category),
            own=True,
        ),
    ]


def _audit_log(c: Clocks) -> list[Part]:
    # Named by label, as backend/registry.py names them: the domain does not import audit/.
    audit_event = apps.get_model("audit", "AuditEvent")
    record_change = apps.get_model("audit", "RecordChange")
    query_text = apps.get_model("audit", "AuditQueryText")
    category = Category.AUDIT_LOG
    cut = c.cutoff(category)
    # The hash chain is cut only at its start (audit.verify): the oldest events, up to the
    # first one still kept. (Events are in time order but for an event written with a time
    # of its own, which keeps the ones after it.)
    first_kept = Coalesce(
        Subquery(audit_event.objects.filter(occurred_at__gt=cut).order_by("seq").values("seq")[:1]),
        Value(_NO_SEQ),
    )
    events = c.ended_before(audit_event, F("occurred_at"), category).filter(seq__lt=first_kept)
    finished = Q(run__status__in=[m.DisposalStatus.DONE, m.DisposalStatus.CANCELLED]) & (
        Q(run__finished_at__lte=cut) | Q(run__cancelled_at__lte=cut)
    )
    return [
        Part("audit events", audit_event, events, own=True),
        Part(
            "record history",
            record_change,
            c.ended_before(record_change, F("occurred_at"), category),
            own=True,
        ),
        Part(
            "admin change list",
            LogEntry,
            c.ended_before(LogEntry, F("action_time"), category),
            own=True,
        ),
        Part(
            "query texts",
            query_text,
            query_text.objects.filter(first_seen__lte=cut).exclude(
                Exists(audit_event.objects.filter(query_hash=OuterRef("pk"), seq__gte=first_kept))
            ),
        ),
        Part(
            "disposal work lists",
            m.DisposalItem,
            m.DisposalItem.objects.filter(finished),
        ),
    ]


#: Greater than any seq: no event is kept.
_NO_SEQ = 2**62


#: Each category's clock: the parts it makes due.
CLOCKS: dict[Category, Callable[[Clocks], list[Part]]] = {
    Category.TIPS: _tips,
    Category.LEADS: _leads,
    Category.LOOKUPS_WITH_HITS: _lookups(hits=True),
    Category.LOOKUPS_WITHOUT_HITS: _lookups(hits=False),
    Category.DISCLOSURES: _disclosures,
    Category.IMPORT_JOBS: _import_jobs(Category.IMPORT_JOBS),
    Category.UPLOADED_FILES: _import_jobs(Category.UPLOADED_FILES),
    Category.SESSIONS_AND_TOKENS: _sessions_and_tokens,
    Category.AUDIT_LOG: _audit_log,
}


def due(category: Category, *, now: dt.datetime, honour_holds: bool = True) -> list[Part]:
    """What ``category``'s clock makes due at ``now``: one queryset per model."""
    return CLOCKS[category](Clocks(now, honour_holds=honour_holds))


# -- the preview -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartCount:
    """How many rows of one model a category would dispose of."""

    name: str
    model: str
    due: int


@dataclass(frozen=True)
class CategoryPreview:
    """What one category would dispose of now, and why."""

    category: Category
    label: str
    period_days: int
    trigger: str
    cutoff: dt.datetime
    #: The category's own records due (held ones never counted).
    due: int
    #: Its own records past their period that a legal hold keeps.
    held: int
    #: The earliest clock start among the records due.
    oldest_clock_start: dt.datetime | None
    reason: str
    parts: tuple[PartCount, ...]


def _reason(category: Category, now: dt.datetime) -> str:
    rule, days = SCHEDULE[category], period_days(category)
    return (
        f"Due {days} days after {rule.trigger}: clock started on or before "
        f"{cutoff(category, now):%Y-%m-%d %H:%M} UTC. {rule.kept_by}"
    )


def _own_count(parts: Iterable[Part]) -> int:
    return sum(part.rows.count() for part in parts if part.own)


def disposal_preview(
    *, now: dt.datetime, categories: Iterable[Category] | None = None
) -> list[CategoryPreview]:
    """What each category (default: every one) would dispose of at ``now``, with counts,
    the records legal holds keep, the oldest clock start and the rule; reads only. One query
    per kind of row, and one more per own kind when a legal hold is active. ``InvalidInput``
    (field ``asOf``) when ``now`` is too early for a period to reach back from it."""
    wanted = list(Category) if categories is None else [c for c in Category if c in categories]
    for category in wanted:
        try:
            cutoff(category, now)
        except OverflowError:
            raise InvalidInput(
                f"asOf {now.date().isoformat()} is too early: {category} reaches back "
                f"{period_days(category)} days before it",
                field="asOf",
            ) from None
    any_hold = m.LegalHold.objects.active().exists()
    previews = []
    for category in wanted:
        counts, starts, own = [], [], 0
        for part in due(category, now=now):
            if part.own:
                found = part.rows.aggregate(n=Count("pk"), oldest=Min("clock_start"))
                own += found["n"]
                starts.append(found["oldest"])
                counted = found["n"]
            else:
                counted = part.rows.count()
            counts.append(PartCount(part.name, part.model._meta.label, counted))
        held = _own_count(due(category, now=now, honour_holds=False)) - own if any_hold else 0
        previews.append(
            CategoryPreview(
                category=category,
                label=SCHEDULE[category].label,
                period_days=period_days(category),
                trigger=SCHEDULE[category].trigger,
                cutoff=cutoff(category, now),
                due=own,
                held=held,
                oldest_clock_start=min((t for t in starts if t is not None), default=None),
                reason=_reason(category, now),
                parts=tuple(counts),
            )
        )
    return previews
