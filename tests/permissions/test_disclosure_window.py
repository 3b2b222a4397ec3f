"""Disclosures expire: a partner-agency investigator may reopen what a lookup of theirs returned
for DISCLOSURE_REOPEN_DAYS (default 30), then must look the traveller up again. The window is
applied once, in permissions.scoping, so node fetches, nested relations, lookup results and
notes all follow it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from strawberry.relay import GlobalID

from backend import models as m
from permissions.scoping import scope_queryset
from tests.factories import IdentifierFactory, SubjectFactory, TipFactory, TipSubjectFactory

pytestmark = pytest.mark.django_db

LOOKUP = """query($input: TravellerLookupInput!) {
  travellerLookup(input: $input) { tips { sourceReference } subjects { fullName } } }"""
OPEN = """query($t: ID!, $s: ID!, $e: ID!) {
  t: node(id: $t) { id }
  s: node(id: $s) { ... on Subject { fullName tips { totalCount } } }
  e: node(id: $e) { id }
}"""
ADD_NOTE = """mutation($input: AddNoteInput!) { addNote(input: $input) {
  note { body } errors { code field } } }"""


def gid(obj) -> str:
    names = {m.Tip: "Tip", m.Subject: "Subject", m.Identifier: "Identifier"}
    return str(GlobalID(names[type(obj)], str(obj.pk)))


@pytest.fixture
def found(gql_as):
    """A suspect with an e-mail in a visible tip, and an investigator who has looked them up."""
    tip = TipFactory(source_reference="SEEN-1")
    suspect = SubjectFactory(full_name="Sam Suspect")
    TipSubjectFactory(tip=tip, subject=suspect)
    email = IdentifierFactory(raw_value="sam@example.com")
    suspect.identifier_links.create(identifier=email)
    investigator = gql_as(m.Role.INVESTIGATOR)
    result = investigator(LOOKUP, {"input": {"email": "sam@example.com"}})
    assert result["data"]["travellerLookup"]["tips"] == [{"sourceReference": "SEEN-1"}]
    return {"gql": investigator, "tip": tip, "suspect": suspect, "email": email}


def age_disclosures(days: float) -> None:
    """Move every disclosure ``days`` into the past."""
    m.Disclosure.objects.update(created_at=timezone.now() - dt.timedelta(days=days))


def opened(found) -> dict:
    ids = {"t": gid(found["tip"]), "s": gid(found["suspect"]), "e": gid(found["email"])}
    return found["gql"](OPEN, ids)["data"]


def test_default_window_is_thirty_days():
    assert django_settings.DISCLOSURE_REOPEN_DAYS == 30


def test_records_reopen_within_the_window(found):
    # given a lookup 29 days ago
    age_disclosures(29)
    # when the investigator reopens what it returned, then every record opens
    data = opened(found)
    assert data["t"] == {"id": gid(found["tip"])}
    assert data["s"] == {"fullName": "Sam Suspect", "tips": {"totalCount": 1}}
    assert data["e"] == {"id": gid(found["email"])}


def test_records_do_not_reopen_after_the_window(found):
    # given a lookup 31 days ago
    age_disclosures(31)
    # when the investigator reopens what it returned, then nothing opens
    assert opened(found) == {"t": None, "s": None, "e": None}
    # and a note can no longer be added to it
    result = found["gql"](ADD_NOTE, {"input": {"recordId": gid(found["tip"]), "body": "late"}})
    assert result["data"]["addNote"]["errors"] == [{"code": "NOT_FOUND", "field": "recordId"}]
    assert not m.Note.objects.exists()


def test_looking_up_again_reopens_the_records(found):
    # given a lookup that has expired
    age_disclosures(31)
    assert opened(found)["t"] is None
    # when the investigator looks the traveller up again
    found["gql"](LOOKUP, {"input": {"email": "sam@example.com"}})
    # then the records open again
    assert opened(found)["s"] == {"fullName": "Sam Suspect", "tips": {"totalCount": 1}}


def test_window_is_a_setting(found, settings):
    # given a window of one day and a lookup two days ago
    settings.DISCLOSURE_REOPEN_DAYS = 1
    age_disclosures(2)
    # then nothing opens; with a window of three days, everything does
    assert opened(found)["t"] is None
    settings.DISCLOSURE_REOPEN_DAYS = 3
    assert opened(found)["t"] == {"id": gid(found["tip"])}


def test_window_binds_investigators_only(found, analyst):
    # given a lookup long expired
    age_disclosures(400)
    # then the owning agency still sees the records, and the investigator does not
    assert scope_queryset(m.Tip.objects.all(), analyst).count() == 1
    investigator = m.User.objects.get(role=m.Role.INVESTIGATOR)
    assert scope_queryset(m.Tip.objects.all(), investigator).count() == 0
