"""Statistics for partners: a partner investigator reads their own agency's aggregates and no
other agency's, with small groups suppressed exactly as for reporting clients; program
managers name any agency and get exact figures; every other role is refused; the registered
document runs; no field reaches a record; the query count does not grow with the data."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from graphql import GraphQLObjectType, GraphQLScalarType, get_named_type

from audit.models import AuditEvent
from backend import models as m
from backend.documents import read_documents
from backend.services.documents import register_documents
from permissions.matrix import OPERATIONS
from schema import schema
from tests.conftest import GraphQL, register_document
from tests.factories import NoteFactory, TipFactory, UserFactory

pytestmark = pytest.mark.django_db

ALPHA, BRAVO = "Alpha Border Agency", "Bravo Port Police"
#: A day well before the last midnight: every caller's window covers it.
DAY = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).replace(
    hour=12, minute=0, second=0, microsecond=0
)
SINCE = (DAY - dt.timedelta(days=1)).isoformat()
FIGURES = """
query ($agency: String, $since: DateTime) {
  partnerStatistics(agency: $agency, since: $since) {
    agency suppressionThreshold
    window { since until interval aligned }
    lookups { rows { period lookups withMatches hitRate suppressed } }
    hitsByCategory { rows { period group count suppressed } total }
    lookupsByPurpose { rows { period group count suppressed } total }
    screeningOutcomes { rows { period group count suppressed } total }
  }
}
"""


@contextmanager
def on_day(when: dt.datetime) -> Iterator[None]:
    """Records created inside are stamped ``when`` (their created_at is the time of writing)."""
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def officer(name: str, agency: str) -> m.User:
    return UserFactory(username=name, role=m.Role.INVESTIGATOR, agency=agency)


def lookups(
    by: m.User, n: int, *, hits: int = 0, screened: int = 0, category: str = "DISTRIBUTION"
) -> None:
    """``n`` lookups by ``by`` on DAY: the first ``hits`` found a tip of ``category``; the first
    ``screened`` were made in a passenger screening (their criteria carry a reference)."""
    tip_type = ContentType.objects.get_for_model(m.Tip)
    tip = TipFactory(category=category)
    with on_day(DAY):
        for i in range(n):
            criteria: dict = {"email": f"t{i}@example.com"}
            if i < screened:
                criteria["screening"] = {"reference": f"BA{i} {DAY.date()}"}
            lookup = m.TravellerLookup.objects.create(
                user=by, criteria=criteria, tip_hits=1 if i < hits else 0
            )
            if i < hits:
                m.Disclosure.objects.create(
                    lookup=lookup, user=by, content_type=tip_type, object_id=tip.pk
                )


def targeting(by: m.User, n: int, outcome: str) -> None:
    with on_day(DAY):
        NoteFactory.create_batch(n, author=by, kind=m.NoteKind.TARGETING, screening_outcome=outcome)


@pytest.fixture
def agencies(settings) -> dict[str, m.User]:
    """Alpha: 12 lookups on DAY by two officers, 7 found a distribution tip, 3 were passenger
    screenings; 6 targeting notes. Bravo: 15 lookups, 11 found a possession tip; 8 notes. An
    analyst's lookups count for no partner agency."""
    settings.STATS_MIN_GROUP_SIZE = 5
    alpha_1, alpha_2 = officer("alpha-1", ALPHA), officer("alpha-2", ALPHA)
    bravo = officer("bravo-1", BRAVO)
    lookups(alpha_1, 8, hits=5, screened=3)
    lookups(alpha_2, 4, hits=2)
    lookups(bravo, 15, hits=11, category="POSSESSION")
    lookups(UserFactory(username="owning-analyst", role=m.Role.ANALYST, agency=ALPHA), 9, hits=9)
    targeting(alpha_1, 6, m.ScreeningOutcome.ADDITIONAL_SCREENING)
    targeting(bravo, 8, m.ScreeningOutcome.REFERRED_TO_SECONDARY)
    return {"alpha": alpha_1, "bravo": bravo}


def as_user(user: m.User) -> GraphQL:
    """A GraphQL caller signed in as ``user``, with the committed documents and ``FIGURES``
    registered (a partner tool runs nothing else)."""
    register_documents(documents=read_documents(Path(settings.GRAPHQL_DOCUMENTS_DIR)))
    register_document(FIGURES)  # a partner tool's own registered document
    client = Client()
    client.force_login(user)

    def send(query: str, variables: dict | None = None) -> dict:
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
        )
        return response.json()

    return send


def figures(result: dict) -> dict:
    assert "errors" not in result, result
    return result["data"]["partnerStatistics"]


def codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors", [])]


def document() -> str:
    """The committed PartnerStatistics document, as registered (its printed text)."""
    [found] = [
        d
        for d in read_documents(Path(settings.GRAPHQL_DOCUMENTS_DIR))
        if d.name == "PartnerStatistics"
    ]
    return found.text


# -- who may ask ----------------------------------------------------------------------------


def test_the_rule_is_investigators_and_program_managers() -> None:
    assert OPERATIONS["Query.partnerStatistics"] == {
        m.Role.INVESTIGATOR,
        m.Role.PROGRAM_MANAGER,
    }


def test_an_investigator_reads_their_agency_through_the_registered_document(agencies) -> None:
    # when Alpha's officer runs the registered document (the only one a partner tool may run)
    result = as_user(agencies["alpha"])(document(), {"since": SINCE})
    # then the figures are Alpha's, with Alpha's small groups suppressed
    data = figures(result)
    assert data["agency"] == ALPHA
    assert data["suppressionThreshold"] == 5
    assert data["window"]["aligned"] is True
    assert data["lookups"]["rows"] == [
        {
            "period": DAY.date().isoformat(),
            "lookups": 12,
            "withMatches": 7,
            "hitRate": round(7 / 12, 4),
            "suppressed": False,
        }
    ]
    assert "12" in data["lookups"]["csv"]


def test_an_investigator_never_sees_another_agency_s_counts(agencies) -> None:
    # when Alpha's officer reads the partner statistics
    data = figures(as_user(agencies["alpha"])(FIGURES, {"since": SINCE}))
    # then nothing of Bravo (15 lookups, possession tips, referrals) nor of the owning
    # agency's analyst (9 lookups, agency Alpha but no partner) is counted
    assert [r["lookups"] for r in data["lookups"]["rows"]] == [12]
    assert {r["group"] for r in data["hitsByCategory"]["rows"]} == {"DISTRIBUTION"}
    assert {r["group"] for r in data["screeningOutcomes"]["rows"]} == {"ADDITIONAL_SCREENING"}
    # and Bravo's officer sees Bravo's alone
    bravo = figures(as_user(agencies["bravo"])(FIGURES, {"since": SINCE}))
    assert bravo["agency"] == BRAVO
    assert [r["lookups"] for r in bravo["lookups"]["rows"]] == [15]
    assert {r["group"]: r["count"] for r in bravo["hitsByCategory"]["rows"]} == {"POSSESSION": 11}


def test_an_investigator_may_name_their_own_agency(agencies) -> None:
    data = figures(as_user(agencies["alpha"])(FIGURES, {"agency": ALPHA, "since": SINCE}))
    assert [r["lookups"] for r in data["lookups"]["rows"]] == [12]


def test_an_investigator_asking_for_another_agency_is_refused_and_audited(agencies) -> None:
    result = as_user(agencies["alpha"])(FIGURES, {"agency": BRAVO, "since": SINCE})
    assert result["data"] is None
    assert codes(result) == ["FORBIDDEN"]
    row = AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()
    assert (row.username, row.outcome, row.error_codes) == ("alpha-1", "DENIED", ["FORBIDDEN"])


def test_an_investigator_account_naming_no_agency_is_told_so(gql_as) -> None:
    result = gql_as(m.Role.INVESTIGATOR)(FIGURES)
    assert result["data"] is None
    assert codes(result) == ["NOT_FOUND"]
    assert "names no agency" in result["errors"][0]["message"]


@pytest.mark.parametrize(
    "role",
    [m.Role.ANALYST, m.Role.AUDITOR, m.Role.SYSTEM_ADMINISTRATOR, m.Role.REPORTING_CLIENT],
)
def test_other_roles_are_refused_and_audited(gql_as, agencies, role: str) -> None:
    result = gql_as(role)(FIGURES, {"agency": ALPHA})
    assert result["data"] is None
    assert codes(result) == ["FORBIDDEN"]
    row = AuditEvent.objects.filter(kind="OPERATION").order_by("-seq").first()
    assert (row.role, row.outcome) == (role, "DENIED")


def test_anonymous_is_refused(anonymous_gql: GraphQL) -> None:
    assert codes(anonymous_gql(FIGURES)) == ["UNAUTHENTICATED"]


# -- suppression, exactly as for reporting clients ------------------------------------------


def test_small_groups_are_suppressed_for_an_investigator(agencies) -> None:
    data = figures(as_user(agencies["alpha"])(FIGURES, {"since": SINCE}))
    # 3 passenger screenings are fewer than 5: hidden, and with them the 9 traveller lookups,
    # which the day's 12 lookups would otherwise give back by subtraction
    purposes = {r["group"]: (r["count"], r["suppressed"]) for r in data["lookupsByPurpose"]["rows"]}
    assert purposes == {
        "PASSENGER_SCREENING": (None, True),
        "TRAVELLER_LOOKUP": (None, True),
    }
    assert data["lookupsByPurpose"]["total"] == 12
    # 7 lookups found a distribution tip, 6 targeting notes: both reach 5
    assert {r["group"]: r["count"] for r in data["hitsByCategory"]["rows"]} == {"DISTRIBUTION": 7}
    assert data["hitsByCategory"]["total"] is None
    assert {r["group"]: r["count"] for r in data["screeningOutcomes"]["rows"]} == {
        "ADDITIONAL_SCREENING": 6
    }


def test_the_threshold_is_the_reporting_clients_one(agencies, settings) -> None:
    settings.STATS_MIN_GROUP_SIZE = 13
    data = figures(as_user(agencies["alpha"])(FIGURES, {"since": SINCE}))
    assert data["suppressionThreshold"] == 13
    assert data["lookups"]["rows"] == [
        {
            "period": DAY.date().isoformat(),
            "lookups": None,
            "withMatches": None,
            "hitRate": None,
            "suppressed": True,
        }
    ]


def test_an_investigator_never_sees_the_day_in_progress(agencies) -> None:
    # given Alpha lookups made just now
    lookups_now = officer("alpha-now", ALPHA)
    for i in range(20):
        m.TravellerLookup.objects.create(user=lookups_now, criteria={"email": f"n{i}@x.test"})
    # then the investigator's window ends at the last midnight, as a reporting client's
    data = figures(as_user(agencies["alpha"])(FIGURES, {"since": SINCE}))
    assert sum(r["lookups"] for r in data["lookups"]["rows"]) == 12


# -- program managers -----------------------------------------------------------------------


def test_program_manager_names_any_agency_and_gets_exact_figures(gql_as, agencies) -> None:
    ask = gql_as(m.Role.PROGRAM_MANAGER)
    bravo = figures(ask(FIGURES, {"agency": BRAVO}))
    assert (bravo["agency"], bravo["suppressionThreshold"]) == (BRAVO, 0)
    assert [r["lookups"] for r in bravo["lookups"]["rows"]] == [15]
    alpha = figures(ask(FIGURES, {"agency": ALPHA}))
    assert {r["group"]: r["count"] for r in alpha["lookupsByPurpose"]["rows"]} == {
        "PASSENGER_SCREENING": 3,
        "TRAVELLER_LOOKUP": 9,
    }
    # leaving agency out: every partner agency together (the analyst's lookups still not)
    every = figures(ask(FIGURES))
    assert every["agency"] is None
    assert [r["lookups"] for r in every["lookups"]["rows"]] == [27]
    assert {r["group"]: r["count"] for r in every["hitsByCategory"]["rows"]} == {
        "DISTRIBUTION": 7,
        "POSSESSION": 11,
    }


def test_program_manager_naming_a_blank_agency_is_a_typed_error(gql_as) -> None:
    assert codes(gql_as(m.Role.PROGRAM_MANAGER)(FIGURES, {"agency": "  "})) == ["INVALID_INPUT"]


def test_a_bad_window_is_a_typed_error(gql_as) -> None:
    result = gql_as(m.Role.PROGRAM_MANAGER)(
        '{ partnerStatistics(timeZone: "Mars/Base") { agency } }'
    )
    assert codes(result) == ["INVALID_INPUT"]
    assert result["errors"][0]["extensions"]["field"] == "timeZone"


# -- aggregates only, constant cost ---------------------------------------------------------


def test_no_partner_statistic_can_reach_a_record_or_an_identifier() -> None:
    gql_schema = schema._schema
    seen: set[str] = set()
    pending = [get_named_type(gql_schema.query_type.fields["partnerStatistics"].type)]
    while pending:
        named = pending.pop()
        if named.name in seen:
            continue
        seen.add(named.name)
        if isinstance(named, GraphQLObjectType):
            assert not named.interfaces, f"{named.name} is a record type"
            for field_name, field in named.fields.items():
                inner = get_named_type(field.type)
                assert not (isinstance(inner, GraphQLScalarType) and inner.name == "ID"), (
                    f"{named.name}.{field_name}"
                )
                pending.append(inner)
    assert seen >= {"PartnerStatistics", "LookupTable", "CountTable"}


def test_query_count_does_not_grow_with_the_data(agencies) -> None:
    ask = as_user(agencies["alpha"])
    ask(document(), {"since": SINCE})  # warm the caches

    def queries_for(n: int) -> int:
        lookups(officer(f"alpha-extra-{n}", ALPHA), n, hits=n, screened=n // 2)
        with CaptureQueriesContext(connection) as captured:
            figures(ask(document(), {"since": SINCE}))
        return len(captured)

    assert queries_for(3) == queries_for(30)
