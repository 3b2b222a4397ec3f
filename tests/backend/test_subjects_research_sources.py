"""backend.services: subjects, research results, sources and identifier resolution."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.db.models.query import QuerySet

from backend.errors import DuplicateRecord, InvalidIdentifierValue, InvalidInput
from backend.models import (
    Identifier,
    ResearchResult,
    Source,
    Subject,
    SubjectIdentifier,
)
from backend.services.identifiers import resolve_identifier, update_identifier
from backend.services.research import create_research_result, update_research_result
from backend.services.sources import create_source
from backend.services.subjects import (
    add_identifier_to_subject,
    create_subject,
    update_subject,
)
from tests.factories import IdentifierFactory, SubjectFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 1, 10, 12, 0, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return T0 + dt.timedelta(days=days)


# ----------------------------------------------------------------------------------------------
# subjects


def test_create_subject_tidies_its_fields():
    # given an analyst
    analyst = UserFactory()
    # when a subject is created with messy input
    subject = create_subject(
        by=analyst,
        full_name="  John   Q.\tExample ",
        aliases=["Johnny", " Johnny ", "", "  ", "J.Q.   E."],
        date_of_birth=dt.date(1975, 4, 2),
        nationality=" gb ",
        sex_offender_registered=True,
    )
    # then names are collapsed, aliases de-duplicated in order, the country upper-cased
    subject.refresh_from_db()
    assert subject.full_name == "John Q. Example"
    assert subject.aliases == ["Johnny", "J.Q. E."]
    assert subject.date_of_birth == dt.date(1975, 4, 2)
    assert subject.nationality == "GB"
    assert subject.sex_offender_registered is True
    assert (subject.known_misidentification, subject.redress_case_number) == (False, "")
    assert subject.created_by == analyst


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_subject_needs_a_name(name: str):
    with pytest.raises(InvalidInput) as info:
        create_subject(by=None, full_name=name)
    assert info.value.field == "fullName"
    assert info.value.message == "fullName must not be empty"
    assert Subject.objects.count() == 0


@pytest.mark.parametrize("code", ["USA", "U", "1A", "U-", "ü", "ÄÖ", "éé", "ДЕ"])
def test_subject_nationality_must_be_alpha2(code: str):
    with pytest.raises(InvalidInput) as info:
        create_subject(by=None, full_name="A Person", nationality=code)
    assert info.value.field == "nationality"
    assert Subject.objects.count() == 0


def test_subject_nationality_may_be_empty():
    assert create_subject(by=None, full_name="A Person", nationality="  ").nationality == ""


def test_too_many_aliases_refused():
    with pytest.raises(InvalidInput) as info:
        create_subject(by=None, full_name="A", aliases=[f"alias {i}" for i in range(51)])
    assert info.value.field == "aliases"


def test_update_subject_validates_name_and_nationality():
    subject = SubjectFactory(full_name="Kept Name", nationality="US")
    with pytest.raises(InvalidInput) as info:
        update_subject(subject=subject, full_name=" ")
    assert info.value.field == "fullName"
    with pytest.raises(InvalidInput) as info:
        update_subject(subject=Subject.objects.get(pk=subject.pk), nationality="XYZ")
    assert info.value.field == "nationality"
    stored = Subject.objects.get(pk=subject.pk)
    assert (stored.full_name, stored.nationality) == ("Kept Name", "US")


@pytest.mark.parametrize("case_number", [None, "", "   "])
def test_known_misidentification_needs_a_redress_case_number(case_number):
    # given a subject
    subject = SubjectFactory()
    # when marked as a known misidentification without a case number
    with pytest.raises(InvalidInput) as info:
        update_subject(
            subject=subject, known_misidentification=True, redress_case_number=case_number
        )
    # then it is refused and not stored
    assert info.value.field == "redressCaseNumber"
    assert info.value.message == "a known misidentification needs the redress case number"
    stored = Subject.objects.get(pk=subject.pk)
    assert (stored.known_misidentification, stored.redress_case_number) == (False, "")


def test_known_misidentification_with_case_number_is_stored():
    subject = SubjectFactory()
    update_subject(
        subject=subject, known_misidentification=True, redress_case_number=" TRIP-2024-000123 "
    )
    stored = Subject.objects.get(pk=subject.pk)
    assert (stored.known_misidentification, stored.redress_case_number) == (
        True,
        "TRIP-2024-000123",
    )
    # and the case number cannot then be cleared while the mark stands
    with pytest.raises(InvalidInput) as info:
        update_subject(subject=stored, redress_case_number="")
    assert info.value.field == "redressCaseNumber"
    assert Subject.objects.get(pk=subject.pk).redress_case_number == "TRIP-2024-000123"
    # but the mark can be lifted
    update_subject(subject=Subject.objects.get(pk=subject.pk), known_misidentification=False)
    assert Subject.objects.get(pk=subject.pk).known_misidentification is False


def test_update_subject_changes_only_given_fields():
    subject = SubjectFactory(full_name="Old", aliases=["a"], nationality="US")
    update_subject(subject=subject, aliases=["b", "b", "c"], sex_offender_registered=True)
    stored = Subject.objects.get(pk=subject.pk)
    assert (stored.full_name, stored.aliases, stored.nationality) == ("Old", ["b", "c"], "US")
    assert stored.sex_offender_registered is True


def test_add_identifier_to_subject_is_idempotent():
    # given a subject
    subject = SubjectFactory()
    # when the same e-mail is added three times, written differently
    link1, ident1 = add_identifier_to_subject(
        subject=subject, kind="EMAIL", value="Suspect@Example.com"
    )
    link2, ident2 = add_identifier_to_subject(
        subject=subject, kind="EMAIL", value="suspect@example.com"
    )
    link3, ident3 = add_identifier_to_subject(
        subject=subject, kind="email", value=" SUSPECT@EXAMPLE.COM "
    )
    # then there is one identifier and one link
    assert ident1.pk == ident2.pk == ident3.pk
    assert link1.pk == link2.pk == link3.pk
    assert Identifier.objects.count() == 1
    assert SubjectIdentifier.objects.count() == 1
    assert list(subject.identifiers.values_list("value", flat=True)) == ["suspect@example.com"]


def test_add_identifier_to_two_subjects_shares_the_identifier():
    a, b = SubjectFactory(), SubjectFactory()
    _, ident_a = add_identifier_to_subject(subject=a, kind="PHONE", value="+44 20 7946 0958")
    _, ident_b = add_identifier_to_subject(subject=b, kind="PHONE", value="+442079460958")
    assert ident_a.pk == ident_b.pk
    assert SubjectIdentifier.objects.count() == 2


def test_add_invalid_identifier_to_subject_writes_nothing():
    subject = SubjectFactory()
    with pytest.raises(InvalidIdentifierValue) as info:
        add_identifier_to_subject(subject=subject, kind="IP_ADDRESS", value="999.1.1.1")
    assert info.value.field == "value"
    assert (Identifier.objects.count(), SubjectIdentifier.objects.count()) == (0, 0)


# ----------------------------------------------------------------------------------------------
# research results


def test_create_research_result():
    # given an identifier, a tip and an analyst
    identifier, tip, analyst = IdentifierFactory(), TipFactory(), UserFactory()
    # when a subpoena return is recorded
    result = create_research_result(
        by=analyst,
        identifier=identifier,
        legal_process="SUBPOENA",
        findings="  Subscriber: fake record.  ",
        served_on=" Example ISP ",
        served_at=dt.date(2024, 3, 1),
        returned_at=dt.date(2024, 3, 1),
        tip=tip,
    )
    # then it is stored tidied
    result.refresh_from_db()
    assert (result.identifier, result.tip, result.created_by) == (identifier, tip, analyst)
    assert (result.legal_process, result.findings, result.served_on) == (
        "SUBPOENA",
        "Subscriber: fake record.",
        "Example ISP",
    )
    assert (result.served_at, result.returned_at) == (dt.date(2024, 3, 1), dt.date(2024, 3, 1))


@pytest.mark.parametrize("findings", ["", "   ", "\n"])
def test_research_result_needs_findings(findings: str):
    with pytest.raises(InvalidInput) as info:
        create_research_result(
            by=None, identifier=IdentifierFactory(), legal_process="SUBPOENA", findings=findings
        )
    assert info.value.field == "findings"
    assert ResearchResult.objects.count() == 0


def test_research_result_cannot_return_before_served():
    with pytest.raises(InvalidInput) as info:
        create_research_result(
            by=None,
            identifier=IdentifierFactory(),
            legal_process="ADMINISTRATIVE_SUMMONS",
            findings="x",
            served_at=dt.date(2024, 3, 2),
            returned_at=dt.date(2024, 3, 1),
        )
    assert info.value.field == "returnedAt"
    assert info.value.message == "returnedAt cannot be before servedAt"
    assert ResearchResult.objects.count() == 0


@pytest.mark.parametrize("process", ["", "subpoena", "TORTURE"])
def test_research_result_needs_a_known_legal_process(process: str):
    with pytest.raises(InvalidInput) as info:
        create_research_result(
            by=None, identifier=IdentifierFactory(), legal_process=process, findings="x"
        )
    assert info.value.field == "legalProcess"
    assert ResearchResult.objects.count() == 0


def test_update_research_result_validates_and_saves():
    # given a result served on 1 March
    result = create_research_result(
        by=None,
        identifier=IdentifierFactory(),
        legal_process="COURT_ORDER",
        findings="first",
        served_at=dt.date(2024, 3, 1),
    )
    # when a return date before the service date is given, then it is refused
    with pytest.raises(InvalidInput) as info:
        update_research_result(result=result, returned_at=dt.date(2024, 2, 28))
    assert info.value.field == "returnedAt"
    # when findings are emptied, then it is refused
    with pytest.raises(InvalidInput) as info:
        update_research_result(result=ResearchResult.objects.get(pk=result.pk), findings=" ")
    assert info.value.field == "findings"
    stored = ResearchResult.objects.get(pk=result.pk)
    assert (stored.findings, stored.returned_at) == ("first", None)
    # when valid corrections are given, then they are stored
    update_research_result(
        result=stored, findings=" corrected ", served_on=" ISP ", returned_at=dt.date(2024, 3, 9)
    )
    stored = ResearchResult.objects.get(pk=result.pk)
    assert (stored.findings, stored.served_on, stored.returned_at) == (
        "corrected",
        "ISP",
        dt.date(2024, 3, 9),
    )


# ----------------------------------------------------------------------------------------------
# sources


def test_create_source_tidies_fields():
    source = create_source(kind="NGO", name="  Example   Hotline ", country=" de ")
    source.refresh_from_db()
    assert (source.kind, source.name, source.country) == ("NGO", "Example Hotline", "DE")


def test_create_source_duplicate_refused():
    # given a source
    create_source(kind="INTERPOL", name="INTERPOL Lyon", country="FR")
    # when the same kind and name (differently spaced) is registered again
    with pytest.raises(DuplicateRecord) as info:
        create_source(kind="INTERPOL", name=" INTERPOL   Lyon", country="FR")
    # then it is refused as a duplicate
    assert info.value.code == "DUPLICATE"
    assert info.value.field == "name"
    assert info.value.message == "a INTERPOL source named 'INTERPOL Lyon' already exists"
    assert Source.objects.count() == 1
    # and the same name under another kind is a different source
    create_source(kind="FOREIGN_LAW_ENFORCEMENT", name="INTERPOL Lyon")
    assert Source.objects.count() == 2


@pytest.mark.parametrize("country", ["USA", "U", "1A", "U.", "ü", "ÄÖ", "éé", "ДЕ"])
def test_create_source_bad_country_refused(country: str):
    with pytest.raises(InvalidInput) as info:
        create_source(kind="NGO", name="Hotline", country=country)
    assert info.value.field == "country"
    assert Source.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"kind": "NGO", "name": "  "}, "name"), ({"kind": "BLOG", "name": "Someone"}, "kind")],
)
def test_create_source_needs_name_and_known_kind(kwargs, field):
    with pytest.raises(InvalidInput) as info:
        create_source(**kwargs)
    assert info.value.field == field
    assert Source.objects.count() == 0


# ----------------------------------------------------------------------------------------------
# resolve_identifier / update_identifier


def _seen(identifier: Identifier) -> tuple[dt.datetime | None, dt.datetime | None]:
    identifier.refresh_from_db()
    return identifier.first_seen, identifier.last_seen


def test_resolve_identifier_creates_then_finds():
    # when a new value is resolved, then a row is created from the normalised value
    ident, created = resolve_identifier(kind="EMAIL", value=" Mixed.Case@GMAIL.com ", seen_at=T0)
    assert created is True
    assert (ident.kind, ident.value, ident.canonical, ident.raw_value) == (
        "EMAIL",
        "mixed.case@gmail.com",
        "mixedcase@gmail.com",
        "Mixed.Case@GMAIL.com",
    )
    assert _seen(ident) == (T0, T0)
    # when the same value is resolved again, then the same row is returned, not re-created
    again, created = resolve_identifier(kind="EMAIL", value="MIXED.CASE@gmail.com")
    assert (again.pk, created) == (ident.pk, False)
    assert again.raw_value == "Mixed.Case@GMAIL.com"
    assert Identifier.objects.count() == 1
    assert _seen(ident) == (T0, T0)  # no seen_at: unchanged


def test_resolve_identifier_widens_first_and_last_seen():
    # given an identifier first seen at T0
    ident, _ = resolve_identifier(kind="PHONE", value="+1 202 555 0143", seen_at=T0)
    # when seen later, then only last_seen moves
    resolve_identifier(kind="PHONE", value="+12025550143", seen_at=at(5))
    assert _seen(ident) == (T0, at(5))
    # when seen earlier, then only first_seen moves
    resolve_identifier(kind="PHONE", value="(202) 555-0143", seen_at=at(-3))
    assert _seen(ident) == (at(-3), at(5))
    # when seen in between, then nothing moves
    _, created = resolve_identifier(kind="PHONE", value="+12025550143", seen_at=at(1))
    assert created is False
    assert _seen(ident) == (at(-3), at(5))
    # when seen with no time, then nothing moves
    resolve_identifier(kind="PHONE", value="+12025550143")
    assert _seen(ident) == (at(-3), at(5))


def test_resolve_identifier_fills_unset_seen_times():
    # given an identifier stored without first/last seen
    ident = IdentifierFactory(raw_value="nobody@example.com", first_seen=None, last_seen=None)
    # when seen at a time, then both take that time
    found, created = resolve_identifier(kind="EMAIL", value="Nobody@Example.com", seen_at=at(2))
    assert (found.pk, created) == (ident.pk, False)
    assert _seen(ident) == (at(2), at(2))
    assert (found.first_seen, found.last_seen) == (at(2), at(2))


def test_resolve_identifier_concurrent_duplicate_returns_the_same_row(monkeypatch):
    # given a row that another transaction created after our lookup found nothing:
    # simulated by making the first Identifier lookup miss while the row exists
    existing = IdentifierFactory(
        kind="EMAIL", raw_value="race@example.com", first_seen=at(1), last_seen=at(1)
    )
    real_first = QuerySet.first
    misses = []

    def first_missing_once(self):
        if self.model is Identifier and not misses:
            misses.append(True)
            return None
        return real_first(self)

    monkeypatch.setattr(QuerySet, "first", first_missing_once)

    # when the value is resolved, the INSERT hits the unique constraint
    ident, created = resolve_identifier(kind="EMAIL", value="RACE@example.com", seen_at=at(4))

    # then the existing row is returned, not created, and its last_seen still widens
    assert misses == [True]
    assert (ident.pk, created) == (existing.pk, False)
    assert Identifier.objects.count() == 1
    assert _seen(ident) == (at(1), at(4))
    assert (ident.first_seen, ident.last_seen) == (at(1), at(4))
    # and the connection is usable after the rolled-back INSERT
    assert Identifier.objects.filter(value="race@example.com").count() == 1


def test_database_refuses_a_second_row_for_one_normalised_value():
    IdentifierFactory(raw_value="dup@example.com")
    with pytest.raises(IntegrityError, match="identifier_normalised_unique"), transaction.atomic():
        IdentifierFactory(raw_value="DUP@example.com")
    assert Identifier.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "value", "field"),
    [("EMAIL", "nope", "value"), ("SMOKE_SIGNAL", "x", "kind"), ("PHONE", "", "value")],
)
def test_resolve_identifier_invalid_value_or_kind(kind: str, value: str, field: str):
    with pytest.raises(InvalidIdentifierValue) as info:
        resolve_identifier(kind=kind, value=value)
    assert info.value.code == "INVALID_IDENTIFIER"
    assert info.value.field == field
    assert Identifier.objects.count() == 0


def test_update_identifier_corrects_the_value():
    # given an identifier with a typo
    ident, _ = resolve_identifier(kind="EMAIL", value="tpyo@example.com", seen_at=T0)
    # when corrected
    update_identifier(identifier=ident, kind="EMAIL", value=" Typo@Example.com ")
    # then the normalised, canonical and raw values follow; seen times stay
    ident.refresh_from_db()
    assert (ident.value, ident.canonical, ident.raw_value) == (
        "typo@example.com",
        "typo@example.com",
        "Typo@Example.com",
    )
    assert (ident.first_seen, ident.last_seen) == (T0, T0)


def test_update_identifier_to_its_own_value_is_allowed():
    ident, _ = resolve_identifier(kind="EMAIL", value="same@example.com")
    update_identifier(identifier=ident, kind="EMAIL", value="SAME@example.com")
    ident.refresh_from_db()
    assert (ident.value, ident.raw_value) == ("same@example.com", "SAME@example.com")


def test_update_identifier_refuses_a_collision():
    # given two identifiers
    taken, _ = resolve_identifier(kind="EMAIL", value="taken@example.com")
    other, _ = resolve_identifier(kind="EMAIL", value="other@example.com")
    # when one is corrected into the other's value
    with pytest.raises(DuplicateRecord) as info:
        update_identifier(identifier=other, kind="EMAIL", value="Taken@Example.com")
    # then it is refused and both rows are unchanged
    assert info.value.code == "DUPLICATE"
    assert info.value.field == "value"
    assert info.value.message == (
        "e-mail address 'taken@example.com' already exists as another identifier"
    )
    assert sorted(Identifier.objects.values_list("pk", "value")) == sorted(
        [(taken.pk, "taken@example.com"), (other.pk, "other@example.com")]
    )


def test_update_identifier_refuses_invalid_value():
    ident, _ = resolve_identifier(kind="EMAIL", value="ok@example.com")
    with pytest.raises(InvalidIdentifierValue) as info:
        update_identifier(identifier=ident, kind="EMAIL", value="not an email")
    assert info.value.field == "value"
    ident.refresh_from_db()
    assert ident.value == "ok@example.com"
