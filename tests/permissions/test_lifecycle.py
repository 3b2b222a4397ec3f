"""The access lifecycle: an account acts only when every step of the PIA is done and its
annual training is current; otherwise every operation is refused, with every reason."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend import models as m
from backend.models import ApiToken, Role
from permissions.lifecycle import (
    ACCESS_NOT_APPROVED,
    TRAINING_LAPSED,
    AccessProblem,
    access_problems,
    record_activity,
)
from tests.conftest import make_gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
VIEWER = "{ viewer { username } }"

NOT_NOMINATED = AccessProblem(ACCESS_NOT_APPROVED, "no supervisor has nominated the account")
NOT_CERTIFIED = AccessProblem(ACCESS_NOT_APPROVED, "training and certification are not complete")
NOT_REVIEWED = AccessProblem(
    ACCESS_NOT_APPROVED, "a system administrator has not reviewed compliance"
)
NOT_APPROVED = AccessProblem(
    ACCESS_NOT_APPROVED, "the program manager has not given final approval"
)
RULES_NOT_ACCEPTED = AccessProblem(
    ACCESS_NOT_APPROVED, "the rules of behaviour have not been accepted"
)
NO_TRAINING = AccessProblem(TRAINING_LAPSED, "no annual privacy and security training is on record")


def trained(**fields) -> m.User:
    """A fully approved account, trained 100 days before NOW, with ``fields`` changed."""
    return UserFactory(**{"annual_training_at": NOW - dt.timedelta(days=100), **fields})


def signed_in(user: m.User):
    client = Client()
    client.force_login(user)
    return make_gql(client)


# access_problems


def test_fully_approved_and_trained_account_has_no_problems():
    assert access_problems(trained(), now=NOW) == []


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("nominated_at", NOT_NOMINATED),
        ("certified_at", NOT_CERTIFIED),
        ("compliance_reviewed_at", NOT_REVIEWED),
        ("approved_at", NOT_APPROVED),
        ("rules_accepted_at", RULES_NOT_ACCEPTED),
        ("annual_training_at", NO_TRAINING),
    ],
)
def test_each_missing_step_is_a_problem(field, problem):
    # given an account missing one step
    user = trained(**{field: None})
    # then that step, and only it, is reported
    assert access_problems(user, now=NOW) == [problem]


def test_a_new_account_is_told_every_step_in_pia_order():
    # given an account nobody has nominated, trained or approved
    user = UserFactory(
        nominated_by="",
        nominated_at=None,
        certified_at=None,
        compliance_reviewed_at=None,
        approved_at=None,
        rules_accepted_at=None,
        annual_training_at=None,
    )
    # then every missing step is reported, in the order of the PIA, training last
    assert access_problems(user, now=NOW) == [
        NOT_NOMINATED,
        NOT_CERTIFIED,
        NOT_REVIEWED,
        NOT_APPROVED,
        RULES_NOT_ACCEPTED,
        NO_TRAINING,
    ]


def test_a_nomination_needs_the_supervisor_who_made_it():
    # given a nomination date but no nominating supervisor
    user = trained(nominated_by="  ")
    # then the account counts as not nominated
    assert access_problems(user, now=NOW) == [NOT_NOMINATED]


def test_training_is_current_up_to_the_last_day_and_lapses_after(settings):
    # given training exactly ANNUAL_TRAINING_DAYS (365) days before NOW
    settings.ANNUAL_TRAINING_DAYS = 365
    user = trained(annual_training_at=NOW - dt.timedelta(days=365))
    # then it is still current at NOW
    assert access_problems(user, now=NOW) == []
    # and one second later it has lapsed, on that day
    assert access_problems(user, now=NOW + dt.timedelta(seconds=1)) == [
        AccessProblem(TRAINING_LAPSED, "annual privacy and security training lapsed on 2025-06-01")
    ]


def test_the_training_interval_comes_from_the_settings(settings):
    # given a 30-day training interval and training 31 days ago
    settings.ANNUAL_TRAINING_DAYS = 30
    user = trained(annual_training_at=NOW - dt.timedelta(days=31))
    # then training lapsed the day before NOW
    assert access_problems(user, now=NOW) == [
        AccessProblem(TRAINING_LAPSED, "annual privacy and security training lapsed on 2025-05-31")
    ]


# Refusal in the schema


def test_account_that_may_act_is_answered(gql):
    assert gql(VIEWER) == {"data": {"viewer": {"username": "analyst-user"}}}


def test_lapsed_training_refuses_every_operation_with_the_reason():
    # given an approved analyst whose training lapsed on 2025-01-02
    user = UserFactory(username="lapsed", annual_training_at=dt.datetime(2024, 1, 3, tzinfo=dt.UTC))
    # when it asks anything
    result = signed_in(user)(VIEWER)
    # then nothing runs, and the error gives the code and the reason
    assert result == {
        "data": None,
        "errors": [
            {
                "message": "Your account cannot act: annual privacy and security training "
                "lapsed on 2025-01-02.",
                "extensions": {"code": "TRAINING_LAPSED", "problems": ["TRAINING_LAPSED"]},
            }
        ],
    }


def test_refusal_names_the_first_problem_and_tells_all_reasons():
    # given an account without final approval whose training also lapsed
    user = UserFactory(
        approved_at=None,
        rules_accepted_at=None,
        annual_training_at=dt.datetime(2024, 1, 3, tzinfo=dt.UTC),
    )
    # when it asks anything
    error = signed_in(user)(VIEWER)["errors"][0]
    # then the code is the first problem's and the message lists every reason
    assert error["extensions"] == {
        "code": "ACCESS_NOT_APPROVED",
        "problems": ["ACCESS_NOT_APPROVED", "ACCESS_NOT_APPROVED", "TRAINING_LAPSED"],
    }
    assert error["message"] == (
        "Your account cannot act: the program manager has not given final approval; the rules "
        "of behaviour have not been accepted; annual privacy and security training lapsed on "
        "2025-01-02."
    )


def test_introspection_is_refused_to_an_account_that_may_not_act():
    user = UserFactory(compliance_reviewed_at=None)
    result = signed_in(user)("{ __schema { queryType { name } } }")
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "ACCESS_NOT_APPROVED"


CREATE_SOURCE = """mutation {
    createSource(input: {kind: LOCAL_LAW_ENFORCEMENT, name: "Lifecycle", country: "US"}) {
        source { name } errors { code }
    }
}"""


def test_an_analyst_that_may_act_creates_a_source():
    result = signed_in(UserFactory())(CREATE_SOURCE)
    assert result == {"data": {"createSource": {"source": {"name": "Lifecycle"}, "errors": []}}}
    assert m.Source.objects.filter(name="Lifecycle").count() == 1


def test_a_refused_mutation_changes_nothing():
    # given an analyst (who may create sources) that never accepted the rules of behaviour
    user = UserFactory(rules_accepted_at=None)
    # when it tries to create a source
    result = signed_in(user)(CREATE_SOURCE)
    # then it is refused before execution, and no source exists
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["ACCESS_NOT_APPROVED"]
    assert not m.Source.objects.filter(name="Lifecycle").exists()


def test_bearer_token_of_an_account_that_may_not_act_is_refused_too():
    user = UserFactory(annual_training_at=None)
    _, raw = ApiToken.issue(user=user, name="tool", days=5)
    result = make_gql(Client(), Authorization=f"Bearer {raw}")(VIEWER)
    assert result["data"] is None
    assert result["errors"][0]["extensions"]["code"] == "TRAINING_LAPSED"


def test_an_account_that_may_act_is_still_limited_by_its_role(gql_as):
    # an approved auditor passes the lifecycle check and is then refused by role, not lifecycle
    result = gql_as(Role.AUDITOR)("{ sources(first: 1) { edges { node { name } } } }")
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


# last_activity_at


def test_first_operation_records_activity():
    # given an account never active
    user = UserFactory(last_activity_at=None)
    before = timezone.now()
    # when it asks something
    signed_in(user)(VIEWER)
    # then its activity is recorded
    user.refresh_from_db()
    assert before <= user.last_activity_at <= timezone.now()


def test_activity_is_written_at_most_once_in_five_minutes():
    # given an account active four minutes ago
    four_minutes_ago = timezone.now() - dt.timedelta(minutes=4)
    user = UserFactory(last_activity_at=four_minutes_ago)
    gql = signed_in(user)
    # when it asks twice
    with CaptureQueriesContext(connection) as queries:
        gql(VIEWER)
        gql(VIEWER)
    # then nothing was written
    user.refresh_from_db()
    assert user.last_activity_at == four_minutes_ago
    assert [q["sql"] for q in queries if q["sql"].startswith('UPDATE "backend_user"')] == []


def test_activity_older_than_five_minutes_is_renewed():
    six_minutes_ago = timezone.now() - dt.timedelta(minutes=6)
    user = UserFactory(last_activity_at=six_minutes_ago)
    signed_in(user)(VIEWER)
    user.refresh_from_db()
    assert user.last_activity_at > six_minutes_ago + dt.timedelta(minutes=5)


def test_refused_account_is_not_recorded_as_active():
    user = UserFactory(approved_at=None, last_activity_at=None)
    signed_in(user)(VIEWER)
    user.refresh_from_db()
    assert user.last_activity_at is None


def test_a_concurrent_request_does_not_write_twice():
    # given two in-memory copies of an account last active ten minutes ago
    user = UserFactory(last_activity_at=timezone.now() - dt.timedelta(minutes=10))
    first, second = m.User.objects.get(pk=user.pk), m.User.objects.get(pk=user.pk)
    # when both record activity, the second just after the first
    now = timezone.now()
    assert record_activity(first, now=now) is True
    # then the second finds the row already recent and writes nothing
    assert record_activity(second, now=now + dt.timedelta(seconds=1)) is False
    assert m.User.objects.get(pk=user.pk).last_activity_at == now


# Demo users


def test_demo_users_have_completed_every_step(settings):
    # given the demo set up
    settings.DEBUG = True
    call_command("demo", tips=5, stdout=StringIO())
    # then every demo user may act
    users = {user.role: user for user in m.User.objects.all()}
    assert sorted(users) == sorted(Role.values)
    assert {role: access_problems(user) for role, user in users.items()} == {
        role: [] for role in Role.values
    }
    # nominated by the demo supervisor, reviewed by the demo system administrator and approved
    # by the demo program manager, none of them by themselves
    sysadmin, manager = users[Role.SYSTEM_ADMINISTRATOR], users[Role.PROGRAM_MANAGER]
    assert {user.nominated_by for user in users.values()} == {"DEMO supervisor"}
    assert {
        role: (user.compliance_reviewed_by_id, user.approved_by_id) for role, user in users.items()
    } == {
        role: (
            None if role == Role.SYSTEM_ADMINISTRATOR else sysadmin.pk,
            None if role == Role.PROGRAM_MANAGER else manager.pk,
        )
        for role in Role.values
    }
    assert all(user.privileges_reviewed_at is not None for user in users.values())
    # and the training of each was recorded by another account, the system administrator's
    assert {role: user.annual_training_recorded_by_id for role, user in users.items()} == {
        role: None if role == Role.SYSTEM_ADMINISTRATOR else sysadmin.pk for role in Role.values
    }


def test_demo_renews_the_lapsed_training_of_existing_demo_users(settings):
    # given a demo analyst from an earlier run whose training lapsed
    settings.DEBUG = True
    call_command("demo", tips=5, stdout=StringIO())
    m.User.objects.filter(username="demo-analyst").update(
        annual_training_at=timezone.now() - dt.timedelta(days=400)
    )
    # when the demo is set up again
    call_command("demo", tips=5, stdout=StringIO())
    # then the analyst may act again
    assert access_problems(m.User.objects.get(username="demo-analyst")) == []
