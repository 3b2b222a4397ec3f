"""The tip and lead state machines, checked against an expected table written out here.

The expected tables are deliberately independent of ``backend.states``: each test walks every
(current, target) pair of the statuses declared on the model and compares the machine's verdict
with the table below, so a change to the machine that is not mirrored here fails.
"""

from __future__ import annotations

import itertools

import pytest

from backend.errors import DomainError, InvalidTransition
from backend.models import LeadStatus, TipStatus
from backend.states import LEAD_MACHINE, TIP_MACHINE, StateMachine

pytestmark = pytest.mark.django_db

# Plain strings on purpose: the table is the specification, not a copy of the machine.
EXPECTED_TIP: dict[str, set[str]] = {
    "RECEIVED": {"UNDER_REVIEW", "CLOSED"},
    "UNDER_REVIEW": {"ACTIONABLE", "NOT_ACTIONABLE", "RECEIVED"},
    "ACTIONABLE": {"REFERRED", "UNDER_REVIEW", "CLOSED"},
    "NOT_ACTIONABLE": {"UNDER_REVIEW", "CLOSED"},
    "REFERRED": {"ACTIONABLE", "CLOSED"},
    "CLOSED": {"UNDER_REVIEW"},
}

EXPECTED_LEAD: dict[str, set[str]] = {
    "DRAFT": {"REFERRED", "CANCELLED"},
    "REFERRED": {"ACCEPTED", "DECLINED"},
    "ACCEPTED": {"CLOSED"},
    "DECLINED": {"DRAFT", "CLOSED"},
    "CLOSED": set(),
    "CANCELLED": set(),
}

MACHINES: dict[str, tuple[StateMachine, dict[str, set[str]]]] = {
    "Tip": (TIP_MACHINE, EXPECTED_TIP),
    "Lead": (LEAD_MACHINE, EXPECTED_LEAD),
}

TIP_STATES = [
    "RECEIVED",
    "UNDER_REVIEW",
    "ACTIONABLE",
    "NOT_ACTIONABLE",
    "REFERRED",
    "CLOSED",
]
LEAD_STATES = ["DRAFT", "REFERRED", "ACCEPTED", "DECLINED", "CLOSED", "CANCELLED"]


def _pairs(name: str, states: list[str], expected: dict[str, set[str]]):
    for current, target in itertools.product(states, states):
        legal = target in expected[current]
        yield pytest.param(
            name,
            current,
            target,
            legal,
            id=f"{name}:{current}->{target}:{'legal' if legal else 'illegal'}",
        )


ALL_PAIRS = [
    *_pairs("Tip", TIP_STATES, EXPECTED_TIP),
    *_pairs("Lead", LEAD_STATES, EXPECTED_LEAD),
]


def test_expected_tables_cover_every_model_status():
    # given the statuses the models declare
    # then the expected tables (and the pair lists) name exactly those, no more, no fewer
    assert set(EXPECTED_TIP) == set(TipStatus.values) == set(TIP_STATES)
    assert set(EXPECTED_LEAD) == set(LeadStatus.values) == set(LEAD_STATES)
    assert len(ALL_PAIRS) == 6 * 6 + 6 * 6


def test_machines_know_exactly_the_model_statuses():
    # given each machine
    # then its table has one row per model status
    assert set(TIP_MACHINE.transitions) == set(TipStatus.values)
    assert set(LEAD_MACHINE.transitions) == set(LeadStatus.values)
    assert TIP_MACHINE.name == "Tip"
    assert LEAD_MACHINE.name == "Lead"


@pytest.mark.parametrize(("name", "current", "target", "legal"), ALL_PAIRS)
def test_every_transition_pair(name: str, current: str, target: str, legal: bool):
    machine, expected = MACHINES[name]
    # given a (current, target) pair
    if legal:
        # when it is checked, then a legal move passes silently
        assert machine.check(current, target) is None
        assert target in machine.allowed(current)
    else:
        # when it is checked, then an illegal move is refused naming both states
        with pytest.raises(InvalidTransition) as info:
            machine.check(current, target)
        exc = info.value
        assert isinstance(exc, DomainError)
        assert exc.code == "INVALID_TRANSITION"
        assert exc.field == "status"
        allowed = ", ".join(sorted(expected[current])) or "none (final status)"
        assert exc.message == (f"{name} cannot move from {current} to {target}; allowed: {allowed}")
        assert str(exc) == exc.message
        assert current in exc.message
        assert target in exc.message
        assert target not in machine.allowed(current)


@pytest.mark.parametrize(("name", "current", "target", "legal"), ALL_PAIRS)
def test_pairs_given_as_enum_members_behave_like_strings(
    name: str, current: str, target: str, legal: bool
):
    # given the same pair given as TextChoices members (how services pass them)
    choices = TipStatus if name == "Tip" else LeadStatus
    machine, _ = MACHINES[name]
    current_member, target_member = choices(current), choices(target)
    # when checked, then the verdict is the same and the message shows the plain values
    if legal:
        machine.check(current_member, target_member)
    else:
        with pytest.raises(InvalidTransition) as info:
            machine.check(current_member, target_member)
        assert f"cannot move from {current} to {target};" in info.value.message
        assert f"{choices.__name__}." not in info.value.message


@pytest.mark.parametrize("name", ["Tip", "Lead"])
def test_allowed_matches_expected_table(name: str):
    machine, expected = MACHINES[name]
    # given every status, then the allowed set is exactly the expected row
    for current, targets in expected.items():
        assert set(machine.allowed(current)) == targets, current


@pytest.mark.parametrize(
    ("name", "current"),
    [("Tip", s) for s in TIP_STATES] + [("Lead", s) for s in LEAD_STATES],
)
@pytest.mark.parametrize("target", ["BOGUS", "", "received", "Draft"])
def test_unknown_target_status_is_refused(name: str, current: str, target: str):
    machine, _ = MACHINES[name]
    # given a target that is not a status of this machine (including wrong case)
    # when checked, then it is refused as not existing
    with pytest.raises(InvalidTransition) as info:
        machine.check(current, target)
    assert info.value.message == f"{name} status {target!r} does not exist"
    assert info.value.field == "status"


@pytest.mark.parametrize(
    ("name", "status"),
    [("Tip", s) for s in LEAD_STATES if s not in TIP_STATES]
    + [("Lead", s) for s in TIP_STATES if s not in LEAD_STATES],
)
def test_other_machines_statuses_are_unknown(name: str, status: str):
    machine, _ = MACHINES[name]
    first = TIP_STATES[0] if name == "Tip" else LEAD_STATES[0]
    # given a status of the other machine, then this machine says it does not exist
    with pytest.raises(InvalidTransition, match="does not exist"):
        machine.check(first, status)


@pytest.mark.parametrize(
    ("name", "target"),
    [("Tip", s) for s in TIP_STATES] + [("Lead", s) for s in LEAD_STATES],
)
def test_unknown_current_status_allows_nothing(name: str, target: str):
    machine, _ = MACHINES[name]
    # given a record in a status the machine does not know
    # then no move out of it is allowed
    assert machine.allowed("BOGUS") == frozenset()
    with pytest.raises(InvalidTransition) as info:
        machine.check("BOGUS", target)
    assert f"cannot move from BOGUS to {target}" in info.value.message


@pytest.mark.parametrize("status", ["CLOSED", "CANCELLED"])
def test_final_lead_statuses_say_so(status: str):
    # given a lead in a final status, then the message says nothing is allowed
    with pytest.raises(InvalidTransition) as info:
        LEAD_MACHINE.check(status, "DRAFT")
    assert info.value.message.endswith("; allowed: none (final status)")


@pytest.mark.parametrize("name", ["Tip", "Lead"])
def test_no_status_may_move_to_itself(name: str):
    machine, _ = MACHINES[name]
    states = TIP_STATES if name == "Tip" else LEAD_STATES
    # given every status, then a self-move is refused (a no-op is not a transition)
    for status in states:
        with pytest.raises(InvalidTransition):
            machine.check(status, status)
