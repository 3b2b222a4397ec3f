"""Every answer shown to a partner-agency investigator carries the no-redissemination rule, and
the handling markings of the records in it.

``extensions.dissemination`` is on every response to an investigator. When the response
contains a record under a caveat that is a marking (LAW_ENFORCEMENT_SENSITIVE; an investigator
never sees OWNER_ONLY), ``extensions.handlingMarkings`` lists each marking once, with its
handling rule and the global ids of the records in the response that carry it:

    "handlingMarkings": [{"caveat": "LAW_ENFORCEMENT_SENSITIVE",
                          "label": "Law enforcement sensitive",
                          "rule": "Law enforcement sensitive: for law-enforcement use only...",
                          "records": ["VGlwOjQy", "U3ViamVjdDo3"]}]

A record is in the response when any of its fields is (the records an audit row lists as
returned), or when a traveller lookup in it returned it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import strawberry_django
from django.db.models import Model
from strawberry import relay
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from backend import models as m
from backend.registry import type_name
from permissions.markings import (
    MARKABLE,
    MARKINGS,
    marking_prefetch_builders,
    markings_from,
    markings_of,
)
from schema.base import HandlingCaveatEnum

__all__ = ["CAVEAT", "MARKED_TIPS_ATTRIBUTE", "DisseminationCaveat", "handling_markings_field"]

CAVEAT = (
    "Owning-agency data: it may not be passed on to anyone else without the owning agency's "
    "express authorisation."
)
#: An object resolved in an answer that names tips it returned (a traveller lookup result)
#: keeps the caveat of each of them, ``{tip id: caveat}`` (``NONE`` included), in this
#: attribute: those tips' markings are then known without a query of their own.
MARKED_TIPS_ATTRIBUTE = "marked_tips"


class DisseminationCaveat(SchemaExtension):
    """Adds ``extensions.dissemination`` to every response an investigator receives, and
    ``extensions.handlingMarkings`` when it contains a marked record."""

    def on_operation(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        user = getattr(request, "user", None)
        self.user = user
        self.partner = getattr(user, "role", None) == m.Role.INVESTIGATOR
        self.seen: dict[type[Model], set[Any]] = defaultdict(set)
        self.marked_tips: dict[Any, str] = {}
        #: Markings read off records as they were resolved: (model, pk) -> caveats.
        self.known: dict[tuple[type[Model], Any], list[str]] = {}
        yield

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Info, *args: Any, **kwargs: Any
    ) -> Any:
        if getattr(self, "partner", False):
            if isinstance(root, MARKABLE):
                if isinstance(root, m.Tip) and root.pk in self.marked_tips:
                    pass  # its answer said its caveat
                elif (type(root), root.pk) not in self.known:
                    marks = _loaded_markings(root)
                    if marks is None:
                        self.seen[type(root)].add(root.pk)
                    else:
                        self.known[(type(root), root.pk)] = marks
            elif isinstance(marked := getattr(root, MARKED_TIPS_ATTRIBUTE, None), dict):
                self.marked_tips.update(marked)
        return _next(root, info, *args, **kwargs)

    def _markings(self) -> list[dict[str, Any]]:
        records: dict[str, set[str]] = defaultdict(set)
        for pk, caveat in self.marked_tips.items():
            records[caveat].add(str(relay.GlobalID(type_name(m.Tip), str(pk))))
        looked_up = {
            (model, pk): caveats
            for model, ids in self.seen.items()
            if (missing := [pk for pk in ids if (model, pk) not in self.known])
            for pk, caveats in markings_of(model, missing, self.user).items()
        }
        for (model, pk), caveats in {**self.known, **looked_up}.items():
            for caveat in caveats:
                records[caveat].add(str(relay.GlobalID(type_name(model), str(pk))))
        return [
            {
                "caveat": caveat,
                "label": m.HandlingCaveat(caveat).label,
                "rule": m.HandlingCaveat(caveat).marking,
                "records": sorted(records[caveat]),
            }
            for caveat in MARKINGS
            if records[caveat]
        ]

    def get_results(self) -> dict[str, Any]:
        if not getattr(self, "partner", False):
            return {}
        results: dict[str, Any] = {"dissemination": CAVEAT}
        if markings := self._markings():
            results["handlingMarkings"] = markings
        return results


def _loaded_markings(record: Model) -> list[str] | None:
    """The markings of ``record`` when what they need is already loaded on it (a tip's own
    caveat, or a person's or identifier's prefetched links), else None: never a query."""
    if isinstance(record, m.Tip) and "handling_caveat" not in record.__dict__:
        return None
    return markings_from(record)


_MARKINGS_DESCRIPTION = {
    m.Tip: "This tip's handling caveat when it is one that travels with the record "
    "(LAW_ENFORCEMENT_SENSITIVE; OWNER_ONLY for the owning agency); empty for NONE.",
    m.Subject: "The handling caveats of the tips naming this person that you may see (for an "
    "investigator, the tips where they are a suspect): they travel with the person.",
    m.Identifier: "The handling caveats of the tips you may see that this identifier was seen "
    "in or that name a person holding it: they travel with the identifier.",
}


def handling_markings_field(model: type[Model]) -> Any:
    """The ``handlingMarkings`` field of the Tip, Subject or Identifier type: the caveats that
    travel with the record (``permissions.markings``), fetched for a whole list at once."""

    def handling_markings(root: Any, info: Info) -> list[HandlingCaveatEnum]:  # type: ignore[valid-type]
        marks = markings_from(root)
        if marks is None:  # fetched without the optimizer: look this one record up
            marks = markings_of(model, [root.pk], info.context.request.user).get(root.pk, [])
        return [HandlingCaveatEnum(caveat) for caveat in marks]  # type: ignore[misc]

    def prefetch(build: Callable[[Any], Any]) -> Callable[[Info], Any]:
        return lambda info: build(info.context.request.user)

    return strawberry_django.field(
        resolver=handling_markings,
        only=["handling_caveat"] if model is m.Tip else [],
        prefetch_related=[prefetch(build) for build in marking_prefetch_builders(model)],
        description=_MARKINGS_DESCRIPTION[model]
        + " The response's extensions.handlingMarkings (investigators) gives each one's "
        "handling rule.",
    )
