"""factory_boy factories for every model; identifiers are normalised as the platform would."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from backend import models as m
from backend.identifiers import normalise

__all__ = [
    "IdentifierFactory",
    "LeadFactory",
    "NoteFactory",
    "OfficeFactory",
    "ResearchResultFactory",
    "SightingFactory",
    "SourceFactory",
    "SubjectFactory",
    "TipFactory",
    "TipSubjectFactory",
    "UserFactory",
    "service_tip",
]


def _days_ago(days: int) -> factory.LazyFunction:
    return factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=days))


class UserFactory(factory.django.DjangoModelFactory):
    """An account that may act: every access-lifecycle step done, training current, recently
    active and reviewed. Set a field to ``None`` to test the lifecycle."""

    class Meta:
        model = m.User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    role = m.Role.ANALYST
    password = factory.django.Password("correct horse battery staple")
    nominated_by = "Test Supervisor"
    nominated_at = _days_ago(40)
    certified_at = _days_ago(35)
    compliance_reviewed_at = _days_ago(32)
    approved_at = _days_ago(31)
    rules_accepted_at = _days_ago(30)
    annual_training_at = _days_ago(30)
    privileges_reviewed_at = _days_ago(30)
    last_activity_at = factory.LazyFunction(timezone.now)


class OfficeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Office

    name = factory.Sequence(lambda n: f"Field Office {n}")
    region = "Region"
    contact_point = factory.Sequence(lambda n: f"duty-desk-{n}@example.test")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Source

    kind = m.SourceKind.ESP_CLEARINGHOUSE
    name = factory.Sequence(lambda n: f"Source {n}")
    country = "US"


class TipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Tip

    source = factory.SubFactory(SourceFactory)
    source_reference = factory.Sequence(lambda n: f"REF-{n:06d}")
    received_at = factory.Sequence(lambda n: timezone.now() - dt.timedelta(hours=n))
    category = m.TipCategory.DISTRIBUTION
    narrative = "Fake narrative for tests."


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Subject

    full_name = factory.Sequence(lambda n: f"Test Person {n}")
    date_of_birth = dt.date(1980, 1, 1)
    nationality = "US"


class IdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Identifier
        exclude = ("norm",)

    kind = m.IdentifierKind.EMAIL
    raw_value = factory.Sequence(lambda n: f"Person{n}@Example.com")
    qualifier = ""
    norm = factory.LazyAttribute(lambda o: normalise(o.kind, o.raw_value, qualifier=o.qualifier))
    value = factory.LazyAttribute(lambda o: o.norm.value)
    canonical = factory.LazyAttribute(lambda o: o.norm.canonical)


class SightingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.TipIdentifier

    tip = factory.SubFactory(TipFactory)
    identifier = factory.SubFactory(IdentifierFactory)
    event = m.SightingEvent.REPORTED


class TipSubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.TipSubject

    tip = factory.SubFactory(TipFactory)
    subject = factory.SubFactory(SubjectFactory)
    role = m.SubjectRole.SUSPECT


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Lead

    title = factory.Sequence(lambda n: f"Lead {n}")
    office = factory.SubFactory(OfficeFactory)


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Note
        exclude = ("record",)

    record = factory.SubFactory(TipFactory)
    content_type = factory.LazyAttribute(lambda o: ContentType.objects.get_for_model(o.record))
    object_id = factory.LazyAttribute(lambda o: o.record.pk)
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"Note {n}")


class ResearchResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ResearchResult

    legal_process = m.LegalProcess.SUBPOENA
    served_on = "Example ISP"
    findings = "Subscriber: fake record."
    identifier = factory.SubFactory(IdentifierFactory)


#: When a tip made by ``service_tip`` was received, unless told otherwise.
SERVICE_RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


def service_tip(
    reference: str,
    *,
    identifiers: object = (),
    subjects: object = (),
    received_at: dt.datetime = SERVICE_RECEIVED,
) -> m.Tip:
    """A tip of category OTHER from a new source, created through the tip service as intake
    would create it: its identifiers and subjects linked, its cluster kept."""
    from backend.services.tips import create_tip

    return create_tip(
        by=None,
        source=SourceFactory(),
        source_reference=reference,
        received_at=received_at,
        category=m.TipCategory.OTHER,
        identifiers=identifiers,  # type: ignore[arg-type]
        subjects=subjects,  # type: ignore[arg-type]
    )
