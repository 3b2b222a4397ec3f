"""Trusted documents: partner tools run registered documents only, named by hash (Apollo's
persisted queries, documentId) or sent as the exact text; analysts run anything; every refusal
has its code and one audit row; ``load_documents`` loads and checks the folder; parse and
validation are cached per document hash, and every limit still holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from graphql import OperationDefinitionNode, parse

from audit.models import AuditEvent
from backend import models as m
from backend.documents import document_hash, read_documents
from backend.services.documents import register_documents
from permissions.matrix import OPERATIONS, TRUSTED_DOCUMENTS_ONLY
from schema import document_cache
from schema.view import GRAPHQL_RESPONSE_JSON
from tests.factories import SubjectFactory, TipFactory, TipSubjectFactory, UserFactory

pytestmark = pytest.mark.django_db

DOB = dt.date(1975, 3, 2)
CRITERIA = {"input": {"name": "jose alvarez", "dateOfBirth": DOB.isoformat()}}
#: A lookup a partner tool never registered.
OWN_LOOKUP = """query Mine($input: TravellerLookupInput!) {
  travellerLookup(input: $input) { matches { subject { fullName } } }
}"""


@pytest.fixture
def documents() -> dict[str, m.TrustedDocument]:
    """The committed documents, registered as ``load_documents`` does."""
    register_documents(documents=read_documents(Path(settings.GRAPHQL_DOCUMENTS_DIR)))
    return {row.name: row for row in m.TrustedDocument.objects.all()}


@pytest.fixture
def traveller() -> m.Subject:
    subject = SubjectFactory(full_name="José Álvarez", date_of_birth=DOB)
    TipSubjectFactory(tip=TipFactory(source_reference="JOSE-1"), subject=subject)
    return subject


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    document_cache.cache.clear()
    yield
    document_cache.cache.clear()


def signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def post(client: Client, body: Any, **headers: str) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/graphql", data=json.dumps(body), content_type="application/json", headers=headers
    )
    return response.status_code, response.json()


def apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def operations() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind="OPERATION").order_by("seq"))


def code_of(answer: dict[str, Any]) -> str:
    return answer["errors"][0]["extensions"]["code"]


def matched(answer: dict[str, Any]) -> list[str]:
    return [x["subject"]["fullName"] for x in answer["data"]["travellerLookup"]["matches"]]


# -- the partner roles: registered documents only ----------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(lambda d: {"extensions": apq(d.hash), "variables": CRITERIA}, id="apq"),
        pytest.param(lambda d: {"documentId": f"sha256:{d.hash}", "variables": CRITERIA}, id="id"),
        pytest.param(lambda d: {"documentId": d.hash, "variables": CRITERIA}, id="bare-id"),
        pytest.param(lambda d: {"query": d.document, "variables": CRITERIA}, id="text"),
        pytest.param(
            lambda d: {"query": d.document, "extensions": apq(d.hash), "variables": CRITERIA},
            id="text-and-hash",
        ),
    ],
)
def test_investigator_runs_the_registered_lookup(documents, traveller, body: Callable) -> None:
    # given the registered TravellerLookup
    registered = documents["TravellerLookup"]
    # when an investigator's tool names it (by hash, by documentId) or sends its exact text
    status, answer = post(signed_in(m.Role.INVESTIGATOR), body(registered))
    # then it runs, and its one audit row records the registered text
    assert (status, answer.get("errors")) == (200, None)
    assert matched(answer) == ["José Álvarez"]
    [row] = operations()
    assert (row.operation_name, row.outcome, row.error_codes) == (
        "TravellerLookup",
        "ALLOWED",
        [],
    )
    assert row.query_hash.text == registered.document


def test_investigator_is_refused_a_document_of_its_own(documents, traveller) -> None:
    # given an investigator's tool sending a lookup nobody registered
    lookups = m.TravellerLookup.objects.count()
    with mock.patch("strawberry.schema.schema.parse", wraps=parse) as parser:
        status, answer = post(
            signed_in(m.Role.INVESTIGATOR), {"query": OWN_LOOKUP, "variables": CRITERIA}
        )
    # then it is refused before anything is parsed or runs, with one DENIED audit row
    assert status == 200
    assert answer["data"] is None
    assert code_of(answer) == "DOCUMENT_NOT_TRUSTED"
    assert "Investigators may run only registered documents" in answer["errors"][0]["message"]
    assert parser.call_count == 0
    assert m.TravellerLookup.objects.count() == lookups
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("DENIED", ["DOCUMENT_NOT_TRUSTED"])
    assert row.query_hash.text == OWN_LOOKUP


def test_unknown_hash_is_persisted_query_not_found(documents) -> None:
    # when an investigator's tool names a hash nobody registered, without its text
    unknown = document_hash(OWN_LOOKUP)
    status, answer = post(
        signed_in(m.Role.INVESTIGATOR), {"extensions": apq(unknown), "variables": CRITERIA}
    )
    # then Apollo's PersistedQueryNotFound, with our code, and one INVALID audit row
    assert status == 200
    assert answer["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    assert answer["data"] is None
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["PERSISTED_QUERY_NOT_FOUND"])


def test_graphql_response_clients_get_403_and_404() -> None:
    client = signed_in(m.Role.INVESTIGATOR)
    status, _ = post(client, {"query": OWN_LOOKUP}, Accept=GRAPHQL_RESPONSE_JSON)
    assert status == 403
    status, _ = post(
        client, {"extensions": apq(document_hash(OWN_LOOKUP))}, Accept=GRAPHQL_RESPONSE_JSON
    )
    assert status == 404


def test_reporting_client_runs_registered_statistics_only(documents) -> None:
    client = signed_in(m.Role.REPORTING_CLIENT)
    TipFactory.create_batch(3)
    # by hash: allowed
    status, answer = post(
        client, {"documentId": documents["ClusterSizes"].hash, "operationName": "ClusterSizes"}
    )
    assert (status, answer.get("errors")) == (200, None)
    assert answer["data"]["clusterSizes"]["suppressionThreshold"] > 0  # the scoped case
    # a statistics query of its own: refused
    status, answer = post(client, {"query": "{ clusterSizes { total } }"})
    assert code_of(answer) == "DOCUMENT_NOT_TRUSTED"
    assert [row.outcome for row in operations()] == ["ALLOWED", "DENIED"]


def test_reporting_client_csv_download_runs_the_document_the_server_wrote(documents) -> None:
    response = signed_in(m.Role.REPORTING_CLIENT).get(
        "/statistics/tipStatistics.csv", {"by": "CATEGORY"}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_the_rule_is_the_matrix_s_partner_roles() -> None:
    assert {m.Role.INVESTIGATOR, m.Role.REPORTING_CLIENT} == TRUSTED_DOCUMENTS_ONLY


def test_every_committed_document_asks_only_what_a_partner_role_may_ask() -> None:
    for document in read_documents(Path(settings.GRAPHQL_DOCUMENTS_DIR)):
        [operation] = [
            d for d in parse(document.text).definitions if isinstance(d, OperationDefinitionNode)
        ]
        root = operation.operation.value.capitalize()
        for field in operation.selection_set.selections:
            roles = OPERATIONS[f"{root}.{field.name.value}"]  # type: ignore[attr-defined]
            assert roles & TRUSTED_DOCUMENTS_ONLY, (document.name, field)


# -- other roles: any document -------------------------------------------------------------


def test_analyst_runs_free_text(documents, traveller) -> None:
    status, answer = post(signed_in(m.Role.ANALYST), {"query": OWN_LOOKUP, "variables": CRITERIA})
    assert (status, answer.get("errors")) == (200, None)
    assert matched(answer) == ["José Álvarez"]


def test_analyst_runs_a_registered_document_by_hash(documents) -> None:
    status, answer = post(signed_in(m.Role.ANALYST), {"extensions": apq(documents["Viewer"].hash)})
    assert (status, answer.get("errors")) == (200, None)
    assert answer["data"]["viewer"]["role"] == m.Role.ANALYST


def test_apollo_retry_with_text_runs_for_an_analyst_and_registers_nothing(traveller) -> None:
    client = signed_in(m.Role.ANALYST)
    digest = document_hash(OWN_LOOKUP)
    # first Apollo's client sends the hash alone: not found
    _, answer = post(client, {"extensions": apq(digest), "variables": CRITERIA})
    assert code_of(answer) == "PERSISTED_QUERY_NOT_FOUND"
    # then the text with its hash: an analyst may run any document
    _, answer = post(
        client, {"query": OWN_LOOKUP, "extensions": apq(digest), "variables": CRITERIA}
    )
    assert matched(answer) == ["José Álvarez"]
    # and nothing was registered on the fly
    assert not m.TrustedDocument.objects.exists()
    _, answer = post(client, {"extensions": apq(digest), "variables": CRITERIA})
    assert code_of(answer) == "PERSISTED_QUERY_NOT_FOUND"


# -- malformed and mismatched --------------------------------------------------------------


@pytest.mark.parametrize("role", [m.Role.INVESTIGATOR, m.Role.ANALYST])
def test_text_that_is_not_the_named_hash_is_refused(documents, role: str) -> None:
    _, answer = post(
        signed_in(role),
        {"query": OWN_LOOKUP, "extensions": apq(documents["TravellerLookup"].hash)},
    )
    assert answer["data"] is None
    assert code_of(answer) == "PERSISTED_QUERY_HASH_MISMATCH"
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["PERSISTED_QUERY_HASH_MISMATCH"])


@pytest.mark.parametrize(
    "body",
    [
        {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}}},
        {"extensions": {"persistedQuery": "yes"}},
        {"documentId": "md5:abc"},
        {"documentId": "a" * 64, "extensions": apq("b" * 64)},
    ],
)
def test_a_malformed_reference_is_a_bad_request(body: dict[str, Any]) -> None:
    _, answer = post(signed_in(m.Role.ANALYST), body)
    assert code_of(answer) == "BAD_REQUEST"
    [row] = operations()
    assert row.outcome == "INVALID"


@pytest.mark.parametrize("role", [m.Role.INVESTIGATOR, m.Role.ANALYST])
def test_a_request_without_query_or_hash_is_a_bad_request(role: str) -> None:
    status, answer = post(signed_in(role), {"variables": CRITERIA})
    assert (status, code_of(answer)) == (400, "BAD_REQUEST")
    [row] = operations()
    assert (row.outcome, row.error_codes) == ("INVALID", ["BAD_REQUEST"])


def test_a_document_id_that_is_not_a_string_is_refused_by_the_view() -> None:
    status, answer = post(signed_in(m.Role.ANALYST), {"documentId": 7})
    assert (status, code_of(answer)) == (400, "BAD_REQUEST")
    assert len(operations()) == 1


def test_anonymous_caller_learns_nothing_about_registered_hashes(documents) -> None:
    for digest in (documents["Viewer"].hash, "c" * 64):
        _, answer = post(Client(), {"extensions": apq(digest)})
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"]


def test_a_batch_answers_each_operation_and_audits_each(documents) -> None:
    status, answers = post(
        signed_in(m.Role.INVESTIGATOR),
        [{"extensions": apq(documents["Viewer"].hash)}, {"query": "{ viewer { role } }"}],
    )
    assert status == 200
    assert answers[0]["data"]["viewer"]["role"] == m.Role.INVESTIGATOR
    assert code_of(answers[1]) == "DOCUMENT_NOT_TRUSTED"
    assert [row.outcome for row in operations()] == ["ALLOWED", "DENIED"]


# -- GET ----------------------------------------------------------------------------------


def test_get_with_apq_runs_a_registered_query(documents) -> None:
    response = signed_in(m.Role.REPORTING_CLIENT).get(
        "/graphql",
        {
            "extensions": json.dumps(apq(documents["TipStatistics"].hash)),
            "variables": json.dumps({"by": "CATEGORY"}),
        },
        headers={"Accept": "*/*"},
    )
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert response.json()["data"]["tipStatistics"]["rows"] == []


def test_get_with_document_id_of_a_writing_query_is_refused(documents) -> None:
    response = signed_in(m.Role.INVESTIGATOR).get(
        "/graphql",
        {"documentId": f"sha256:{documents['TravellerLookup'].hash}"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 405
    assert code_of(response.json()) == "METHOD_NOT_ALLOWED"


# -- load_documents ------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.graphql").write_text(text)


def test_load_documents_loads_the_folder_once(capsys) -> None:
    call_command("load_documents")
    names = set(m.TrustedDocument.objects.values_list("name", flat=True))
    assert {"TravellerLookup", "Viewer", "TipStatistics", "ClusterSizes"} <= names
    row = m.TrustedDocument.objects.get(name="Viewer")
    assert row.hash == document_hash(row.document)
    assert row.document.startswith("query Viewer {\n  viewer {")  # printed, comments gone
    # a second run changes nothing
    call_command("load_documents")
    assert f"0 added, 0 renamed, 0 removed, {len(names)} unchanged" in capsys.readouterr().out
    assert m.TrustedDocument.objects.get(name="Viewer").registered_at == row.registered_at
    call_command("load_documents", "--check")


def test_check_reports_drift_and_load_repairs_it(tmp_path: Path) -> None:
    write(tmp_path, "Viewer", "query Viewer { viewer { role } }")
    call_command("load_documents", "--path", str(tmp_path))
    # a new file, an edited one
    write(tmp_path, "Me", "query Me { viewer { username } }")
    write(tmp_path, "Viewer", "query Viewer { viewer { role authMethod } }")
    with pytest.raises(CommandError) as refused:
        call_command("load_documents", "--path", str(tmp_path), "--check")
    assert "not registered: Me" in str(refused.value)
    assert "registered but not in the folder (or changed): Viewer" in str(refused.value)
    call_command("load_documents", "--path", str(tmp_path))
    call_command("load_documents", "--path", str(tmp_path), "--check")
    assert sorted(m.TrustedDocument.objects.values_list("name", flat=True)) == ["Me", "Viewer"]
    # the edited one's old hash is gone
    old = document_hash("query Viewer {\n  viewer {\n    role\n  }\n}")
    assert not m.TrustedDocument.objects.filter(hash=old).exists()


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("Broken", "query Broken { viewer { ", "Syntax Error"),
        ("Unknown", "query Unknown { viewer { shoeSize } }", "Cannot query field 'shoeSize'"),
        ("Other", "query Elsewhere { viewer { role } }", "must be named Other"),
        ("Two", "query Two { viewer { role } } query Three { viewer { role } }", "one operation"),
    ],
)
def test_load_refuses_a_document_that_could_never_run(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    write(tmp_path, "Viewer", "query Viewer { viewer { role } }")
    write(tmp_path, name, text)
    with pytest.raises(CommandError) as refused:
        call_command("load_documents", "--path", str(tmp_path))
    assert f"{name}.graphql" in str(refused.value) and problem in str(refused.value)
    assert not m.TrustedDocument.objects.exists()  # nothing loaded


def test_manifest_lists_each_document_with_its_hash(tmp_path: Path, capsys) -> None:
    write(tmp_path, "Viewer", "# who am I\nquery Viewer { viewer { role } }\n")
    call_command("load_documents", "--path", str(tmp_path), "--manifest")
    manifest = json.loads(capsys.readouterr().out)
    text = "query Viewer {\n  viewer {\n    role\n  }\n}"
    assert manifest["operations"] == [
        {"id": document_hash(text), "name": "Viewer", "type": "query", "body": text}
    ]
    assert not m.TrustedDocument.objects.exists()


# -- the parse and validation cache --------------------------------------------------------


def test_a_document_is_parsed_and_fully_validated_once(documents, traveller) -> None:
    client = signed_in(m.Role.INVESTIGATOR)
    body = {"extensions": apq(documents["TravellerLookup"].hash), "variables": CRITERIA}
    with (
        mock.patch("strawberry.schema.schema.parse", wraps=parse) as parser,
        mock.patch.object(
            document_cache, "validate_document", wraps=document_cache.validate_document
        ) as full,
    ):
        for _ in range(3):
            assert post(client, body)[1].get("errors") is None
    assert (parser.call_count, full.call_count) == (1, 1)


def test_free_text_is_cached_too(traveller) -> None:
    client = signed_in(m.Role.ANALYST)
    with mock.patch("strawberry.schema.schema.parse", wraps=parse) as parser:
        for _ in range(3):
            assert (
                post(client, {"query": OWN_LOOKUP, "variables": CRITERIA})[1].get("errors") is None
            )
    assert parser.call_count == 1


def test_limits_that_read_the_variables_still_hold_on_a_cached_document(settings) -> None:
    client = signed_in(m.Role.ANALYST)
    query = "query Page($n: Int) { tips(first: $n) { totalCount } }"
    assert post(client, {"query": query, "variables": {"n": 5}})[1].get("errors") is None
    # the same (cached) document with a page too large, then with a string too long
    _, answer = post(client, {"query": query, "variables": {"n": 500}})
    assert code_of(answer) == "PAGINATION_LIMIT"
    settings.GRAPHQL_MAX_STRING_LENGTH = 10
    _, answer = post(client, {"query": query, "variables": {"n": 5, "x": "y" * 11}})
    assert code_of(answer) == "INPUT_TOO_LONG"


def test_an_invalid_document_stays_invalid_when_sent_again() -> None:
    client = signed_in(m.Role.ANALYST)
    for _ in range(2):
        _, answer = post(client, {"query": "{ viewer { shoeSize } }"})
        assert code_of(answer) == "GRAPHQL_VALIDATION_FAILED"


def test_the_cache_of_free_documents_is_bounded_and_keeps_registered_ones(
    documents, settings
) -> None:
    settings.GRAPHQL_DOCUMENT_CACHE_SIZE = 2
    client = signed_in(m.Role.ANALYST)
    post(client, {"extensions": apq(documents["Viewer"].hash)})
    for n in range(5):
        post(client, {"query": f"query Q{n} {{ viewer {{ role }} }}"})
    assert len(document_cache.cache) == 1 + 2
    with mock.patch("strawberry.schema.schema.parse", wraps=parse) as parser:
        post(client, {"extensions": apq(documents["Viewer"].hash)})
        post(client, {"query": "query Q0 { viewer { role } }"})  # evicted: parsed again
    assert parser.call_count == 1
