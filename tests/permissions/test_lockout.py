"""Sign-in lockout (django-axes): AXES_FAILURE_LIMIT failed sign-ins within the cool-off time
lock the username from every address and, separately, the address for every username. The
right password does not get through a lockout, nor does a bearer token of a locked username;
administrators see and lift lockouts in the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration
from django.db.models import F
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from backend.models import ApiToken, Role
from tests.conftest import make_gql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LIMIT = 5
LOCKED = (
    "Account locked: too many failed sign-ins. Try again in 30 minutes, "
    "or ask a system administrator to unlock it."
)
HERE, THERE = "10.0.0.1", "10.0.0.2"


def sign_in(username: str, password: str, address: str = HERE) -> tuple[Client, int]:
    """POST the login form from ``address``; the client and the response status."""
    client = Client(REMOTE_ADDR=address)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    return client, response.status_code


def fail(username: str, times: int, address: str = HERE) -> list[int]:
    return [sign_in(username, "wrong password", address)[1] for _ in range(times)]


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture(autouse=True)
def _limit(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT


@pytest.fixture
def alice():
    return UserFactory(username="alice", role=Role.ANALYST)


def test_one_failure_fewer_than_the_limit_does_not_lock(alice):
    # given LIMIT - 1 failed sign-ins, each answered with the form again
    assert fail("alice", LIMIT - 1) == [200] * (LIMIT - 1)
    # when alice signs in with her password
    client, status = sign_in("alice", PASSWORD)
    # then she is signed in
    assert status == 302
    assert is_signed_in(client)


def test_the_limit_of_failures_locks_even_the_right_password(alice):
    # when alice's password is guessed wrong LIMIT times, the last one is answered "locked"
    assert fail("alice", LIMIT) == [200] * (LIMIT - 1) + [429]
    # then the right password is refused too
    client = Client(REMOTE_ADDR=HERE)
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert response.content.decode() == LOCKED
    assert not is_signed_in(client)


def test_a_locked_username_is_locked_from_every_address(alice):
    # given alice locked out by failures from HERE
    UserFactory(username="bob")
    fail("alice", LIMIT, HERE)
    # then alice is refused from THERE as well
    assert sign_in("alice", PASSWORD, THERE)[1] == 429
    # and HERE is locked for bob too
    assert sign_in("bob", PASSWORD, HERE)[1] == 429
    # while bob from THERE signs in
    client, status = sign_in("bob", PASSWORD, THERE)
    assert status == 302
    assert is_signed_in(client)


def test_failures_for_many_usernames_lock_the_address():
    # given LIMIT failures from one address, each for a different username
    UserFactory(username="carol")
    for n in range(LIMIT):
        fail(f"guess{n}", 1, "10.0.0.9")
    # then carol is refused from that address, though her username never failed
    assert sign_in("carol", PASSWORD, "10.0.0.9")[1] == 429
    # and signs in from another address
    assert sign_in("carol", PASSWORD, "10.0.0.10")[1] == 302


def test_failures_older_than_the_cool_off_do_not_count(alice):
    # given LIMIT - 1 failures more than 30 minutes ago
    fail("alice", LIMIT - 1)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=31))
    AccessAttemptExpiration.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    # when alice fails once more now
    assert fail("alice", 1) == [200]
    # then she is not locked out
    assert sign_in("alice", PASSWORD)[1] == 302


def test_a_successful_sign_in_clears_the_failures(alice):
    # given LIMIT - 1 failures, then a successful sign-in
    fail("alice", LIMIT - 1)
    assert sign_in("alice", PASSWORD)[1] == 302
    # when alice fails LIMIT - 1 times again
    assert fail("alice", LIMIT - 1) == [200] * (LIMIT - 1)
    # then she is still not locked out
    assert sign_in("alice", PASSWORD)[1] == 302


def test_spraying_then_a_good_sign_in_does_not_reset_the_address():
    # given mallory, with an account of her own, spraying guesses at other usernames from one
    # address and signing in between rounds, as one round of LIMIT - 1 guesses and a sign-in
    UserFactory(username="mallory")
    for n in range(LIMIT - 1):
        assert fail(f"victim{n}", 1, "10.0.0.7") == [200]
    client, status = sign_in("mallory", PASSWORD, "10.0.0.7")
    assert (status, is_signed_in(client)) == (302, True)
    # when she sprays once more from that address
    status_of_next_guess = fail("victim9", 1, "10.0.0.7")
    # then the address is locked at the limit, for her own account as well
    assert status_of_next_guess == [429]
    client = Client(REMOTE_ADDR="10.0.0.7")
    response = client.post("/accounts/login/", {"username": "mallory", "password": PASSWORD})
    assert (response.status_code, response.content.decode()) == (429, LOCKED)
    assert not is_signed_in(client)
    # and the sprayed failures are all still counted against the address
    sprayed = AccessAttempt.objects.filter(username__startswith="victim")
    assert sorted(sprayed.values_list("username", flat=True)) == [
        f"victim{n}" for n in range(LIMIT - 1)
    ] + ["victim9"]


def test_a_sign_in_clears_the_users_own_failures_but_not_the_addresses_other_failures(alice):
    # given two failures of alice's own and two guesses at other usernames, all from HERE
    fail("alice", 2)
    fail("guess0", 1)
    fail("guess1", 1)
    # when alice signs in from HERE
    assert sign_in("alice", PASSWORD)[1] == 302
    # then her own failures are gone, and the other usernames' failures stay
    assert sorted(AccessAttempt.objects.values_list("username", flat=True)) == ["guess0", "guess1"]
    # so alice may fail LIMIT - 1 times again without being locked out as a username
    assert fail("alice", LIMIT - 1, THERE) == [200] * (LIMIT - 1)
    assert sign_in("alice", PASSWORD, THERE)[1] == 302
    # while HERE, holding two failures, is locked after LIMIT - 2 more
    assert fail("guess2", LIMIT - 2) == [200] * (LIMIT - 3) + [429]


def test_a_sign_in_does_not_clear_the_usernames_failures_from_other_addresses(alice):
    # given LIMIT - 1 guesses at alice's password from THERE
    fail("alice", LIMIT - 1, THERE)
    # when alice signs in from HERE
    assert sign_in("alice", PASSWORD, HERE)[1] == 302
    # then the guesser's failures still count: one more guess from THERE locks alice
    assert fail("alice", 1, THERE) == [429]
    assert sign_in("alice", PASSWORD, HERE)[1] == 429


def test_fifteen_sprayed_failures_with_sign_ins_between_rounds_are_audited_and_locked():
    # given mallory spraying from one address, signing in after every LIMIT - 1 guesses
    UserFactory(username="mallory")
    statuses = []
    for round_ in range(3):
        for n in range(LIMIT - 1):
            statuses += fail(f"victim{round_}-{n}", 1, "10.0.0.8")
        statuses.append(sign_in("mallory", PASSWORD, "10.0.0.8")[1])
    # then the first round gets through, and from the limit on everything is refused
    assert statuses == [200] * (LIMIT - 1) + [302] + [429] * (2 * LIMIT)
    # and the audit log has every failure and the lockouts, as for any lockout
    rows = AuditEvent.objects.filter(client_address="10.0.0.8").exclude(kind="OPERATION")
    kinds = list(rows.order_by("seq").values_list("kind", flat=True))
    # (axes signals the lockout, then the failure, for each refused attempt)
    assert kinds == ["LOGIN_FAILED"] * (LIMIT - 1) + ["LOGIN"] + ["LOCKOUT", "LOGIN_FAILED"] * (
        2 * LIMIT
    )


def test_the_limit_comes_from_the_settings(settings, alice):
    settings.AXES_FAILURE_LIMIT = 2
    assert fail("alice", 2) == [200, 429]
    assert sign_in("alice", PASSWORD)[1] == 429


# Bearer tokens


def viewer_with(raw: str, address: str = HERE) -> dict:
    return make_gql(Client(REMOTE_ADDR=address), Authorization=f"Bearer {raw}")(
        "{ viewer { username } }"
    )


def test_bearer_token_of_a_locked_out_username_is_refused(alice):
    # given tokens for alice and bob, and alice locked out
    _, alice_token = ApiToken.issue(user=alice, name="tool", days=5)
    _, bob_token = ApiToken.issue(user=UserFactory(username="bob"), name="tool", days=5)
    fail("alice", LIMIT, THERE)
    # then alice's token is refused, with the reason
    assert viewer_with(alice_token) == {
        "data": None,
        "errors": [
            {
                "message": "the account of this API token is locked after repeated failed sign-ins",
                "extensions": {"code": "LOCKED_OUT"},
            }
        ],
    }
    # and bob's token still works
    assert viewer_with(bob_token) == {"data": {"viewer": {"username": "bob"}}}


def test_bearer_token_works_again_when_the_lockout_expires(alice):
    # given alice locked out more than 30 minutes ago
    _, token = ApiToken.issue(user=alice, name="tool", days=5)
    fail("alice", LIMIT)
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - dt.timedelta(minutes=31))
    AccessAttemptExpiration.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    # then her token works again
    assert viewer_with(token) == {"data": {"viewer": {"username": "alice"}}}


def test_bearer_token_is_not_stopped_by_a_locked_address(alice):
    # given the address HERE locked by guesses at other usernames
    _, token = ApiToken.issue(user=alice, name="tool", days=5)
    for n in range(LIMIT):
        fail(f"guess{n}", 1, HERE)
    assert sign_in("alice", PASSWORD, HERE)[1] == 429
    # then alice's token from HERE still works: an address lock stops password sign-ins only
    assert viewer_with(token, HERE) == {"data": {"viewer": {"username": "alice"}}}


# Lockouts in the admin


def admin_client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(username=f"admin-{role.lower()}", role=role))
    return client


@pytest.mark.parametrize("role", [Role.SYSTEM_ADMINISTRATOR, Role.PROGRAM_MANAGER])
def test_administrators_see_lockouts_in_the_admin(alice, role):
    # given alice locked out
    fail("alice", LIMIT)
    # when a system administrator or program manager opens the access attempts
    response = admin_client(role).get("/admin/axes/accessattempt/")
    # then alice's lockout is listed
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert [(a.username, a.ip_address, a.failures_since_start) for a in rows] == [
        ("alice", HERE, LIMIT)
    ]
    assert "Locked Out" in response.content.decode()


def test_a_system_administrator_unlocks_an_account_in_the_admin(alice):
    # given alice locked out
    fail("alice", LIMIT)
    attempt = AccessAttempt.objects.get(username="alice")
    # when a system administrator deletes the access attempt
    response = admin_client(Role.SYSTEM_ADMINISTRATOR).post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    # then the lockout is gone and alice signs in
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in("alice", PASSWORD)[1] == 302


def test_a_program_manager_cannot_unlock(alice):
    fail("alice", LIMIT)
    attempt = AccessAttempt.objects.get(username="alice")
    admin_client(Role.PROGRAM_MANAGER).post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()


def test_other_roles_do_not_see_lockouts_even_as_staff(alice):
    fail("alice", LIMIT)
    client = Client()
    client.force_login(UserFactory(username="staff-analyst", role=Role.ANALYST, is_staff=True))
    response = client.get("/admin/axes/accessattempt/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/axes/accessattempt/"
