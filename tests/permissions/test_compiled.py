"""Compiled row scoping (permissions.compiled): the lookup answer's records and their handling
markings read by statements compiled once per process give exactly what the ORM's scoping and
markings give, for every caller, on a generated graph."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db.models import F
from django.utils import timezone

from backend import models as m
from permissions.compiled import compiled, compiles_for, scoped_records
from permissions.markings import load_markings, markings_from, markings_of
from permissions.scoping import scope_queryset
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SubjectFactory,
    TipFactory,
    TipSubjectFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CAVEATS = list(m.HandlingCaveat.values)
ROLES = list(m.SubjectRole.values)
MARKABLE = (m.Tip, m.Subject, m.Identifier)


def world(seed: int) -> dict[str, m.User]:
    """Tips of every caveat (some removed), people in every role (some removed), identifiers
    seen in tips and held by people, and four callers: an investigator with disclosures of
    about half the records (a third of them past the reopening window), one with none, an
    analyst and a program manager."""
    rng = random.Random(seed)
    tips = [TipFactory(handling_caveat=rng.choice(CAVEATS)) for _ in range(14)]
    people = [SubjectFactory() for _ in range(10)]
    identifiers = [IdentifierFactory() for _ in range(10)]
    for person in people:
        for tip in rng.sample(tips, 2):
            TipSubjectFactory(tip=tip, subject=person, role=rng.choice(ROLES))
    for identifier in identifiers:
        for tip in rng.sample(tips, rng.randint(0, 2)):
            SightingFactory(tip=tip, identifier=identifier)
        for person in rng.sample(people, rng.randint(0, 1)):
            m.SubjectIdentifier.objects.create(subject=person, identifier=identifier)
    now = timezone.now()
    for record in [*rng.sample(tips, 3), *rng.sample(people, 2), rng.choice(identifiers)]:
        type(record).objects.filter(pk=record.pk).update(removed_at=now)
    callers = {
        "investigator": UserFactory(role=m.Role.INVESTIGATOR),
        "other investigator": UserFactory(role=m.Role.INVESTIGATOR),
        "analyst": UserFactory(role=m.Role.ANALYST),
        "program manager": UserFactory(role=m.Role.PROGRAM_MANAGER),
    }
    lookup = m.TravellerLookup.objects.create(user=callers["investigator"], criteria={})
    for record in [*tips, *people, *identifiers]:
        if rng.random() < 0.5:
            disclosure = m.Disclosure.objects.create(
                lookup=lookup,
                user=callers["investigator"],
                content_type=ContentType.objects.get_for_model(record),
                object_id=record.pk,
            )
            if rng.random() < 0.33:  # past the window
                m.Disclosure.objects.filter(pk=disclosure.pk).update(
                    created_at=F("created_at") - dt.timedelta(days=60)
                )
    return callers


def columns(record: m.Tip | m.Subject | m.Identifier) -> tuple:
    return tuple(getattr(record, f.attname) for f in type(record)._meta.concrete_fields)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_records_and_markings_are_the_orms(seed):
    callers = world(seed)
    for who, user in callers.items():
        assert compiles_for(user)
        for model in MARKABLE:
            ids = list(model._default_manager.values_list("pk", flat=True))
            # when the records are read by the compiled statement, and through the ORM
            found = scoped_records(model, ids, user)
            expected = list(scope_queryset(model._default_manager.filter(pk__in=ids), user))
            # then they are the same records, in the same order, with the same columns
            assert list(found) == [r.pk for r in expected], (who, model.__name__)
            assert [columns(r) for r in found.values()] == [columns(r) for r in expected]
            # and their markings are the same
            load_markings(model, found, user)
            marks = markings_of(model, ids, user)
            assert {pk: markings_from(r) or [] for pk, r in found.items()} == {
                pk: marks.get(pk, []) for pk in found
            }, (who, model.__name__)


def test_the_world_shows_each_caller_something_different():
    # (so that the comparison above compares something)
    callers = world(1)
    seen = {
        who: {
            model: set(
                scoped_records(model, model._default_manager.values_list("pk", flat=True), u)
            )
            for model in MARKABLE
        }
        for who, u in callers.items()
    }
    assert seen["other investigator"] == {model: set() for model in MARKABLE}
    assert all(seen["investigator"][model] for model in MARKABLE)
    assert all(seen["investigator"][model] < seen["analyst"][model] for model in MARKABLE)
    assert all(seen["analyst"][model] < seen["program manager"][model] for model in MARKABLE)


def test_a_statement_that_misses_the_ids_or_the_caller_is_refused():
    from permissions.compiled import among

    def no_ids(user):
        return scope_queryset(m.Tip.objects.all(), user).values_list("pk")

    def no_caller(user):
        return m.Tip.objects.filter(among("pk")).values_list("pk")

    with pytest.raises(ValueError, match="ids"):
        compiled(no_ids, m.Role.ANALYST, partner=False)
    with pytest.raises(ValueError, match="caller"):
        compiled(no_caller, m.Role.INVESTIGATOR, partner=True)


def test_callers_whose_scoping_is_not_compiled():
    inactive = UserFactory(role=m.Role.INVESTIGATOR, is_active=False)
    auditor = UserFactory(role=m.Role.AUDITOR)
    assert not compiles_for(inactive)
    assert not compiles_for(auditor)
    assert not compiles_for(None)


def test_a_partners_compiled_statement_checks_the_disclosure_window_row_by_row():
    # (a prepared statement's generic plan must not be able to start from the caller's
    # disclosures: docs/benchmarks.md measured 13 to 30 ms a statement when it did)
    import functools

    from permissions.compiled import _records_among

    for model in MARKABLE:
        build = functools.partial(_records_among, model)
        sql = compiled(build, m.Role.INVESTIGATOR, partner=True).sql
        disclosures = m.Disclosure._meta.db_table
        assert f"EXISTS (SELECT 1 FROM {disclosures} WHERE object_id = " in sql
        assert "OFFSET 0)" in sql
        assert f"SELECT object_id FROM {disclosures}" not in sql
