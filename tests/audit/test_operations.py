"""One audit row per GraphQL operation, whatever its outcome; logins and admin changes too;
and no answer leaves without its audit row."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from strawberry.relay import GlobalID

from audit.models import AuditEvent, RecordChange
from backend import models as m
from backend.models import ApiToken
from tests.conftest import make_gql
from tests.factories import (
    LeadFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def operations() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))


def test_allowed_query_writes_one_row_with_who_what_and_records(gql):
    # given a tip
    tip = TipFactory(source_reference="AUD-1")
    # when an analyst reads it
    result = gql(
        "query Dashboard($n: Int!) { tips(first: $n) { edges { node { sourceReference } } } }",
        {"n": 5},
        HTTP_USER_AGENT="pytest-agent",
    )
    assert "errors" not in result
    # then exactly one row says who, how, what and which records the answer held
    [row] = operations()
    assert (row.username, row.role, row.auth_method) == ("analyst-user", "ANALYST", "session")
    assert (row.operation_type, row.operation_name, row.outcome) == (
        "query",
        "Dashboard",
        "ALLOWED",
    )
    assert row.variables == {"n": 5}
    assert row.client_address == "127.0.0.1"
    assert row.user_agent == "pytest-agent"
    assert row.query_hash.text.startswith("query Dashboard")
    assert row.records_returned == [f"Tip:{tip.pk}"]
    assert row.error_codes == []
    assert row.duration_ms is not None


def test_denied_investigator_mutation_writes_one_denied_row(gql_as):
    before = m.Subject.objects.count()
    result = gql_as(m.Role.INVESTIGATOR)(
        'mutation Sneak { createSubject(input: {fullName: "X"}) { errors { code } } }'
    )
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    [row] = operations()
    assert (row.role, row.operation_type, row.operation_name) == (
        "INVESTIGATOR",
        "mutation",
        "Sneak",
    )
    assert (row.outcome, row.error_codes) == ("DENIED", ["FORBIDDEN"])
    assert m.Subject.objects.count() == before


def test_query_failing_validation_writes_one_invalid_row(gql):
    result = gql("query Broken { tips { noSuchField } }")
    assert result["data"] is None
    [row] = operations()
    assert (row.outcome, row.operation_name) == ("INVALID", "Broken")
    assert row.records_returned == []


def test_unparsable_query_writes_one_invalid_row(gql):
    gql("query {")
    [row] = operations()
    assert row.outcome == "INVALID"
    assert row.query_hash.text == "query {"


def test_anonymous_request_writes_one_denied_row(anonymous_gql):
    anonymous_gql("{ viewer { username } }")
    [row] = operations()
    assert (row.outcome, row.error_codes, row.auth_method) == (
        "DENIED",
        ["UNAUTHENTICATED"],
        "anonymous",
    )
    assert row.user_id is None


def test_failing_resolver_writes_one_failed_row(gql, monkeypatch):
    from backend.services import subjects

    def explode(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(subjects, "create_subject", explode)
    result = gql('mutation Make { createSubject(input: {fullName: "X"}) { errors { code } } }')
    assert result["errors"]
    [row] = operations()
    assert (row.outcome, row.operation_name) == ("FAILED", "Make")


def test_batched_request_writes_one_row_per_operation(analyst):
    client = Client()
    client.force_login(analyst)
    batch = [
        {"query": "query One { viewer { username } }"},
        {"query": "query Two { tips(first: 1) { totalCount } }"},
        {"query": "query Three { nope }"},
    ]
    response = client.post("/graphql", json.dumps(batch), content_type="application/json")
    assert response.status_code == 200
    assert len(response.json()) == 3
    rows = operations()
    assert [(r.operation_name, r.outcome) for r in rows] == [
        ("One", "ALLOWED"),
        ("Two", "ALLOWED"),
        ("Three", "INVALID"),
    ]


def test_malformed_http_body_writes_one_invalid_row(analyst):
    client = Client()
    client.force_login(analyst)
    response = client.post("/graphql", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    [row] = operations()
    assert row.outcome == "INVALID"
    assert row.error_codes == ["BAD_REQUEST"]


def test_token_requests_record_the_token(analyst):
    token, raw = ApiToken.issue(user=analyst, name="tool", days=1)
    make_gql(Client(), Authorization=f"Bearer {raw}")("{ viewer { username } }")
    [row] = operations()
    assert row.auth_method == f"token:{token.pk}"


def test_mutation_records_the_changed_records_and_their_history(gql):
    # when an analyst creates a subject
    result = gql(
        'mutation New { createSubject(input: {fullName: "Ann Example"}) { subject { id } } }'
    )
    subject = m.Subject.objects.get(full_name="Ann Example")
    # then the audit row names it as changed, and the database kept its after-image
    [row] = operations()
    assert row.records_changed == [f"Subject:{subject.pk}"]
    [change] = RecordChange.objects.filter(context_id=row.context_id, table_name="backend_subject")
    assert change.operation == "INSERT"
    assert change.after["full_name"] == "Ann Example"
    assert result["data"]["createSubject"]["subject"]["id"] == str(
        GlobalID("Subject", str(subject.pk))
    )


def test_an_operation_writes_its_row_text_and_changes_in_one_statement(gql):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # when an analyst creates two subjects in one operation (a new query text)
    with CaptureQueriesContext(connection) as queries:
        gql(
            'mutation Two { a: createSubject(input: {fullName: "Ann A"}) { subject { id } } '
            'b: createSubject(input: {fullName: "Bo B"}) { subject { id } } }'
        )
    # then one statement stored the query text, looked the changes up and wrote the row
    audit_statements = [
        q["sql"] for q in queries if "audit_" in q["sql"].replace("audit_context", "")
    ]
    writes = [sql for sql in audit_statements if "audit_auditevent" in sql]
    assert len(writes) == 1, audit_statements
    assert "audit_auditquerytext" in writes[0] and "audit_recordchange" in writes[0]
    assert not [sql for sql in audit_statements if sql not in writes]
    # and the row names both records, sorted, with its query text stored once
    [row] = operations()
    pks = sorted(f"Subject:{pk}" for pk in m.Subject.objects.values_list("pk", flat=True))
    assert row.records_changed == sorted(pks) and len(pks) == 2
    assert row.query_hash.text.startswith("mutation Two")


def test_no_answer_leaves_without_its_audit_row(gql, monkeypatch):
    # given an audit log that cannot be written
    import audit.operations

    def broken(**kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(audit.operations, "write_event", broken)
    # when an analyst creates a subject
    client_result = gql('mutation { createSubject(input: {fullName: "Ghost"}) { subject { id } } }')
    # then the caller gets no data, only the refusal, and nothing was written
    assert client_result == {
        "data": None,
        "errors": [
            {
                "message": "The request could not be audited, so nothing was done.",
                "extensions": {"code": "AUDIT_UNAVAILABLE"},
            }
        ],
    }
    assert not m.Subject.objects.filter(full_name="Ghost").exists()


def test_login_logout_and_failed_login_are_audited():
    UserFactory(username="carol", role=m.Role.ANALYST)
    browser = Client()
    browser.post("/accounts/login/", {"username": "carol", "password": "wrong"})
    browser.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    browser.post("/accounts/logout/")
    rows = list(AuditEvent.objects.exclude(kind="OPERATION").order_by("seq"))
    assert [(r.kind, r.username, r.outcome) for r in rows] == [
        ("LOGIN_FAILED", "carol", "DENIED"),
        ("LOGIN", "carol", "SUCCEEDED"),
        ("LOGOUT", "carol", "SUCCEEDED"),
    ]


def test_lockout_is_audited(settings):
    UserFactory(username="dave", role=m.Role.ANALYST)
    browser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post("/accounts/login/", {"username": "dave", "password": "wrong"})
    kinds = list(AuditEvent.objects.filter(username="dave").values_list("kind", flat=True))
    assert kinds.count("LOGIN_FAILED") == settings.AXES_FAILURE_LIMIT
    assert kinds.count("LOCKOUT") == 1


def test_admin_change_keeps_before_and_after_tied_to_its_audit_row():
    # given a superuser and a tip
    admin = UserFactory(
        username="root", role=m.Role.SYSTEM_ADMINISTRATOR, is_superuser=True, is_staff=True
    )
    tip = TipFactory(priority=3)
    browser = Client()
    browser.force_login(admin)
    page = browser.get(f"/admin/backend/tip/{tip.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update(
        {
            "priority": 1,
            "source": tip.source_id,
            "received_at_0": tip.received_at.date(),
            "received_at_1": tip.received_at.time().replace(microsecond=0),
        }
    )
    # when the superuser changes the tip's priority through the admin
    response = browser.post(f"/admin/backend/tip/{tip.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    # then the ADMIN row names the tip, and the tip's before/after carry the same context
    [row] = AuditEvent.objects.filter(kind="ADMIN")
    assert f"Tip:{tip.pk}" in row.records_changed
    [change] = RecordChange.objects.filter(
        table_name="backend_tip", row_id=str(tip.pk), operation="UPDATE"
    )
    assert change.context_id == row.context_id
    assert (change.before["priority"], change.after["priority"]) == (3, 1)


def test_who_saw_a_subject_is_exactly_the_operations_that_returned_it(gql, gql_as):
    # given two people in one tip
    x, y = SubjectFactory(full_name="Xavier Seen"), SubjectFactory(full_name="Yolanda Other")
    tip = TipFactory()
    TipSubjectFactory(tip=tip, subject=x)
    x_id, y_id = (str(GlobalID("Subject", str(s.pk))) for s in (x, y))
    # when analysts read X directly, Y directly, X through a tip, and count subjects only
    gql("query SeeX($id: ID!) { node(id: $id) { ... on Subject { fullName } } }", {"id": x_id})
    gql("query SeeY($id: ID!) { node(id: $id) { ... on Subject { fullName } } }", {"id": y_id})
    gql(
        "query ViaTip { tips { edges { node { "
        "subjects { edges { node { subject { fullName } } } } } } } }"
    )
    gql("query CountOnly { subjects { totalCount } }")
    # then "who saw X" lists exactly the two operations whose answers contained X
    auditor = gql_as(m.Role.AUDITOR)
    result = auditor(
        "query($id: ID!) { auditEvents(where: {recordId: $id, seenOnly: true}) "
        "{ edges { node { operationName username } } } }",
        {"id": x_id},
    )
    names = [e["node"]["operationName"] for e in result["data"]["auditEvents"]["edges"]]
    assert sorted(names) == ["SeeX", "ViaTip"]


def seen_by(auditor, record) -> list[str]:
    """The names of the operations that "who saw ``record``" lists."""
    result = auditor(
        "query($id: ID!) { auditEvents(where: {recordId: $id, seenOnly: true}) "
        "{ edges { node { operationName } } } }",
        {"id": str(GlobalID(type(record).__name__, str(record.pk)))},
    )
    return sorted(e["node"]["operationName"] for e in result["data"]["auditEvents"]["edges"])


FIND = """query %s($input: TravellerLookupInput!) { travellerLookup(input: $input) { %s } }"""


def test_who_saw_a_person_follows_the_data_a_lookup_returned_whatever_field_held_it(gql_as):
    # given José, a suspect on a tip, marked through redress, and Otto, on another tip
    jose = SubjectFactory(
        full_name="José Álvarez",
        date_of_birth=dt.date(1975, 3, 2),
        known_misidentification=True,
        redress_case_number="TRIP-2024-000123",
    )
    TipSubjectFactory(subject=jose)
    otto = SubjectFactory(full_name="Otto Unrelated", date_of_birth=dt.date(1975, 3, 2))
    TipSubjectFactory(subject=otto)
    find = {"name": "jose alvarez", "dateOfBirth": "1975-03-02"}
    investigator = gql_as(m.Role.INVESTIGATOR)
    # when an investigator's lookups ask for the match reasons only (the name matched), the
    # redress mark only, which criteria matched, and only the lookup's id
    answers = {
        name: investigator(FIND % (name, selection), {"input": find})["data"]["travellerLookup"]
        for name, selection in (
            ("ReasonsOnly", "matches { reasons { field detail } }"),
            ("RedressOnly", "matches { knownMisidentification redressCaseNumber }"),
            ("MatchedOn", "matchedOn"),
            ("IdOnly", "lookupId"),
        )
    }
    # (the reasons and the mark are José's data: his name matched, his redress case)
    assert answers["ReasonsOnly"]["matches"] == [
        {
            "reasons": [
                {"field": "NAME", "detail": "similarity 1.00 to 'jose alvarez'"},
                {"field": "DATE_OF_BIRTH", "detail": "1975-03-02"},
            ]
        }
    ]
    assert answers["RedressOnly"]["matches"] == [
        {"knownMisidentification": True, "redressCaseNumber": "TRIP-2024-000123"}
    ]
    # then "who saw José" lists every lookup whose answer held his data, and no other
    auditor = gql_as(m.Role.AUDITOR)
    assert seen_by(auditor, jose) == ["MatchedOn", "ReasonsOnly", "RedressOnly"]
    assert seen_by(auditor, otto) == []


def test_who_saw_a_person_or_identifier_includes_links_and_sightings_naming_them(gql, gql_as):
    # given two tips linked because both name Xavier, and an e-mail seen in one of them
    xavier = SubjectFactory(full_name="Xavier Linked")
    first, second = TipFactory(), TipFactory()
    m.TipLink.objects.create(
        from_tip=first,
        to_tip=second,
        kind=m.TipLinkKind.SHARED_SUBJECT,
        subject=xavier,
        reason="Both tips name subject Xavier Linked",
    )
    sighting = SightingFactory(tip=first)
    # when an analyst reads the links' reasons and the sightings' raw values, and the kinds only
    for name, selection in (
        ("LinkReasons", "links { edges { node { reason } } }"),
        ("LinkKinds", "links { edges { node { kind } } }"),
        ("RawValues", "identifiers { edges { node { rawValue } } }"),
        ("Events", "identifiers { edges { node { event } } }"),
    ):
        result = gql(f"query {name} {{ tips {{ edges {{ node {{ {selection} }} }} }} }}")
        assert "errors" not in result, result
    # and reads a deconfliction notice's reason, which names Xavier, and its date only
    notice = m.DeconflictionNotice.objects.create(
        lead=LeadFactory(),
        subject=xavier,
        triggered_by_tip=first,
        reason="A new tip touches subject Xavier Linked of active lead 'L' of Field Office 1.",
    )
    m.NoticeRecipient.objects.create(notice=notice, office=notice.lead.office)
    for name, selection in (("NoticeReasons", "reason"), ("NoticeDates", "createdAt")):
        result = gql(
            f"query {name} {{ deconflictionNotices {{ edges {{ node {{ notice {{ {selection} }} "
            "} } } }"
        )
        assert result["data"]["deconflictionNotices"]["edges"], result
    # then the reasons count as seeing Xavier, the raw values as seeing the identifier
    auditor = gql_as(m.Role.AUDITOR)
    assert seen_by(auditor, xavier) == ["LinkReasons", "NoticeReasons"]
    assert seen_by(auditor, sighting.identifier) == ["RawValues"]


def test_audit_search_filters_and_csv_export(gql, gql_as, analyst):
    gql("query A { viewer { username } }")
    gql_as(m.Role.INVESTIGATOR)("query B { tips { totalCount } }")
    auditor_user = UserFactory(username="auditor-2", role=m.Role.AUDITOR)
    auditor = Client()
    auditor.force_login(auditor_user)
    # a GraphQL search by role and outcome
    search = make_gql(auditor)(
        '{ auditEvents(where: {role: "INVESTIGATOR", outcome: "DENIED"}) '
        "{ edges { node { operationName errorCodes query } } } }"
    )
    [hit] = search["data"]["auditEvents"]["edges"]
    assert hit["node"]["operationName"] == "B"
    assert hit["node"]["errorCodes"] == ["FORBIDDEN"]
    # the same search as CSV
    response = auditor.get("/audit/export.csv", {"role": "INVESTIGATOR", "outcome": "DENIED"})
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("seq,occurred_at,kind,username,role")
    assert len(lines) == 2 and ",B,DENIED," in lines[1]
    # analysts may not export, and the refusal is itself audited
    refused = Client()
    refused.force_login(analyst)
    assert refused.get("/audit/export.csv").status_code == 403
    assert AuditEvent.objects.filter(operation_name="auditExportCsv", outcome="DENIED").count() == 1


def test_investigator_query_volume_per_day(gql_as):
    investigator = gql_as(m.Role.INVESTIGATOR)
    for _ in range(2):
        investigator('{ travellerLookup(input: {email: "nobody@example.com"}) { matchedOn } }')
    investigator("{ tips { totalCount } }")
    result = gql_as(m.Role.AUDITOR)(
        '{ investigatorQueryVolume(occurredFrom: "2000-01-01T00:00:00Z", '
        'occurredTo: "2100-01-01T00:00:00Z") { username operations lookups denied } }'
    )
    assert result["data"]["investigatorQueryVolume"] == [
        {"username": "investigator-user", "operations": 3, "lookups": 2, "denied": 1}
    ]


def test_carries_refuses_a_field_its_type_does_not_have():
    # (a declaration left above the wrong class would otherwise silently count nothing)
    import strawberry

    from audit.operations import carries

    with pytest.raises(TypeError, match=r"names no field of Mark: \['matchedOn'\]"):

        @carries({"matchedOn": lambda root: []})
        @strawberry.type
        class Mark:
            case_number: str

    @carries({"caseNumber": lambda root: [], "*": lambda root: []})
    @strawberry.type
    class Kept:
        case_number: str

    assert set(Kept.audit_carries) == {"caseNumber", "*"}
