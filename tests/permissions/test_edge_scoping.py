"""Edge models are scoped from their registry entries: ``backend/registry.py`` names the ends of
every edge (a row joining two records), and row scoping (``permissions.scoping``) shows an
edge's rows only where the records at both of its ends are visible. A new edge model is
scoped by its entry; this fails for one whose entry names no ends."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from backend import models as m
from backend.registry import REGISTRY, edge_ends, registered_models, removable_models
from permissions.partner import PARTNER_RULES
from permissions.scoping import scope_queryset
from tests.factories import (
    IdentifierFactory,
    LeadFactory,
    SubjectFactory,
    TipFactory,
    UserFactory,
)

#: A factory for each kind of record at the end of an edge.
END_FACTORIES: dict[type[models.Model], Any] = {
    m.Tip: TipFactory,
    m.Subject: SubjectFactory,
    m.Identifier: IdentifierFactory,
    m.Lead: LeadFactory,
}
#: Required values of an edge row other than its ends.
EDGE_VALUES: dict[type[models.Model], dict[str, Any]] = {
    m.TipLink: {"kind": m.TipLinkKind.MANUAL},
}


def _required_foreign_keys_to_removable(model: type[models.Model]) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey)
        and not field.null
        and field.related_model in removable_models()
    ]


def _edges() -> list[type[models.Model]]:
    """The models that join two records scoping may hide: two required foreign keys to
    removable records."""
    return [m_ for m_ in registered_models() if len(_required_foreign_keys_to_removable(m_)) >= 2]


def _named_edges() -> list[type[models.Model]]:
    return [model for model in registered_models() if edge_ends(model)]


def test_every_edge_model_names_its_ends_in_the_registry():
    # given the models joining two records that scoping may hide
    edges = _edges()
    assert {m.TipIdentifier, m.TipSubject, m.SubjectIdentifier, m.TipLink} <= set(edges)
    # then each entry names its ends
    assert sorted(e._meta.label for e in edges if not REGISTRY[e._meta.label].ends) == []


def test_each_end_is_a_required_foreign_key_of_the_edge():
    # given the ends the registry names
    wrong = {
        model._meta.label: end
        for model in _named_edges()
        for end, _ in edge_ends(model)
        if not isinstance(field := model._meta.get_field(end), models.ForeignKey) or field.null
    }
    # then each leads to a record that is always there
    assert wrong == {}


def _edge_row(model: type[models.Model]) -> tuple[models.Model, list[models.Model]]:
    ends = {end: END_FACTORIES[end_model]() for end, end_model in edge_ends(model)}
    return model._default_manager.create(**ends, **EDGE_VALUES.get(model, {})), list(ends.values())


def _sees(user: Any, row: models.Model) -> bool:
    return scope_queryset(type(row)._default_manager.filter(pk=row.pk), user).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("model", _named_edges(), ids=lambda model: model._meta.label)
@pytest.mark.parametrize("end", [0, 1])
def test_an_edge_is_hidden_from_analysts_when_a_record_at_one_end_is_removed(model, end):
    # given an edge row between two live records
    analyst = UserFactory(role=m.Role.ANALYST)
    manager = UserFactory(role=m.Role.PROGRAM_MANAGER)
    row, ends = _edge_row(model)
    assert _sees(analyst, row)
    # when the record at one end is removed
    type(ends[end])._default_manager.filter(pk=ends[end].pk).update(removed_at=timezone.now())
    # then analysts no longer see the edge; the program manager still does
    assert not _sees(analyst, row)
    assert _sees(manager, row)


def _disclose(user: Any, *records: models.Model) -> None:
    lookup = m.TravellerLookup.objects.create(user=user, criteria={})
    for record in records:
        m.Disclosure.objects.create(
            lookup=lookup,
            user=user,
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
        )


@pytest.mark.django_db
def test_an_investigator_sees_an_edge_the_partner_rule_allows_only_where_both_ends_are_visible():
    # given a suspect on a tip, an identifier seen in the tip and held by the suspect
    investigator = UserFactory(role=m.Role.INVESTIGATOR)
    tip, other_tip, suspect, email = (
        TipFactory(),
        TipFactory(),
        SubjectFactory(),
        IdentifierFactory(),
    )
    rows = {
        m.TipSubject: m.TipSubject.objects.create(tip=tip, subject=suspect),
        m.TipIdentifier: m.TipIdentifier.objects.create(tip=tip, identifier=email),
        m.SubjectIdentifier: m.SubjectIdentifier.objects.create(subject=suspect, identifier=email),
        m.TipLink: m.TipLink.objects.create(
            from_tip=tip, to_tip=other_tip, kind=m.TipLinkKind.MANUAL
        ),
    }
    # when nothing was disclosed to the investigator, they see no edge
    assert [model for model, row in rows.items() if _sees(investigator, row)] == []
    # when every record was
    _disclose(investigator, tip, other_tip, suspect, email)
    # then they see the edges a partner may learn, and no other
    assert (
        {model for model, row in rows.items() if _sees(investigator, row)}
        == {model for model in rows if model in PARTNER_RULES}
        == {m.TipSubject, m.TipIdentifier, m.SubjectIdentifier}
    )
