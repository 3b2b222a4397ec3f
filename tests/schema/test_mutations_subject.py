"""Subject mutations through /graphql: createSubject, updateSubject, addIdentifierToSubject."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from backend import models as m
from tests.factories import IdentifierFactory, SubjectFactory
from tests.schema.mutation_helpers import (
    ERRORS,
    NON_WRITER_ROLES,
    assert_analyst_calls_succeed,
    assert_forbidden,
    assert_unauthenticated,
    bad_id,
    gid,
    refused_without_writes,
    single_error,
)

pytestmark = pytest.mark.django_db

SUBJECT_FIELDS = """
id fullName aliases dateOfBirth nationality sexOffenderRegistered
knownMisidentification redressCaseNumber
identifiers { edges { node { identifier { kind qualifier value } } } }
"""

CREATE_SUBJECT = f"""
mutation CreateSubject($input: CreateSubjectInput!) {{
  createSubject(input: $input) {{ subject {{ {SUBJECT_FIELDS} }} {ERRORS} }}
}}"""

UPDATE_SUBJECT = f"""
mutation UpdateSubject($input: UpdateSubjectInput!) {{
  updateSubject(input: $input) {{ subject {{ {SUBJECT_FIELDS} }} {ERRORS} }}
}}"""

ADD_IDENTIFIER_TO_SUBJECT = f"""
mutation AddIdentifierToSubject($subjectId: ID!, $identifier: IdentifierInput!) {{
  addIdentifierToSubject(subjectId: $subjectId, identifier: $identifier) {{
    subject {{ {SUBJECT_FIELDS} }} {ERRORS}
  }}
}}"""


def row_counts() -> dict[str, int]:
    """How many rows every table a subject mutation may write holds."""
    return {
        model.__name__: model.objects.count()
        for model in (m.Subject, m.Identifier, m.SubjectIdentifier)
    }


def subject_row(subject: m.Subject) -> tuple[Any, ...]:
    subject.refresh_from_db()
    return (
        subject.full_name,
        subject.aliases,
        subject.date_of_birth,
        subject.nationality,
        subject.sex_offender_registered,
        subject.known_misidentification,
        subject.redress_case_number,
    )


# --- createSubject -----------------------------------------------------------------------------


def test_create_subject_records_a_cleaned_person(gql, analyst):
    # given nothing
    # when a person is recorded with untidy name, aliases and nationality
    result = gql(
        CREATE_SUBJECT,
        {
            "input": {
                "fullName": "  Jane   Roe ",
                "aliases": ["JR", " J   Roe ", "JR", "  "],
                "dateOfBirth": "1985-02-03",
                "nationality": "gb",
                "sexOffenderRegistered": True,
            }
        },
    )
    # then the subject comes back cleaned, with no errors
    assert "errors" not in result, result
    payload = result["data"]["createSubject"]
    assert payload["errors"] == []
    row = m.Subject.objects.get()
    assert payload["subject"] == {
        "id": gid("Subject", row.pk),
        "fullName": "Jane Roe",
        "aliases": ["JR", "J Roe"],
        "dateOfBirth": "1985-02-03",
        "nationality": "GB",
        "sexOffenderRegistered": True,
        "knownMisidentification": False,
        "redressCaseNumber": "",
        "identifiers": {"edges": []},
    }
    # and the database holds the same
    assert subject_row(row) == (
        "Jane Roe",
        ["JR", "J Roe"],
        dt.date(1985, 2, 3),
        "GB",
        True,
        False,
        "",
    )
    assert row.created_by == analyst


def test_create_subject_applies_defaults(gql):
    # given nothing
    # when a person is recorded by name only
    result = gql(CREATE_SUBJECT, {"input": {"fullName": "John Doe"}})
    # then the other fields take their defaults
    assert result["data"]["createSubject"]["errors"] == []
    row = m.Subject.objects.get()
    assert subject_row(row) == ("John Doe", [], None, "", False, False, "")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"fullName": "   "}, "fullName", "fullName must not be empty"),
        (
            {"nationality": "USA"},
            "nationality",
            "nationality must be an ISO 3166-1 alpha-2 code, got 'USA'",
        ),
        (
            {"nationality": "1x"},
            "nationality",
            "nationality must be an ISO 3166-1 alpha-2 code, got '1X'",
        ),
        ({"aliases": [f"alias {n}" for n in range(51)]}, "aliases", "at most 50 aliases"),
    ],
    ids=["blank-name", "three-letter-country", "non-alpha-country", "too-many-aliases"],
)
def test_create_subject_refuses_invalid_input(gql, overrides, field, message):
    # given nothing recorded
    before = row_counts()
    # when a subject with one invalid field is recorded
    result = gql(CREATE_SUBJECT, {"input": {"fullName": "John Doe", **overrides}})
    # then that field is named and no subject was written
    error = single_error(result, "createSubject", "subject")
    assert error == {"code": "INVALID_INPUT", "message": message, "field": field}
    assert row_counts() == before


def test_create_subject_with_an_impossible_date_is_a_validation_error(gql):
    # given nothing
    # when the date of birth is not a date
    result = gql(CREATE_SUBJECT, {"input": {"fullName": "John Doe", "dateOfBirth": "1985-13-01"}})
    # then GraphQL refuses it and nothing is written
    assert result.get("data") is None
    assert "1985-13-01" in result["errors"][0]["message"]
    assert m.Subject.objects.count() == 0


# --- updateSubject -----------------------------------------------------------------------------


def test_update_subject_changes_the_given_fields_only(gql):
    # given a subject
    subject = SubjectFactory(
        full_name="John Doe", aliases=["JD"], date_of_birth=dt.date(1980, 1, 1), nationality="US"
    )
    # when the name, aliases and registry flag change
    result = gql(
        UPDATE_SUBJECT,
        {
            "input": {
                "id": gid("Subject", subject.pk),
                "fullName": "John  Q. Doe",
                "aliases": ["Johnny"],
                "sexOffenderRegistered": True,
            }
        },
    )
    # then those fields changed and the others stayed
    payload = result["data"]["updateSubject"]
    assert payload["errors"] == []
    assert payload["subject"]["fullName"] == "John Q. Doe"
    assert payload["subject"]["aliases"] == ["Johnny"]
    assert payload["subject"]["sexOffenderRegistered"] is True
    assert payload["subject"]["dateOfBirth"] == "1980-01-01"
    assert subject_row(subject) == (
        "John Q. Doe",
        ["Johnny"],
        dt.date(1980, 1, 1),
        "US",
        True,
        False,
        "",
    )


def test_update_subject_marks_a_known_misidentification_with_its_case(gql):
    # given a subject
    subject = SubjectFactory()
    # when it is marked as wrongly matched, with the redress case number
    result = gql(
        UPDATE_SUBJECT,
        {
            "input": {
                "id": gid("Subject", subject.pk),
                "knownMisidentification": True,
                "redressCaseNumber": " TRIP-2024-123 ",
                "dateOfBirth": "1979-12-31",
                "nationality": "ca",
            }
        },
    )
    # then the mark and the case are recorded
    payload = result["data"]["updateSubject"]
    assert payload["errors"] == []
    assert payload["subject"]["knownMisidentification"] is True
    assert payload["subject"]["redressCaseNumber"] == "TRIP-2024-123"
    subject.refresh_from_db()
    assert (
        subject.known_misidentification,
        subject.redress_case_number,
        subject.date_of_birth,
        subject.nationality,
    ) == (True, "TRIP-2024-123", dt.date(1979, 12, 31), "CA")


def test_update_subject_refuses_a_misidentification_without_a_case(gql):
    # given a subject
    subject = SubjectFactory(full_name="John Doe")
    before = subject_row(subject)
    # when it is marked as wrongly matched (and renamed) but no case number is given
    result = gql(
        UPDATE_SUBJECT,
        {
            "input": {
                "id": gid("Subject", subject.pk),
                "fullName": "Someone Else",
                "knownMisidentification": True,
            }
        },
    )
    # then the redress case is asked for and nothing changed
    error = single_error(result, "updateSubject", "subject")
    assert error == {
        "code": "INVALID_INPUT",
        "message": "a known misidentification needs the redress case number",
        "field": "redressCaseNumber",
    }
    assert subject_row(subject) == before


def test_update_subject_refuses_a_bad_nationality(gql):
    # given a subject
    subject = SubjectFactory(nationality="US")
    before = subject_row(subject)
    # when its nationality is set to a three-letter code
    result = gql(
        UPDATE_SUBJECT, {"input": {"id": gid("Subject", subject.pk), "nationality": "DEU"}}
    )
    # then the code is refused, quoted, and nothing changed
    error = single_error(result, "updateSubject", "subject")
    assert error == {
        "code": "INVALID_INPUT",
        "message": "nationality must be an ISO 3166-1 alpha-2 code, got 'DEU'",
        "field": "nationality",
    }
    assert subject_row(subject) == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_update_subject_with_a_bad_id_is_not_found(gql, how):
    # given an id that is not a known Subject
    subject_id, message = bad_id(how, "Subject")
    # when it is updated
    result = gql(UPDATE_SUBJECT, {"input": {"id": subject_id, "fullName": "Changed"}})
    # then it is not found and nothing was renamed
    error = single_error(result, "updateSubject", "subject")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "id"
    assert message in error["message"]
    assert not m.Subject.objects.filter(full_name="Changed").exists()


# --- addIdentifierToSubject --------------------------------------------------------------------


def test_add_identifier_to_subject_records_a_new_identifier(gql):
    # given a subject
    subject = SubjectFactory()
    before = row_counts()
    # when a phone number is recorded as theirs
    result = gql(
        ADD_IDENTIFIER_TO_SUBJECT,
        {
            "subjectId": gid("Subject", subject.pk),
            "identifier": {"kind": "PHONE", "value": "+1 (202) 555-0142"},
        },
    )
    # then the subject lists the normalised number
    payload = result["data"]["addIdentifierToSubject"]
    assert payload["errors"] == []
    assert payload["subject"]["id"] == gid("Subject", subject.pk)
    assert [e["node"]["identifier"] for e in payload["subject"]["identifiers"]["edges"]] == [
        {"kind": "PHONE", "qualifier": "", "value": "+12025550142"}
    ]
    # and one identifier and one link were written
    after = row_counts()
    assert after["Identifier"] == before["Identifier"] + 1
    assert after["SubjectIdentifier"] == before["SubjectIdentifier"] + 1
    identifier = m.Identifier.objects.get()
    assert (identifier.value, identifier.raw_value) == ("+12025550142", "+1 (202) 555-0142")
    assert list(m.SubjectIdentifier.objects.values_list("subject_id", "identifier_id")) == [
        (subject.pk, identifier.pk)
    ]


def test_add_identifier_to_subject_reuses_a_known_identifier_once(gql):
    # given a subject and an e-mail address already on record
    subject = SubjectFactory()
    known = IdentifierFactory(raw_value="person@example.com")
    variables = {
        "subjectId": gid("Subject", subject.pk),
        "identifier": {"kind": "EMAIL", "value": "PERSON@Example.com"},
    }
    # when the address, differently cased, is recorded for the subject twice
    first = gql(ADD_IDENTIFIER_TO_SUBJECT, variables)
    second = gql(ADD_IDENTIFIER_TO_SUBJECT, variables)
    # then both succeed, the known identifier is used and linked once
    assert first["data"]["addIdentifierToSubject"]["errors"] == []
    assert second["data"]["addIdentifierToSubject"]["errors"] == []
    assert list(m.Identifier.objects.values_list("pk", flat=True)) == [known.pk]
    assert list(m.SubjectIdentifier.objects.values_list("subject_id", "identifier_id")) == [
        (subject.pk, known.pk)
    ]


def test_add_identifier_to_subject_refuses_a_malformed_value(gql):
    # given a subject
    subject = SubjectFactory()
    before = row_counts()
    # when an address without '@' is recorded
    result = gql(
        ADD_IDENTIFIER_TO_SUBJECT,
        {
            "subjectId": gid("Subject", subject.pk),
            "identifier": {"kind": "EMAIL", "value": "person.example.com"},
        },
    )
    # then it is an invalid identifier, quoting the value, and nothing was written
    error = single_error(result, "addIdentifierToSubject", "subject")
    assert error == {
        "code": "INVALID_IDENTIFIER",
        "message": "Invalid e-mail address 'person.example.com': missing '@'",
        "field": "value",
    }
    assert row_counts() == before


def test_add_username_without_platform_to_subject_is_invalid(gql):
    # given a subject
    subject = SubjectFactory()
    before = row_counts()
    # when a username is recorded without its platform
    result = gql(
        ADD_IDENTIFIER_TO_SUBJECT,
        {"subjectId": gid("Subject", subject.pk), "identifier": {"kind": "USERNAME", "value": "x"}},
    )
    # then the platform is asked for
    error = single_error(result, "addIdentifierToSubject", "subject")
    assert error["code"] == "INVALID_IDENTIFIER"
    assert error["field"] == "value"
    assert "a platform (qualifier) is required for usernames" in error["message"]
    assert row_counts() == before


@pytest.mark.parametrize("how", ["unknown", "wrong_type", "malformed"])
def test_add_identifier_to_a_bad_subject_id_is_not_found(gql, how):
    # given an id that is not a known Subject
    subject_id, message = bad_id(how, "Subject")
    before = row_counts()
    # when an identifier is recorded for it
    result = gql(
        ADD_IDENTIFIER_TO_SUBJECT,
        {"subjectId": subject_id, "identifier": {"kind": "EMAIL", "value": "a@example.com"}},
    )
    # then it is not found and the identifier was not recorded either
    error = single_error(result, "addIdentifierToSubject", "subject")
    assert error["code"] == "NOT_FOUND"
    assert error["field"] == "subjectId"
    assert message in error["message"]
    assert row_counts() == before


def test_add_identifier_of_an_unknown_kind_to_subject_is_a_validation_error(gql):
    # given a subject
    subject = SubjectFactory()
    # when the kind is not an IdentifierKind
    result = gql(
        ADD_IDENTIFIER_TO_SUBJECT,
        {"subjectId": gid("Subject", subject.pk), "identifier": {"kind": "FAX", "value": "1"}},
    )
    # then GraphQL refuses it
    assert result.get("data") is None
    assert "FAX" in result["errors"][0]["message"]
    assert m.SubjectIdentifier.objects.count() == 0


# --- who may call ------------------------------------------------------------------------------

MUTATIONS = ["createSubject", "updateSubject", "addIdentifierToSubject"]


def subject_mutation_calls() -> dict[str, tuple[str, dict[str, Any]]]:
    """Every subject mutation with variables that would succeed for an analyst."""
    subject_id = gid("Subject", SubjectFactory(full_name="Unchanged").pk)
    return {
        "createSubject": (CREATE_SUBJECT, {"input": {"fullName": "New Person"}}),
        "updateSubject": (UPDATE_SUBJECT, {"input": {"id": subject_id, "fullName": "Changed"}}),
        "addIdentifierToSubject": (
            ADD_IDENTIFIER_TO_SUBJECT,
            {"subjectId": subject_id, "identifier": {"kind": "EMAIL", "value": "a@example.com"}},
        ),
    }


def subject_state() -> tuple[dict[str, int], list[str]]:
    return row_counts(), sorted(m.Subject.objects.values_list("full_name", flat=True))


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("role", NON_WRITER_ROLES)
def test_other_roles_may_not_call_subject_mutations(gql_as, role, mutation):
    # given a caller whose role does not write records
    # when it calls the mutation: nothing is written
    result = refused_without_writes(gql_as(role), subject_mutation_calls, mutation, subject_state)
    # then it is forbidden
    assert_forbidden(result, mutation)


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_anonymous_callers_may_not_call_subject_mutations(anonymous_gql, mutation):
    # given no session
    # when the mutation is called: nothing is written
    result = refused_without_writes(anonymous_gql, subject_mutation_calls, mutation, subject_state)
    # then authentication is required
    assert_unauthenticated(result)


def test_the_analyst_variables_used_above_do_succeed(gql):
    # given the calls the role tests make, when an analyst makes each of them, then every one
    # succeeds, so the refusals above are about the role alone
    assert_analyst_calls_succeed(gql, subject_mutation_calls)
